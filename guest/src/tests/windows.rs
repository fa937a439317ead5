//! The windows in which a candidate could report itself leader while the
//! store already let someone else in, or in which an election stalled:
//! each reproduced here with the transport faults that open it (answers
//! lost or slow, requests that land late), and shown closed.
//!
//! Where a sabotage switch re-introduces the defect, the same scenario run
//! with it (builds with the `sabotage` feature, as `cargo test --workspace`
//! has) must show the window again: the scenario can fail.

use core::time::Duration;

use super::*;
use crate::sabotage::Sabotage;
use crate::sim::{Transport, drive_until};
use crate::{CandidateOptions, ElectionError, NeverCancel, RenewalOptions, Store};

const MS: Duration = Duration::from_millis(1);

fn with_sabotage(candidate: &mut SimCandidate, sabotage: Sabotage) {
    #[cfg(feature = "sabotage")]
    candidate.sabotage(sabotage);
    #[cfg(not(feature = "sabotage"))]
    let _ = (candidate, sabotage);
}

/// When `log` first reports `wanted`, if ever.
fn first(log: &EventLog, wanted: &str) -> Option<Duration> {
    log.timed().into_iter().find_map(|(at, event)| {
        let name = match event {
            CandidateEvent::Elected(_) => "elected",
            CandidateEvent::LeadershipLost(_) => "lost",
            _ => return None,
        };
        (name == wanted).then_some(at)
    })
}

/// Finding 1: a leader holding a 60 s lease sends a 1 s write whose answer
/// is lost. If it landed, the store expires the position after 1 s and
/// lets `b` in; `a` must have stopped calling itself leader by then.
/// Returns when `a` last reported itself leader and when `b` was elected.
fn shorter_write_with_a_lost_answer(sabotage: Sabotage) -> (Duration, Duration) {
    let sim = Sim::new();
    let (mut a, a_log) = sim.candidate("p", "a");
    let (mut b, b_log) = sim.candidate("p", "b");
    with_sabotage(&mut a, sabotage);
    let a_leads_until = shared(Duration::ZERO);
    let tasks = vec![
        task({
            let sim = sim.clone();
            let a_leads_until = a_leads_until.clone();
            async move {
                assert!(a.try_campaign(60_000).await.unwrap().is_leader);
                sim.set_transport(Transport {
                    answers_lost: true,
                    timeout: Duration::from_millis(200),
                    only: Some(("SET", b"p")),
                    ..Transport::default()
                });
                assert_eq!(
                    a.try_campaign(1_000).await,
                    Err(ElectionError::Store(crate::StoreError::Timeout))
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

#[cfg(feature = "sabotage")]
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
    with_sabotage(&mut a, sabotage);
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

#[cfg(feature = "sabotage")]
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
    with_sabotage(&mut a, sabotage);
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

#[cfg(feature = "sabotage")]
#[test]
fn renewing_before_expiring_reports_elected_twice() {
    let sabotage = Sabotage {
        renew_before_expiry: true,
        ..Sabotage::default()
    };
    let transitions = late_tick(sabotage);
    assert!(!well_formed(&transitions), "{transitions:?}");
}

/// Finding 5: `a`'s winning write lands but its answer is lost. Returns
/// when `a` was elected.
fn own_write_with_a_lost_answer(sabotage: Sabotage) -> Duration {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    with_sabotage(&mut a, sabotage);
    sim.set_transport(Transport {
        answers_lost: true,
        timeout: Duration::from_millis(500),
        only: Some(("SET", b"p")),
        ..Transport::default()
    });
    let tasks = vec![
        task(async move {
            a.campaign(10_000, None, None::<&NeverCancel>)
                .await
                .unwrap();
        }),
        task({
            let sim = sim.clone();
            async move {
                sim.sleep(Duration::from_millis(100)).await;
                sim.set_transport(Transport::default());
            }
        }),
    ];
    sim.run(tasks, LIMIT);
    first(&log, "elected").unwrap()
}

#[test]
fn a_candidate_claims_its_own_value_at_once() {
    // The SET times out at 0.5 s; the notification of its own value is
    // already there, so it tries again at once.
    assert_eq!(
        own_write_with_a_lost_answer(Sabotage::default()),
        Duration::from_millis(500)
    );
}

#[cfg(feature = "sabotage")]
#[test]
fn ignoring_its_own_value_costs_a_whole_term() {
    let sabotage = Sabotage {
        ignore_own_value: true,
        ..Sabotage::default()
    };
    assert!(own_write_with_a_lost_answer(sabotage) > Duration::from_secs(10));
}

/// Finding 6: the update's write lands, its answer is lost, and the
/// campaign after it times out because `b` took the position.
fn update_in_doubt_then_a_failed_campaign(sabotage: Sabotage) -> Result<(), ElectionError> {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("p", "a");
    let (mut b, _) = sim.candidate("p", "b");
    with_sabotage(&mut a, sabotage);
    let outcome = shared(Ok(()));
    sim.set_transport(Transport {
        answers_lost: true,
        timeout: Duration::from_millis(200),
        only: Some(("SET", b"counter")),
        ..Transport::default()
    });
    let tasks = vec![
        task({
            let outcome = outcome.clone();
            async move {
                let mut increment = |current: Option<&[u8]>| {
                    let n: u64 =
                        current.map_or(0, |v| core::str::from_utf8(v).unwrap().parse().unwrap());
                    Some((n + 1).to_string().into_bytes())
                };
                *outcome.borrow_mut() = a
                    .campaign_and_update_value(
                        b"counter",
                        &mut increment,
                        TERM_MS,
                        Some(Duration::from_secs(2)),
                        None::<&NeverCancel>,
                    )
                    .await;
            }
        }),
        task({
            let sim = sim.clone();
            async move {
                // b waits for a's resignation and holds on.
                sim.sleep(Duration::from_millis(10)).await;
                b.set_automatic_renewal(Some(RenewalOptions {
                    term_ms: 1_000,
                    period_ms: 300,
                }))
                .unwrap();
                b.campaign(TERM_MS, None, None::<&NeverCancel>)
                    .await
                    .unwrap();
                drive_until(&mut b, &sim, Duration::from_secs(3)).await;
            }
        }),
    ];
    sim.run(tasks, LIMIT);
    let store = sim.store();
    let mut check = Box::pin(store.get(b"counter"));
    let counter = match check.as_mut().poll(&mut core::task::Context::from_waker(
        core::task::Waker::noop(),
    )) {
        core::task::Poll::Ready(value) => value.unwrap(),
        core::task::Poll::Pending => unreachable!("the store answers at once"),
    };
    assert_eq!(counter.unwrap().value, b"1", "the write did land");
    outcome.replace(Ok(()))
}

use core::future::Future;

#[test]
fn an_update_in_doubt_ends_as_outcome_unknown_when_the_campaign_fails() {
    assert_eq!(
        update_in_doubt_then_a_failed_campaign(Sabotage::default()),
        Err(ElectionError::OutcomeUnknown)
    );
}

#[cfg(feature = "sabotage")]
#[test]
fn forgetting_the_update_in_doubt_invites_a_second_application() {
    let sabotage = Sabotage {
        forget_unconfirmed_update: true,
        ..Sabotage::default()
    };
    assert_eq!(
        update_in_doubt_then_a_failed_campaign(sabotage),
        Err(ElectionError::Timeout)
    );
}

/// A holder that wins `p` for `term_ms`, renews every `period_ms`, and
/// stops (as if hung) at `until`.
fn renewing_holder(sim: &Sim, term_ms: u64, period_ms: u64, until: Duration) -> Task {
    let (mut holder, _) = sim.candidate("p", "holder");
    let sim = sim.clone();
    task(async move {
        holder
            .set_automatic_renewal(Some(RenewalOptions { term_ms, period_ms }))
            .unwrap();
        holder.try_campaign(term_ms).await.unwrap();
        drive_until(&mut holder, &sim, until).await;
    })
}

/// Finding 7: a waiter with a 1 s term next to a holder with a 60 s term
/// that renews every 20 s. Returns the SETs the waiter sent in 100 s.
#[test]
fn a_waiter_learns_the_holders_cadence_instead_of_polling_at_its_own_term() {
    let sim = Sim::new();
    let (mut waiter, _) = sim.candidate("p", "waiter");
    let tasks = vec![
        renewing_holder(&sim, 60_000, 20_000, Duration::from_secs(100)),
        task(async move {
            let result = waiter
                .campaign(1_000, Some(Duration::from_secs(99)), None::<&NeverCancel>)
                .await;
            assert_eq!(result, Err(ElectionError::Timeout));
        }),
    ];
    sim.run(tasks, LIMIT);
    // Holder: 1 win + 5 renewals. Waiter: one attempt per second until it
    // has seen two of the holder's writes (20 s), then none: the holder's
    // renewals arrive before each poll would be due.
    let waiter_sets = sim.sets() - 6;
    assert!(
        waiter_sets <= 22,
        "{waiter_sets} SETs; at its own term: ~96"
    );
}

/// A 60 s waiter sees a 1 s holder's expiry as an expiry once it knows the
/// holder's cadence: it waits a jittered grace, not a herd's zero.
#[test]
fn a_long_term_waiter_tells_a_short_holders_expiry_from_a_release() {
    let sim = Sim::new();
    let (mut waiter, log) = sim.candidate("p", "waiter");
    let tasks = vec![
        // Stops renewing (as if hung) at 2 s.
        renewing_holder(&sim, 1_000, 300, Duration::from_secs(2)),
        task(async move {
            waiter
                .campaign(60_000, None, None::<&NeverCancel>)
                .await
                .unwrap();
        }),
    ];
    sim.run(tasks, LIMIT);
    // Last renewal at 1.8 s, expiry at 2.8 s, then a grace of 1-15 ms.
    let elected = first(&log, "elected").unwrap();
    assert!(elected > Duration::from_millis(2_800), "{elected:?}");
    assert!(elected <= Duration::from_millis(2_815), "{elected:?}");
}

/// Finding 9: the first renewal after a short campaign comes within it.
#[test]
fn the_first_renewal_after_a_shorter_campaign_comes_in_time() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    run(&sim, {
        let sim = sim.clone();
        async move {
            a.set_automatic_renewal(Some(RenewalOptions {
                term_ms: 60_000,
                period_ms: 20_000,
            }))
            .unwrap();
            a.campaign(5_000, None, None::<&NeverCancel>).await.unwrap();
            drive_until(&mut a, &sim, Duration::from_secs(30)).await;
            assert!(a.is_leader());
        }
    });
    let timed = log.timed();
    let renewed_at = timed
        .iter()
        .find(|(_, e)| matches!(e, CandidateEvent::Renewed(_)))
        .map(|(at, _)| *at);
    assert_eq!(renewed_at, Some(Duration::from_millis(1_666)));
    assert_eq!(transitions(&log)[..2], ["elected", "renewed"]);
    assert!(!transitions(&log).iter().any(|t| t.starts_with("lost")));
}

/// Finding 9: a margin of zero would let the lease outlive a store that
/// truncates time to whole milliseconds.
#[test]
fn a_margin_of_zero_still_leaves_a_millisecond() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate_with(CandidateOptions {
        safety_margin_ms: Some(0),
        ..options("p", "a")
    });
    run(&sim, async move {
        a.try_campaign(TERM_MS).await.unwrap();
    });
    let lease = log.events().into_iter().find_map(|e| match e {
        CandidateEvent::Elected(lease) => Some(lease),
        _ => None,
    });
    assert_eq!(lease.unwrap().valid_until.0, (TERM - MS).as_nanos() as u64);
}

/// Finding 9: the last known result stops saying "leader" once the lease
/// ended, by resignation or by expiry.
#[test]
fn the_last_known_result_follows_the_end_of_the_lease() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("p", "a");
    run(&sim, {
        let sim = sim.clone();
        async move {
            a.try_campaign(TERM_MS).await.unwrap();
            assert!(a.last_known_campaign_result().unwrap().is_leader);
            a.resign(false).await.unwrap();
            assert!(!a.last_known_campaign_result().unwrap().is_leader);
            a.try_campaign(TERM_MS).await.unwrap();
            drive_until(&mut a, &sim, Duration::from_secs(2)).await;
            assert!(!a.last_known_campaign_result().unwrap().is_leader);
        }
    });
}
