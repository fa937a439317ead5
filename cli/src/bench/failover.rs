//! Failover after resign: from the moment the leader starts to resign to
//! the moment the next candidate's blocked campaign returns elected.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::{Goal, Row, Target};
use elector_host::client::{ClientOptions, LeaderElectionClient, ResignOptions};
use elector_host::runtime::ElectorRuntime;

/// One failover measurement: `candidates` contend for a position on
/// `target`, `rounds` times, each leader holding it for `term`.
pub struct FailoverRun<'a> {
    pub target: &'a Target,
    pub runtime: &'a ElectorRuntime,
    pub candidates: usize,
    pub rounds: usize,
    pub term: Duration,
}

pub async fn failover_after_resign(run: &FailoverRun<'_>) -> anyhow::Result<Row> {
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
        tokio::time::sleep(Duration::from_millis(2)).await;
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
    let row = Row::latency(
        format!("failover after resign, {candidates} candidates"),
        target.name(),
        &samples,
    );
    let s = row.summary();
    let goal = Goal::at_most("median ≤ 2 ms", s.median_us, 2_000.0).and(Goal::at_most(
        "p99 ≤ 5 ms",
        s.p99_us,
        5_000.0,
    ));
    // The goals are set for MQTT; the embedded store has no network to hide.
    Ok(if target.is_mqtt() {
        row.with_goal(goal)
    } else {
        row
    })
}
