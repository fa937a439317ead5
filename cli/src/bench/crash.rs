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
//!
//! So a survivor elected *before* that estimate was elected while the dead
//! leader's term still ran: two leaders at one instant, a safety anomaly.
//! Such a takeover is counted and shown as a violation (the scenario
//! fails), never clamped into the latency figures as a perfect 0 µs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::failover::FailoverRun;
use super::{Goal, Row, Target, Violation};
use elector_host::bindings::Hlc;
use elector_host::client::{ClientOptions, LeaderElectionClient};
use elector_host::runtime::ElectorRuntime;

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
    let mut takeovers = Takeovers::default();
    let mut dead_token: Option<Hlc> = None;
    for _ in 0..=run.rounds {
        let (leader, token, at_us) = tokio::time::timeout(patience, elected.recv())
            .await
            .context("nobody took over from the crashed leader")?
            .context("every campaign ended")?;
        if let Some(dead) = dead_token.take() {
            let term_end_us = (dead.wall_clock_ms + millis(term)) * 1_000;
            takeovers.push(takeover(at_us, term_end_us));
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
    let scenario = format!(
        "failover after crash, {} candidates, term {} ms",
        run.candidates,
        millis(term)
    );
    Ok(takeovers.row(scenario, run.target.name()))
}

/// When a survivor was elected, against the end of the dead leader's term.
#[derive(Debug, PartialEq)]
enum Takeover {
    /// After the term ended, by this much: a failover time.
    After(Duration),
    /// Before the term ended, by this much: two leaders at one instant.
    Before(Duration),
}

fn takeover(elected_at_us: u64, term_end_us: u64) -> Takeover {
    match elected_at_us.checked_sub(term_end_us) {
        Some(after) => Takeover::After(Duration::from_micros(after)),
        None => Takeover::Before(Duration::from_micros(term_end_us - elected_at_us)),
    }
}

/// The takeovers of one run, failover times apart from violations.
#[derive(Default)]
struct Takeovers {
    after: Vec<Duration>,
    before: Vec<Duration>,
}

impl Takeovers {
    fn push(&mut self, takeover: Takeover) {
        match takeover {
            Takeover::After(after) => self.after.push(after),
            Takeover::Before(before) => self.before.push(before),
        }
    }

    /// The latency of the takeovers after the term, held to its goal, and
    /// any takeover before it as a violation.
    fn row(&self, scenario: String, store: &str) -> Row {
        let mut row = if self.after.is_empty() {
            Row::figures(scenario, store, Vec::new())
        } else {
            let row = Row::latency(scenario, store, &self.after);
            let p99_us = row.summary().p99_us;
            row.with_goal(Goal::at_most("p99 ≤ term + 20 ms", p99_us, 20_000.0))
        };
        if let Some(worst) = self.before.iter().max() {
            row = row.with_violation(Violation {
                what: "survivor elected before the dead leader's term ended".into(),
                count: self.before.len(),
                worst_us: worst.as_secs_f64() * 1e6,
            });
        }
        row
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The row of a crash run on the embedded store with these takeovers.
    fn row_of(takeovers: impl IntoIterator<Item = Takeover>) -> Row {
        let mut all = Takeovers::default();
        for one in takeovers {
            all.push(one);
        }
        all.row("crash".into(), "embedded")
    }

    #[test]
    fn a_takeover_is_measured_from_the_end_of_the_term_either_way() {
        let ms = Duration::from_millis;
        assert_eq!(takeover(12_000, 10_000), Takeover::After(ms(2)));
        assert_eq!(takeover(10_000, 10_000), Takeover::After(ms(0)));
        assert_eq!(takeover(7_000, 10_000), Takeover::Before(ms(3)));
    }

    #[test]
    fn a_takeover_before_the_term_ended_is_a_violation_not_a_good_number() {
        let row = row_of([
            takeover(15_000, 10_000),
            takeover(7_000, 10_000),
            takeover(9_500, 10_000),
        ]);
        let violation = row.violation.as_ref().expect("a violation");
        assert_eq!(violation.count, 2);
        assert_eq!(violation.worst_us, 3_000.0);
        // Only the takeover after the term is a failover time, and the
        // goal cannot be met while a violation stands.
        assert_eq!(row.latency.as_ref().unwrap().samples, 1);
        assert_eq!(row.summary().min_us, 5_000.0);
        assert!(!row.goal.as_ref().unwrap().met);
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["violation"]["count"], 2);
        assert_eq!(json["violation"]["worst_us"], 3_000.0);
    }

    #[test]
    fn takeovers_after_the_term_only_meet_their_goal_without_a_violation() {
        let row = row_of([takeover(15_000, 10_000)]);
        assert!(row.violation.is_none());
        assert!(row.goal.as_ref().unwrap().met);
        assert!(
            serde_json::to_value(&row)
                .unwrap()
                .get("violation")
                .is_none()
        );
    }

    #[test]
    fn only_violations_still_make_a_row() {
        let row = row_of([takeover(9_000, 10_000)]);
        assert!(row.latency.is_none());
        assert_eq!(row.violation.unwrap().count, 1);
    }
}
