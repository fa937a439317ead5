use core::time::Duration;

use elector_guest::{ElectionError, NeverCancel, RenewalOptions, StateStore};
use elector_sim::drive_until;

use super::*;

const RENEWAL: RenewalOptions = RenewalOptions {
    term_ms: 1_000,
    period_ms: 300,
};

fn renewals(log: &EventLog) -> usize {
    transitions(log).iter().filter(|t| **t == "renewed").count()
}

#[test]
fn automatic_renewal_holds_the_position_for_many_terms_while_idle() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    let (mut b, _) = sim.candidate("p", "b");
    let until = Duration::from_secs(12);
    let tasks = vec![
        task({
            let sim = sim.clone();
            async move {
                a.set_automatic_renewal(Some(RENEWAL)).unwrap();
                let first = a
                    .campaign(TERM_MS, None, None::<&NeverCancel>)
                    .await
                    .unwrap();
                drive_until(&mut a, &sim, until).await;
                assert!(a.is_leader());
                let last = a.last_known_campaign_result().unwrap();
                assert!(last.is_leader);
                assert!(
                    last.fencing_token
                        .unwrap()
                        .is_newer_than(&first.fencing_token.unwrap())
                );
            }
        }),
        task(async move {
            let result = b
                .campaign(TERM_MS, Some(Duration::from_secs(11)), None::<&NeverCancel>)
                .await;
            assert_eq!(result, Err(ElectionError::Timeout), "b never gets in");
        }),
    ];
    sim.run(tasks, LIMIT);
    // 12 s / 300 ms = 40 renewals, across 12 terms.
    assert_eq!(renewals(&log), 40);
    assert_eq!(transitions(&log)[0], "elected");
    assert!(!transitions(&log).iter().any(|t| t.starts_with("lost")));
}

/// A renewing leader whose hold someone deletes behind its back at 450 ms,
/// after which `b` takes the position; returns the leader's transitions.
fn hold_removed_behind_its_back(notifications: bool) -> Vec<&'static str> {
    let sim = Sim::new();
    sim.set_notifications(notifications);
    let (mut a, log) = sim.candidate("p", "a");
    let (mut b, _) = sim.candidate("p", "b");
    let until = Duration::from_secs(3);
    let tasks = vec![
        task({
            let sim = sim.clone();
            async move {
                a.set_automatic_renewal(Some(RENEWAL)).unwrap();
                a.try_campaign(TERM_MS).await.unwrap();
                drive_until(&mut a, &sim, until).await;
                assert!(!a.is_leader());
                assert!(!a.last_known_campaign_result().unwrap().is_leader);
            }
        }),
        task({
            let sim = sim.clone();
            async move {
                sim.sleep(Duration::from_millis(450)).await;
                sim.store().del(b"p", None).await.unwrap();
                assert!(b.try_campaign(10_000).await.unwrap().is_leader);
            }
        }),
    ];
    sim.run(tasks, LIMIT);
    transitions(&log)
}

#[test]
fn a_leader_learns_at_once_that_its_hold_was_removed_behind_its_back() {
    // Renewed at 300 ms; the leader's own watch reports the delete at
    // 450 ms (a release, long before the term could have run out), not its
    // next renewal at 600 ms.
    assert_eq!(
        hold_removed_behind_its_back(true),
        ["elected", "renewed", "lost:resigned"]
    );
}

#[test]
fn renewal_stops_at_the_first_attempt_that_finds_another_holder() {
    // No notifications: a learns of b only by renewing. Renewed at 300 ms;
    // the attempt at 600 ms finds b and ends it.
    assert_eq!(
        hold_removed_behind_its_back(false),
        ["elected", "renewed", "lost:taken"]
    );
}

/// A renewing leader through a store outage from `down_at` for `outage`,
/// driven until `until`; returns its event log and whether it leads then.
fn through_an_outage(down_at: Duration, outage: Duration, until: Duration) -> (EventLog, bool) {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    let leads = shared(false);
    let tasks = vec![
        task({
            let sim = sim.clone();
            let leads = leads.clone();
            async move {
                a.set_automatic_renewal(Some(RENEWAL)).unwrap();
                a.try_campaign(TERM_MS).await.unwrap();
                drive_until(&mut a, &sim, until).await;
                *leads.borrow_mut() = a.is_leader();
            }
        }),
        task({
            let sim = sim.clone();
            async move {
                sim.sleep(down_at).await;
                sim.set_store_reachable(false);
                sim.sleep(outage).await;
                sim.set_store_reachable(true);
            }
        }),
    ];
    sim.run(tasks, LIMIT);
    let leads = *leads.borrow();
    (log, leads)
}

#[test]
fn renewal_failures_are_reported_and_retried_within_the_lease() {
    let (log, leads) = through_an_outage(
        Duration::from_millis(250),
        Duration::from_millis(250),
        Duration::from_secs(2),
    );
    assert!(leads);
    let failures = log
        .events()
        .iter()
        .filter(|e| matches!(e, CandidateEvent::RenewalFailed(_)))
        .count();
    assert!(failures >= 2, "each failed attempt is an event: {failures}");
    assert!(
        !transitions(&log).iter().any(|t| t.starts_with("lost")),
        "the retries land before the lease ends"
    );
}

#[test]
fn an_outage_longer_than_the_lease_loses_it_then_renewal_wins_it_back() {
    let (log, leads) = through_an_outage(
        Duration::from_millis(100),
        Duration::from_secs(2),
        Duration::from_secs(4),
    );
    assert!(leads);
    let t = transitions(&log);
    assert_eq!(&t[..3], ["elected", "lost:expired", "elected"], "{t:?}");
}

#[test]
fn resign_stops_renewal_unless_asked_to_keep_it() {
    for keep in [false, true] {
        let sim = Sim::new();
        let (mut a, log) = sim.candidate("p", "a");
        run(&sim, {
            let sim = sim.clone();
            async move {
                a.set_automatic_renewal(Some(RENEWAL)).unwrap();
                a.try_campaign(TERM_MS).await.unwrap();
                a.resign(keep).await.unwrap();
                assert_eq!(a.automatic_renewal().is_some(), keep);
                drive_until(&mut a, &sim, Duration::from_secs(1)).await;
                assert_eq!(a.is_leader(), keep, "keep = {keep}");
            }
        });
        let expected: &[&str] = if keep {
            &["elected", "lost:resigned", "elected", "renewed", "renewed"]
        } else {
            &["elected", "lost:resigned"]
        };
        assert_eq!(transitions(&log), expected, "keep = {keep}");
    }
}

#[test]
fn enabling_renewal_while_leading_schedules_it_from_now() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    run(&sim, {
        let sim = sim.clone();
        async move {
            a.try_campaign(TERM_MS).await.unwrap();
            sim.sleep(Duration::from_millis(500)).await;
            a.set_automatic_renewal(Some(RENEWAL)).unwrap();
            drive_until(&mut a, &sim, Duration::from_millis(1_900)).await;
            assert!(a.is_leader());
            a.set_automatic_renewal(None).unwrap();
            drive_until(&mut a, &sim, Duration::from_secs(4)).await;
            assert!(!a.is_leader());
        }
    });
    // The lease (won at 0, valid to 0.9 s) has 0.4 s left at 0.5 s, so the
    // first renewal comes halfway there, at 0.7 s, not a period later;
    // then 1.0, 1.3, 1.6 and 1.9 s, after which the lease lapses.
    assert_eq!(renewals(&log), 5);
    assert_eq!(transitions(&log).last(), Some(&"lost:expired"));
}
