//! Release on disconnect: a candidate whose connection carries a Will that
//! deletes its position when the broker loses the connection. Each
//! scenario opens one window the release guard must close, and runs again
//! with `ignore_silent_link` to show the window is real.
//!
//! The Will Delay Interval is 1 s, so the guest trusts the link for 0.9 s
//! after the newest confirmed send; probes go out every 200 ms from 0 s.

use core::time::Duration;

use elector_guest::sabotage::Sabotage;
use elector_guest::{LostReason, NeverCancel, StateStore};
use elector_sim::drive_until;
use elector_sim::driver::first_of;

use super::*;

const DELAY: Duration = Duration::from_secs(1);
const LIFETIME: Duration = Duration::from_secs(3);

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// When `log` first reported a loss, and why.
fn first_loss(log: &EventLog) -> Option<(Duration, LostReason)> {
    log.timed().into_iter().find_map(|(at, event)| match event {
        CandidateEvent::LeadershipLost(reason) => Some((at, reason)),
        _ => None,
    })
}

/// `a` leads with a 10 s term; at 2.1 s the broker drops its connection
/// without `a` noticing, and publishes the Will at 3.1 s. `b` campaigns
/// throughout. Returns `a`'s first loss and when `b` was elected.
fn silent_link(sabotage: Sabotage) -> (Option<(Duration, LostReason)>, Duration) {
    let sim = Sim::new();
    let (mut a, a_log, link) = sim.candidate_with_will(options("p", "a"), DELAY, LIFETIME);
    let (b, b_log) = sim.candidate("p", "b");
    a.sabotage(sabotage);
    let leader = task({
        let sim = sim.clone();
        let probes = sim.probe(&link);
        first_of(
            async move {
                assert!(a.try_campaign(10_000).await.unwrap().is_leader);
                drive_until(&mut a, &sim, ms(2_100)).await;
                sim.drop_connection(&link);
                drive_until(&mut a, &sim, ms(6_000)).await;
            },
            probes,
        )
    });
    let (rival, _) = campaign_until_elected(&sim, b, 10_000);
    sim.run(vec![leader, rival], LIMIT);
    (first_loss(&a_log), first(&b_log, "elected").unwrap())
}

#[test]
fn a_leader_over_a_silent_link_steps_down_before_its_will_can_fire() {
    let (loss, b_elected) = silent_link(Sabotage::default());
    // Trusted for 0.9 s from the last probe's send (2.0 s); the Will is
    // published at 3.1 s and lands at once.
    assert_eq!(loss, Some((ms(2_900), LostReason::LinkSilent)));
    assert_eq!(
        b_elected,
        ms(3_100),
        "nobody is elected before the Will lands"
    );
}

#[test]
fn ignoring_the_silent_link_shows_two_leaders() {
    let sabotage = Sabotage {
        ignore_silent_link: true,
        ..Sabotage::default()
    };
    let (loss, b_elected) = silent_link(sabotage);
    assert!(
        loss.is_none_or(|(at, _)| at > b_elected),
        "a lost at {loss:?}, b elected at {b_elected:?}"
    );
}

#[test]
fn a_blip_shorter_than_the_delay_less_the_margin_keeps_leadership() {
    let sim = Sim::new();
    let (mut a, log, link) = sim.candidate_with_will(options("p", "a"), DELAY, LIFETIME);
    run(&sim, {
        let sim = sim.clone();
        let probes = sim.probe(&link);
        first_of(
            async move {
                assert!(a.try_campaign(10_000).await.unwrap().is_leader);
                drive_until(&mut a, &sim, ms(2_100)).await;
                // Messages vanish both ways for 0.4 s and neither end
                // notices; probes come back again before the trust (2.9 s)
                // runs out.
                sim.blackhole(&link);
                drive_until(&mut a, &sim, ms(2_500)).await;
                sim.reconnect(&link);
                drive_until(&mut a, &sim, ms(6_000)).await;
                assert!(a.is_leader());
                let held = sim.store().get(b"p").await.unwrap().unwrap();
                assert_eq!(held.value, b"a");
            },
            probes,
        )
    });
    assert_eq!(transitions(&log), ["elected"]);
}

/// `a` leads; both ends lose its connection at 2.1 s, which ends its lease
/// at once; it reconnects at 3.5 s, and the Will (published at 3.1 s) may
/// be on its way: it takes 2.5 s to land. With `second_loss`,
/// the connection drops again at 4.0 s and comes back at 5.5 s, which
/// lets out a second Will (published at 5.0 s, landing at 7.5 s). `a`
/// campaigns from 3.5 s; returns its first loss, when its campaign
/// returned (leading) and whether it still leads, held by the store, at
/// 10 s.
fn campaign_after_a_late_reconnect(
    sabotage: Sabotage,
    second_loss: bool,
) -> (Option<(Duration, LostReason)>, Duration, bool) {
    let sim = Sim::new();
    let (mut a, log, link) = sim.candidate_with_will(options("p", "a"), DELAY, LIFETIME);
    a.sabotage(sabotage);
    sim.set_will_transit(ms(2_500));
    let held_at_end = shared(false);
    let leads_from = shared(Duration::ZERO);
    let leader = task({
        let leads_from = leads_from.clone();
        let sim = sim.clone();
        let probes = sim.probe(&link);
        let link = link.clone();
        let held_at_end = held_at_end.clone();
        first_of(
            async move {
                assert!(a.try_campaign(10_000).await.unwrap().is_leader);
                drive_until(&mut a, &sim, ms(2_100)).await;
                sim.disconnect(&link);
                drive_until(&mut a, &sim, ms(3_500)).await;
                sim.reconnect(&link);
                a.campaign(10_000, None, None::<&NeverCancel>)
                    .await
                    .unwrap();
                *leads_from.borrow_mut() = sim.elapsed();
                drive_until(&mut a, &sim, ms(10_000)).await;
                *held_at_end.borrow_mut() = a.is_leader()
                    && sim
                        .store()
                        .get(b"p")
                        .await
                        .unwrap()
                        .is_some_and(|v| v.value == b"a");
            },
            probes,
        )
    });
    let mut tasks = vec![leader];
    if second_loss {
        tasks.push(after(&sim, ms(4_000), {
            let link = link.clone();
            move |sim| sim.disconnect(&link)
        }));
        tasks.push(after(&sim, ms(5_500), move |sim| sim.reconnect(&link)));
    }
    sim.run(tasks, LIMIT);
    let leads_from = *leads_from.borrow();
    (first_loss(&log), leads_from, *held_at_end.borrow())
}

/// `a` steps down at the visible drop, waits out every Will that may
/// still land, then wins and keeps its hold.
fn waits_out_the_will(second_loss: bool, elected_at: Duration) {
    let (loss, elected, held) = campaign_after_a_late_reconnect(Sabotage::default(), second_loss);
    assert_eq!(loss, Some((ms(2_100), LostReason::LinkSilent)));
    assert_eq!(elected, elected_at);
    assert!(held);
}

#[test]
fn after_a_reconnect_that_may_have_fired_the_will_a_campaign_waits_until_it_cannot_land() {
    // The Will may land until 3.5 s + 3 s.
    waits_out_the_will(false, ms(6_500));
}

#[test]
fn a_reconnect_during_the_wait_extends_it() {
    // The second reconnect (5.5 s) may have let out a second Will: it may
    // land until 8.5 s.
    waits_out_the_will(true, ms(8_500));
}

#[test]
fn not_waiting_for_the_will_lets_it_delete_the_new_hold() {
    let sabotage = Sabotage {
        ignore_silent_link: true,
        ..Sabotage::default()
    };
    for second_loss in [false, true] {
        let (_, elected, held) = campaign_after_a_late_reconnect(sabotage, second_loss);
        // It believes it leads at once, and the Will that lands at 5.6 s
        // deletes the hold.
        assert_eq!(elected, ms(3_500), "second loss {second_loss}");
        assert!(!held, "second loss {second_loss}");
    }
}
