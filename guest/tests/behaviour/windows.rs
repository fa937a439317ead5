//! The windows in which a candidate could report itself leader while the
//! store already let someone else in: each reproduced here with the
//! transport faults that open it (answers lost or slow, requests that land
//! late), and shown closed.
//!
//! Where a sabotage switch re-introduces the defect, the same scenario run
//! with it must show the window again: the scenario can fail.

use core::time::Duration;

use elector_guest::sabotage::Sabotage;
use elector_guest::{CandidateOptions, ElectionError, NeverCancel, RenewalOptions, StateStore};
use elector_sim::{Transport, drive_until};

use super::*;

/// Finding 1: a leader holding a 60 s lease sends a 1 s write whose answer
/// is lost. If it landed, the store expires the position after 1 s and
/// lets `b` in; `a` must have stopped calling itself leader by then.
/// Returns when `a` last reported itself leader and when `b` was elected.
fn shorter_write_with_a_lost_answer(sabotage: Sabotage) -> (Duration, Duration) {
    let sim = Sim::new();
    let (mut a, a_log) = sim.candidate("p", "a");
    let (mut b, b_log) = sim.candidate("p", "b");
    a.sabotage(sabotage);
    let a_leads_until = shared(Duration::ZERO);
    let tasks = vec![
        task({
            let sim = sim.clone();
            let a_leads_until = a_leads_until.clone();
            async move {
                assert!(a.try_campaign(60_000).await.unwrap().is_leader);
                sim.set_transport(Transport::answers_lost_to(
                    "SET",
                    b"p",
                    Duration::from_millis(200),
                ));
                assert_eq!(
                    a.try_campaign(1_000).await,
                    Err(ElectionError::Store(elector_guest::StoreError::Timeout))
                );
                sim.set_transport(Transport::default());
                while sim.elapsed() < Duration::from_millis(2_100) {
                    if a.is_leader() {
                        *a_leads_until.borrow_mut() = sim.elapsed();
                    }
                    sim.sleep(Duration::from_millis(50)).await;
                }
            }
        }),
        task(async move {
            b.campaign(60_000, None, None::<&NeverCancel>)
                .await
                .unwrap();
        }),
    ];
    sim.run(tasks, LIMIT);
    assert!(first(&a_log, "elected").is_some());
    let b_elected = first(&b_log, "elected").expect("b is elected once the 1 s write expires");
    let a_leads_until = *a_leads_until.borrow();
    (a_leads_until, b_elected)
}

#[test]
fn a_shorter_write_whose_answer_is_lost_cuts_the_lease() {
    let (a_leads_until, b_elected) = shorter_write_with_a_lost_answer(Sabotage::default());
    assert!(
        a_leads_until < b_elected,
        "a led until {a_leads_until:?}, b elected at {b_elected:?}"
    );
    assert!(a_leads_until <= Duration::from_millis(900));
}

#[test]
fn keeping_the_lease_after_a_lost_shorter_write_shows_two_leaders() {
    let sabotage = Sabotage {
        keep_lease_on_unknown_write: true,
        ..Sabotage::default()
    };
    let (a_leads_until, b_elected) = shorter_write_with_a_lost_answer(sabotage);
    assert!(a_leads_until > b_elected);
}

/// A write in doubt with a short term lands after a later, longer win: the
/// later win counts only the short term until the doubt is over.
#[test]
fn a_win_counts_the_shortest_term_that_may_still_land_after_it() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate_with(CandidateOptions {
        request_lifetime_ms: Some(3_000),
        ..options("p", "a")
    });
    run(&sim, {
        let sim = sim.clone();
        async move {
            // The 1 s write takes 2 s to land; its caller gives up at 0.5 s.
            sim.set_transport(Transport {
                landing_delay: Duration::from_secs(2),
                timeout: Duration::from_millis(500),
                only: Some(("SET", b"p")),
                ..Transport::default()
            });
            assert!(a.try_campaign(1_000).await.is_err());
            sim.set_transport(Transport::default());
            let won = a.try_campaign(60_000).await.unwrap();
            assert!(won.is_leader);
            // Sent at 0.5 s, the 60 s win counts as 1 s: the 1 s write
            // lands at 2 s and the store expires the position at 3 s.
            sim.sleep(Duration::from_millis(1_500)).await;
            assert!(!a.is_leader(), "lease must end by 1.4 s");
            sim.sleep(Duration::from_millis(1_100)).await;
            assert_eq!(sim.store().get(b"p").await.unwrap(), None);
        }
    });
    assert_eq!(transitions(&log), ["elected"]);
}

/// Finding 3: the store releases at once but its answer takes 500 ms.
/// Returns when `a` reported the loss and when `b` was elected.
fn slow_resignation(sabotage: Sabotage) -> (Duration, Duration) {
    let sim = Sim::new();
    let (mut a, a_log) = sim.candidate("p", "a");
    let (mut b, b_log) = sim.candidate("p", "b");
    a.sabotage(sabotage);
    let tasks = vec![
        task({
            let sim = sim.clone();
            async move {
                a.try_campaign(TERM_MS).await.unwrap();
                sim.sleep(Duration::from_millis(100)).await;
                sim.set_transport(Transport {
                    answer_delay: Duration::from_millis(500),
                    timeout: Duration::from_secs(5),
                    only: Some(("VDEL", b"p")),
                    ..Transport::default()
                });
                assert!(a.resign(false).await.unwrap().success);
            }
        }),
        task(async move {
            b.campaign(TERM_MS, None, None::<&NeverCancel>)
                .await
                .unwrap();
        }),
    ];
    sim.run(tasks, LIMIT);
    (
        first(&a_log, "lost").unwrap(),
        first(&b_log, "elected").unwrap(),
    )
}

#[test]
fn a_resignation_ends_the_lease_before_it_is_sent() {
    let (a_lost, b_elected) = slow_resignation(Sabotage::default());
    assert_eq!(a_lost, Duration::from_millis(100));
    assert!(a_lost <= b_elected);
}

#[test]
fn ending_the_lease_after_the_resignation_answer_shows_two_leaders() {
    let sabotage = Sabotage {
        end_lease_after_resign_answer: true,
        ..Sabotage::default()
    };
    let (a_lost, b_elected) = slow_resignation(sabotage);
    assert!(a_lost > b_elected);
}

/// Finding 4: a renewing leader is busy in a 2 s call (a slow read), so
/// its tick comes late, after the lease ran out. Returns its transitions.
fn late_tick(sabotage: Sabotage) -> Vec<&'static str> {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    a.sabotage(sabotage);
    // Without notifications, the leader's own watch cannot tell it of the
    // expiry: only its clock can.
    sim.set_notifications(false);
    run(&sim, {
        let sim = sim.clone();
        async move {
            a.set_automatic_renewal(Some(RenewalOptions {
                term_ms: 1_000,
                period_ms: 300,
            }))
            .unwrap();
            a.try_campaign(TERM_MS).await.unwrap();
            sim.set_transport(Transport {
                answer_delay: Duration::from_secs(2),
                timeout: Duration::from_secs(5),
                only: Some(("GET", b"p")),
                ..Transport::default()
            });
            a.current_leader().await.unwrap();
            sim.set_transport(Transport::default());
            drive_until(&mut a, &sim, Duration::from_millis(2_500)).await;
        }
    });
    transitions(&log)
}

/// No `elected` follows another without a `lost` between.
fn well_formed(transitions: &[&str]) -> bool {
    let mut leading = false;
    for transition in transitions {
        match *transition {
            "elected" if leading => return false,
            "elected" => leading = true,
            "renewed" if !leading => return false,
            t if t.starts_with("lost") => leading = false,
            _ => {}
        }
    }
    true
}

#[test]
fn a_late_tick_reports_the_loss_before_it_renews() {
    let transitions = late_tick(Sabotage::default());
    assert!(well_formed(&transitions), "{transitions:?}");
    assert_eq!(transitions[..3], ["elected", "lost:expired", "elected"]);
}

#[test]
fn renewing_before_expiring_reports_elected_twice() {
    let sabotage = Sabotage {
        renew_before_expiry: true,
        ..Sabotage::default()
    };
    let transitions = late_tick(sabotage);
    assert!(!well_formed(&transitions), "{transitions:?}");
}
