//! Answers that never came: a campaign whose winning write landed unheard
//! (finding 5) must not stall, and an update whose write landed unheard
//! (finding 6) must not be reported as not applied. Each with the sabotage
//! switch that re-introduces the defect, to show the scenario can fail.

use core::time::Duration;

use elector_guest::sabotage::Sabotage;
use elector_guest::{ElectionError, NeverCancel, RenewalOptions, StateStore};
use elector_sim::{Transport, drive_until};

use super::*;

/// Finding 5: `a`'s winning write lands but its answer is lost. Returns
/// when `a` was elected.
fn own_write_with_a_lost_answer(sabotage: Sabotage) -> Duration {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    a.sabotage(sabotage);
    sim.set_transport(Transport::answers_lost_to(
        "SET",
        b"p",
        Duration::from_millis(500),
    ));
    let tasks = vec![
        task(async move {
            a.campaign(10_000, None, None::<&NeverCancel>)
                .await
                .unwrap();
        }),
        after(&sim, Duration::from_millis(100), |sim| {
            sim.set_transport(Transport::default())
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
    a.sabotage(sabotage);
    let outcome = shared(Ok(()));
    sim.set_transport(Transport::answers_lost_to(
        "SET",
        b"counter",
        Duration::from_millis(200),
    ));
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
    let counter = now(sim.store().get(b"counter")).unwrap();
    assert_eq!(counter.unwrap().value, b"1", "the write did land");
    outcome.replace(Ok(()))
}

#[test]
fn an_update_in_doubt_ends_as_outcome_unknown_when_the_campaign_fails() {
    assert_eq!(
        update_in_doubt_then_a_failed_campaign(Sabotage::default()),
        Err(ElectionError::OutcomeUnknown)
    );
}

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
