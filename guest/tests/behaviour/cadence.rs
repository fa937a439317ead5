//! Timing against other candidates' cadence and the lease's edges: a
//! waiter that learns a holder's renewal period instead of polling at its
//! own term (finding 7), and the first renewal, the margin and the last
//! known result at the ends of a lease (finding 9).

use core::time::Duration;

use elector_guest::{CandidateOptions, ElectionError, NeverCancel, RenewalOptions};
use elector_sim::drive_until;

use super::*;

const MS: Duration = Duration::from_millis(1);

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
