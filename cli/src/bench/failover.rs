//! Failover after resign: from the moment the leader starts to resign to
//! the moment the next candidate's blocked campaign returns elected.
//!
//! Over MQTT a failover needs two request round trips at least (the
//! release reaches the store and its notification a waiter; the waiter's
//! write and its answer), so it is also reported as a multiple of the
//! request round trip measured in the same run: that multiple is what
//! elector adds, whatever the broker and the machine cost.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::{Goal, Row, Summary, Target};
use elector_host::client::{ClientOptions, LeaderElectionClient, ResignOptions};
use elector_host::runtime::ElectorRuntime;

/// The pause before each round, so every candidate is back to waiting.
pub const ROUND_REST: Duration = Duration::from_millis(2);

/// One failover measurement: `candidates` contend for a position on
/// `target`, `rounds` times, each leader holding it for `term`.
pub struct FailoverRun<'a> {
    pub target: &'a Target,
    pub runtime: &'a ElectorRuntime,
    pub candidates: usize,
    pub rounds: usize,
    pub term: Duration,
}

/// Measures the failovers; `round_trip` is the request round trip of the
/// same run on the same target, when it was measured.
pub async fn failover_after_resign(
    run: &FailoverRun<'_>,
    round_trip: Option<&Summary>,
) -> anyhow::Result<Row> {
    let &FailoverRun {
        target,
        runtime,
        candidates,
        rounds,
        term,
    } = run;
    let position = format!("bench-failover-{}", rand::random::<u32>());
    let (elected_tx, mut elected) = mpsc::unbounded_channel::<(usize, Instant)>();
    let mut clients = Vec::with_capacity(candidates);
    for index in 0..candidates {
        let store = target.connect().await?;
        let client = LeaderElectionClient::start(
            runtime,
            store,
            ClientOptions::new(&position, format!("c{index}")),
        )
        .await?;
        clients.push(client);
    }
    let campaign = |index: usize, client: LeaderElectionClient| {
        let elected = elected_tx.clone();
        tokio::spawn(async move {
            if client.campaign(term, None).await.is_ok() {
                let _ = elected.send((index, Instant::now()));
            }
        })
    };
    let mut campaigns: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(index, client)| campaign(index, client.clone()))
        .collect();
    let (mut leader, _) = elected.recv().await.context("no first leader")?;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds + 1 {
        // Let every candidate be back to waiting before the next round.
        tokio::time::sleep(ROUND_REST).await;
        let started = Instant::now();
        clients[leader]
            .resign(ResignOptions::default())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (next, at) = tokio::time::timeout(term * 4, elected.recv())
            .await
            .context("nobody took over")?
            .context("campaigns ended")?;
        samples.push(at.saturating_duration_since(started));
        campaigns.push(campaign(leader, clients[leader].clone()));
        leader = next;
    }
    samples.remove(0); // the first round pays for cold paths
    // Cancel the blocked campaigns first: a resignation queued behind one
    // would wait for that candidate to be elected.
    for campaign in campaigns {
        campaign.abort();
    }
    for client in &clients {
        let _ = client.resign(ResignOptions::default()).await;
    }
    let mut row = Row::latency(
        format!("failover after resign, {candidates} candidates"),
        target.name(),
        &samples,
    );
    // The goals are set for MQTT; the embedded store has no network to hide.
    if !target.is_mqtt() {
        return Ok(row);
    }
    if let Some(rtt) = round_trip {
        let s = row.summary();
        let (median, p99) = (s.median_us / rtt.median_us, s.p99_us / rtt.median_us);
        row = row
            .with_figure("rtt_us", rtt.median_us)
            .with_figure("median_over_rtt_x", median)
            .with_figure("p99_over_rtt_x", p99);
    }
    let goal = goal(candidates, row.summary(), round_trip);
    Ok(row.with_goal(goal))
}

/// Up to [`FEW`] candidates a failover is held to a multiple of the round
/// trip (median ≤ 2.5×, p99 ≤ 4× the round trip's median): its floor is two
/// round trips, so this bounds what elector adds on any broker. More
/// candidates are held to 2 ms / 5 ms: a herd of N costs N messages each
/// way, so its figure depends on the machine's cores as much as on the
/// round trip. Without a round trip measured, the absolute goal applies.
fn goal(candidates: usize, failover: &Summary, round_trip: Option<&Summary>) -> Goal {
    match round_trip {
        Some(rtt) if candidates <= FEW => {
            Goal::at_most("median ≤ 2.5× RTT", failover.median_us, 2.5 * rtt.median_us).and(
                Goal::at_most("p99 ≤ 4× RTT", failover.p99_us, 4.0 * rtt.median_us),
            )
        }
        _ => Goal::at_most("median ≤ 2 ms", failover.median_us, 2_000.0).and(Goal::at_most(
            "p99 ≤ 5 ms",
            failover.p99_us,
            5_000.0,
        )),
    }
}

/// The candidate count up to which the goal is relative to the round trip.
const FEW: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(median_us: f64, p99_us: f64) -> Summary {
        Summary {
            median_us,
            p99_us,
            min_us: median_us,
            max_us: p99_us,
            mean_us: median_us,
        }
    }

    #[test]
    fn few_candidates_are_held_to_multiples_of_the_round_trip() {
        let rtt = summary(100.0, 150.0);
        let goal = goal(3, &summary(250.0, 400.0), Some(&rtt));
        assert_eq!(goal.wanted, "median ≤ 2.5× RTT, p99 ≤ 4× RTT");
        assert!(goal.met);
        assert!(!super::goal(3, &summary(251.0, 400.0), Some(&rtt)).met);
        assert!(!super::goal(3, &summary(250.0, 401.0), Some(&rtt)).met);
    }

    #[test]
    fn a_herd_or_a_run_without_a_round_trip_is_held_to_milliseconds() {
        let rtt = summary(100.0, 150.0);
        let herd = goal(50, &summary(1_900.0, 4_900.0), Some(&rtt));
        assert_eq!(herd.wanted, "median ≤ 2 ms, p99 ≤ 5 ms");
        assert!(herd.met, "19× the round trip, but within 2 ms");
        assert!(!goal(50, &summary(2_001.0, 4_900.0), Some(&rtt)).met);
        let unknown = goal(3, &summary(1_900.0, 4_900.0), None);
        assert_eq!(unknown.wanted, "median ≤ 2 ms, p99 ≤ 5 ms");
        assert!(unknown.met);
    }
}
