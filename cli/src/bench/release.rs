//! Failover after a crash with release on disconnect: every candidate's
//! connection carries the Will that deletes its hold, the leader's
//! connection is dropped as a crash drops it (no DISCONNECT), and a sample
//! is the time from the crash to the next leader's election.
//!
//! Nobody may be elected before the Will could have acted (the crash plus
//! its delay) unless the dead leader's term had already ended: such a
//! takeover is counted as a violation, never as a fast sample.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::failover::FailoverRun;
use super::{Goal, Row, Violation};
use elector_host::bindings::Hlc;
use elector_host::client::{ClientOptions, LeaderElectionClient};
use elector_host::store::mqtt::MqttStore;
use elector_host::store::mqtt::release::ReleaseOnDisconnect;

/// An elected candidate: its client and connection (severing it is the
/// crash), its fencing token and when (wall clock, µs) it was elected.
type Elected = (LeaderElectionClient, MqttStore, Hlc, u64);

pub async fn failover_after_crash_with_release(
    run: &FailoverRun<'_>,
    delay: Duration,
) -> anyhow::Result<Row> {
    let (elected_tx, mut elected) = mpsc::unbounded_channel::<Elected>();
    let mut pool = Pool {
        run,
        delay,
        position: format!("bench-release-{}", rand::random::<u32>()),
        elected: elected_tx,
        tasks: Vec::new(),
    };
    for _ in 0..run.candidates {
        pool.start_one().await?;
    }
    let patience = run.term * 4 + delay * 4 + Duration::from_secs(5);
    let mut samples = Vec::new();
    let mut early = Vec::new();
    let mut crash: Option<(u64, u64)> = None;
    for _ in 0..=run.rounds {
        let (client, store, token, at_us) = tokio::time::timeout(patience, elected.recv())
            .await
            .context("nobody took over from the crashed leader")?
            .context("every campaign ended")?;
        if let Some((crashed_us, term_end_us)) = crash.take() {
            let allowed_us = (crashed_us + micros(delay)).min(term_end_us);
            if at_us < allowed_us {
                early.push(allowed_us - at_us);
            } else {
                samples.push(Duration::from_micros(at_us.saturating_sub(crashed_us)));
            }
        }
        // Let the survivors be back to waiting, then crash the leader at a
        // random point of a second: brokers that keep Will timers in whole
        // seconds (mosquitto) would otherwise see every crash at the same
        // point of their second, and the run would measure one case only.
        let pause = Duration::from_millis(50 + rand::random::<u64>() % 1_000);
        tokio::time::sleep(pause).await;
        store.sever();
        crash = Some((
            wall_clock_us(),
            (token.wall_clock_ms + millis(run.term)) * 1_000,
        ));
        drop(client);
        pool.start_one().await?;
    }
    for task in pool.tasks {
        task.abort();
    }
    let scenario = format!(
        "failover after crash, release on disconnect (Will delay {} s), {} candidates, term {}",
        delay.as_secs(),
        run.candidates,
        humantime::format_duration(run.term)
    );
    let row = Row::latency(scenario, run.target.name(), &samples);
    let p99_us = row.summary().p99_us;
    let goal_us = micros(delay) as f64 + 50_000.0;
    let mut row = row.with_goal(Goal::at_most("p99 ≤ Will delay + 50 ms", p99_us, goal_us));
    if let Some(worst) = early.iter().max() {
        row = row.with_violation(Violation {
            what: "survivor elected before the Will could act and while the dead leader's term ran"
                .into(),
            count: early.len(),
            worst_us: *worst as f64,
        });
    }
    Ok(row)
}

/// Candidates blocked in `campaign`, each on a connection whose Will
/// releases its own hold.
struct Pool<'a> {
    run: &'a FailoverRun<'a>,
    delay: Duration,
    position: String,
    elected: mpsc::UnboundedSender<Elected>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Pool<'_> {
    async fn start_one(&mut self) -> anyhow::Result<()> {
        let name = format!("c{}", self.tasks.len());
        let release = ReleaseOnDisconnect::new(&self.position, &name, self.delay)?;
        let store = self
            .run
            .target
            .connect_releasing(release)
            .await?
            .context("release on disconnect needs a broker")?;
        let options = ClientOptions::new(&self.position, name);
        let client = LeaderElectionClient::start(
            self.run.runtime,
            std::sync::Arc::new(store.clone()),
            options,
        )
        .await?;
        let (elected, term) = (self.elected.clone(), self.run.term);
        self.tasks.push(tokio::spawn(async move {
            if let Ok(response) = client.campaign(term, None).await
                && let Some(token) = response.fencing_token
            {
                let _ = elected.send((client, store, token, wall_clock_us()));
            }
        }));
        Ok(())
    }
}

fn wall_clock_us() -> u64 {
    micros(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
