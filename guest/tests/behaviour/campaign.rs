use core::time::Duration;

use elector_guest::{CampaignResponse, ElectionError, NeverCancel};
use elector_sim::SimCancel;

use super::*;

#[test]
fn three_candidates_contend_and_exactly_one_wins_at_a_time() {
    let sim = Sim::new();
    let winners = shared(Vec::new());
    let mut tasks: Vec<Task> = Vec::new();
    for (mut candidate, _) in candidates(&sim, &["a", "b", "c"]) {
        let winners = winners.clone();
        let sim = sim.clone();
        tasks.push(task(async move {
            let response = candidate
                .campaign(TERM_MS, None, None::<&NeverCancel>)
                .await
                .unwrap();
            assert!(response.is_leader);
            winners
                .borrow_mut()
                .push((candidate.candidate_name().to_owned(), sim.elapsed()));
            // Lead for a while, then hand over.
            sim.sleep(Duration::from_millis(100)).await;
            assert!(candidate.is_leader());
            assert!(candidate.resign(false).await.unwrap().success);
        }));
    }
    sim.run(tasks, LIMIT);
    let winners = winners.borrow();
    assert_eq!(winners.len(), 3, "everyone leads once: {winners:?}");
    // Each hand-over follows a resignation at once: no wait for expiry.
    assert_eq!(winners[0].1, Duration::ZERO);
    assert_eq!(winners[1].1, Duration::from_millis(100));
    assert_eq!(winners[2].1, Duration::from_millis(200));
}

/// When `b`, campaigning, takes over from `a`, which led once and never
/// renewed (the store expires it after one term).
fn takeover_after_expiry(notifications: bool) -> Duration {
    let sim = Sim::new();
    sim.set_notifications(notifications);
    let (mut a, _) = sim.candidate("position", "a");
    let (b, _) = sim.candidate("position", "b");
    let (b_campaigns, elected_at) = campaign_until_elected(&sim, b, TERM_MS);
    let tasks: Vec<Task> = vec![
        task(async move {
            assert!(a.try_campaign(TERM_MS).await.unwrap().is_leader);
        }),
        b_campaigns,
    ];
    sim.run(tasks, LIMIT);
    elected_at.borrow().unwrap()
}

#[test]
fn failover_after_expiry_waits_for_the_term_and_a_grace() {
    let at = takeover_after_expiry(true);
    assert!(at >= TERM, "not before the holder's term ends: {at:?}");
    assert!(
        at <= TERM + Duration::from_millis(15),
        "within the grace: {at:?}"
    );
}

#[test]
fn failover_after_expiry_happens_even_without_notifications() {
    let at = takeover_after_expiry(false);
    // The fallback timer fires at the expected expiry plus a small slack.
    assert!(
        at >= TERM && at <= TERM + Duration::from_millis(200),
        "{at:?}"
    );
}

/// `b` campaigns, with `timeout`, for the position `a` holds for a minute,
/// and is cancelled `cancel_after` (if given; its watch checked first).
/// Returns the simulator, to read the time and the watches left, and `b`'s
/// result.
fn blocked_campaign(
    timeout: Option<Duration>,
    cancel_after: Option<Duration>,
) -> (Sim, Result<CampaignResponse, ElectionError>) {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("position", "a");
    let (mut b, _) = sim.candidate("position", "b");
    let cancel = SimCancel::default();
    let outcome = shared(None);
    let mut tasks: Vec<Task> = vec![
        task(async move {
            assert!(a.try_campaign(60_000).await.unwrap().is_leader);
        }),
        task({
            let cancel = cancel.clone();
            let outcome = outcome.clone();
            async move {
                let result = b.campaign(60_000, timeout, Some(&cancel)).await;
                *outcome.borrow_mut() = Some(result);
            }
        }),
    ];
    if let Some(delay) = cancel_after {
        tasks.push(after(&sim, delay, move |sim| {
            assert_eq!(sim.watch_count(), 1, "the blocked campaign watches");
            cancel.cancel();
        }));
    }
    sim.run(tasks, LIMIT);
    let result = outcome.take().unwrap();
    (sim, result)
}

#[test]
fn cancelling_a_blocked_campaign_returns_cancelled_and_leaves_no_watch() {
    let (sim, result) = blocked_campaign(None, Some(Duration::from_millis(250)));
    assert_eq!(result, Err(ElectionError::Cancelled));
    assert_eq!(
        sim.elapsed(),
        Duration::from_millis(250),
        "returned at once"
    );
    assert_eq!(sim.watch_count(), 0, "no watch left behind");
}

#[test]
fn a_campaign_times_out_and_leaves_no_watch() {
    let (sim, result) = blocked_campaign(Some(Duration::from_millis(300)), None);
    assert_eq!(result, Err(ElectionError::Timeout));
    assert_eq!(sim.elapsed(), Duration::from_millis(300));
    assert_eq!(sim.watch_count(), 0, "no watch left behind");
}

#[test]
fn an_already_cancelled_campaign_does_not_write() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("position", "a");
    let cancel = SimCancel::default();
    cancel.cancel();
    run(&sim, async move {
        assert_eq!(
            a.campaign(TERM_MS, None, Some(&cancel)).await,
            Err(ElectionError::Cancelled)
        );
        assert!(a.current_leader().await.unwrap().is_none());
    });
}

#[test]
fn campaigning_while_leading_renews_at_once_with_a_new_token() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("position", "a");
    run(&sim, async move {
        let first = a
            .campaign(TERM_MS, None, None::<&NeverCancel>)
            .await
            .unwrap();
        let second = a
            .campaign(TERM_MS, None, None::<&NeverCancel>)
            .await
            .unwrap();
        let (t1, t2) = (first.fencing_token.unwrap(), second.fencing_token.unwrap());
        assert!(t2.is_newer_than(&t1));
        assert_eq!(a.current_fencing_token(), Some(t2));
    });
    assert_eq!(transitions(&log), ["elected", "renewed"]);
    assert_eq!(sim.elapsed(), Duration::ZERO);
}
