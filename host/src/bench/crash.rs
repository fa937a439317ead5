//! Failover after a crash: the leader stops without resigning (its sandbox
//! is dropped, as when its process dies), and the others take over once its
//! term ends in the store.
//!
//! When does the term end? The store expires the key `term` after it
//! applied the winning write, by its own clock, and the fencing token *is*
//! that write's version: its wall-clock milliseconds date the write. So a
//! sample is `new leader elected − (token wall time + term)`, both on this
//! machine's wall clock. The token's milliseconds are truncated and the
//! store's clock is anchored to whole milliseconds, so the true end of the
//! term is up to 2 ms later than this estimate: the samples over-count by
//! at most 2 ms, never under-count.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::failover::FailoverRun;
use super::{Goal, Row, Target};
use crate::bindings::Hlc;
use crate::client::{ClientOptions, LeaderElectionClient};
use crate::runtime::ElectorRuntime;

/// An elected candidate: its client (dropping it is the crash), its
/// fencing token and when (wall clock, µs) its campaign returned.
type Elected = (LeaderElectionClient, Hlc, u64);

pub async fn failover_after_crash(run: &FailoverRun<'_>) -> anyhow::Result<Row> {
    let term = run.term;
    let (elected_tx, mut elected) = mpsc::unbounded_channel::<Elected>();
    let mut pool = Campaigners {
        runtime: run.runtime,
        target: run.target,
        position: format!("bench-crash-{}", rand::random::<u32>()),
        term,
        elected: elected_tx,
        tasks: Vec::new(),
    };
    for _ in 0..run.candidates {
        pool.start_one().await?;
    }
    let patience = term * 4 + Duration::from_secs(5);
    let mut samples = Vec::with_capacity(run.rounds);
    let mut dead_token: Option<Hlc> = None;
    for _ in 0..=run.rounds {
        let (leader, token, at_us) = tokio::time::timeout(patience, elected.recv())
            .await
            .context("nobody took over from the crashed leader")?
            .context("every campaign ended")?;
        if let Some(dead) = dead_token.take() {
            let term_end_us = (dead.wall_clock_ms + millis(term)) * 1_000;
            samples.push(Duration::from_micros(at_us.saturating_sub(term_end_us)));
        }
        // The crash: the leader's sandbox goes away without resigning, and
        // a fresh candidate takes its place among the waiting ones.
        drop(leader);
        dead_token = Some(token);
        pool.start_one().await?;
    }
    for task in pool.tasks {
        task.abort();
    }
    let row = Row::latency(
        format!(
            "failover after crash, {} candidates, term {} ms",
            run.candidates,
            millis(term)
        ),
        run.target.name(),
        &samples,
    );
    let p99_us = row.summary().p99_us;
    Ok(row.with_goal(Goal::at_most("p99 ≤ term + 20 ms", p99_us, 20_000.0)))
}

/// Candidates blocked in `campaign`, each reporting when it is elected.
struct Campaigners<'a> {
    runtime: &'a ElectorRuntime,
    target: &'a Target,
    position: String,
    term: Duration,
    elected: mpsc::UnboundedSender<Elected>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Campaigners<'_> {
    async fn start_one(&mut self) -> anyhow::Result<()> {
        let options = ClientOptions::new(&self.position, format!("c{}", self.tasks.len()));
        let store = self.target.connect().await?;
        let client = LeaderElectionClient::start(self.runtime, store, options).await?;
        let (elected, term) = (self.elected.clone(), self.term);
        self.tasks.push(tokio::spawn(async move {
            if let Ok(response) = client.campaign(term, None).await
                && let Some(token) = response.fencing_token
            {
                let _ = elected.send((client, token, wall_clock_us()));
            }
        }));
        Ok(())
    }
}

fn wall_clock_us() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
