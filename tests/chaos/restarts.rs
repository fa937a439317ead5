//! The durable `elector statestore` killed with `kill -9` and started again
//! in the same data directory, cycle after cycle, while the fenced-log
//! replicas write and three `elector campaign` candidates renew (and now
//! and then one of them is killed too, so leadership moves). The log must
//! stay whole and in token order with nothing acknowledged lost
//! (`audit.rs`), and no two candidates' leases may overlap: each
//! candidate's leadership runs from the `elected` line to its `lost` line
//! or the end of the last lease it printed (`lease_until_ms`), whichever
//! comes first.
//!
//! `ELECTOR_RESTART_CYCLES=N` runs N cycles (20 by default);
//! `ELECTOR_CHAOS_SEED=S` replays.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::*;

pub(super) const CANDIDATES: [&str; 3] = ["a", "b", "c"];
const TERM: &str = "2s";

/// One candidate's leadership: from its `elected` line (read at `since`,
/// ms since the epoch) until `until`.
#[derive(Clone, Debug)]
struct Leadership {
    candidate: String,
    since: u64,
    until: u64,
}

/// Every candidate's leaderships, from the lines it printed.
#[derive(Default)]
pub(super) struct Leaderships {
    /// Open ones, by candidate.
    open: BTreeMap<String, Leadership>,
    closed: Vec<Leadership>,
    pub(super) elections: u64,
}

fn ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

impl Leaderships {
    /// Takes in every line the candidates printed since the last call.
    pub(super) fn collect(&mut self, candidates: &[Elector]) {
        for candidate in candidates {
            while let Some(read) = candidate.next_read(Duration::ZERO) {
                let Ok(line) = serde_json::from_str::<Value>(&read.text) else {
                    continue;
                };
                self.take(&candidate.label, &line, ms(read.at));
            }
        }
    }

    fn take(&mut self, candidate: &str, line: &Value, read_at: u64) {
        let lease_until = line["lease_until_ms"].as_u64();
        match line["event"].as_str() {
            Some("elected") => {
                self.elections += 1;
                self.close(candidate, read_at);
                self.open.insert(
                    candidate.to_owned(),
                    Leadership {
                        candidate: candidate.to_owned(),
                        since: read_at,
                        until: lease_until.unwrap_or(read_at),
                    },
                );
            }
            Some("renewed") => {
                if let (Some(open), Some(until)) = (self.open.get_mut(candidate), lease_until) {
                    open.until = until;
                }
            }
            Some("lost" | "resigned") => self.close(candidate, read_at),
            _ => {}
        }
    }

    fn close(&mut self, candidate: &str, at: u64) {
        if let Some(mut open) = self.open.remove(candidate) {
            open.until = open.until.min(at);
            self.closed.push(open);
        }
    }

    /// A candidate killed with `kill -9` leads no longer: a dead process
    /// cannot act (and its Will may release its position at once).
    pub(super) fn killed(&mut self, candidate: &str) {
        self.close(candidate, ms(SystemTime::now()));
    }

    /// Every pair of leaderships of two candidates that overlap.
    pub(super) fn overlaps(&self) -> Vec<String> {
        let mut all: Vec<&Leadership> = self.closed.iter().chain(self.open.values()).collect();
        all.sort_by_key(|l| l.since);
        let mut found = Vec::new();
        for (i, earlier) in all.iter().enumerate() {
            for later in all[i + 1..].iter().take_while(|l| l.since < earlier.until) {
                if later.candidate != earlier.candidate {
                    found.push(format!("{earlier:?} and {later:?}"));
                }
            }
        }
        found
    }
}

/// The end of a run: the rest of the log read and every entry read again
/// (none may differ), and no two candidates' leaderships overlapping.
/// Returns what was seen, for the run's summary line.
pub(super) async fn judge(
    store: &MqttStore,
    audit: &mut LogAudit,
    leaderships: &mut Leaderships,
    candidates: &[Elector],
    seed: u64,
) -> String {
    checked(catch_up(store, audit).await, seed);
    checked(reread_all(store, audit).await, seed);
    leaderships.collect(candidates);
    let overlaps = leaderships.overlaps();
    assert!(
        overlaps.is_empty(),
        "two leaders (seed {seed}): {overlaps:#?}"
    );
    format!(
        "log: {} entries, {} hand-overs, {} tokens; candidates: {} elections, no overlapping \
         leaderships",
        audit.written(),
        audit.hand_overs(),
        audit.tokens(),
        leaderships.elections,
    )
}

/// A candidate of each name in [`CANDIDATES`] campaigning for `job`.
pub(super) fn campaigners(broker: &Broker, term: &str) -> Vec<Elector> {
    CANDIDATES
        .iter()
        .map(|name| Elector::campaign(broker, "job", name, term))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kill_9_restarts_of_the_durable_service_lose_nothing_and_grant_once() {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let cycles = env_u64("ELECTOR_RESTART_CYCLES", 20);
    let seed = env_u64("ELECTOR_CHAOS_SEED", 0xE1EC7);
    let mut rng = Rng(seed);
    let broker = Broker::start();
    let data = tempfile::tempdir().unwrap();
    let mut service = Some(Service::start_in(&broker, data.path()));
    let replicas = Replicas(
        (1..=REPLICAS)
            .map(|i| Some(spawn_replica(&format!("r{i}"), broker.port)))
            .collect(),
    );
    let mut candidates = campaigners(&broker, TERM);
    let store = connect(broker.port, Duration::from_secs(2)).await;
    log_started(&store, seed).await;

    let mut audit = LogAudit::default();
    let mut leaderships = Leaderships::default();
    let mut candidates_killed = 0;
    for _ in 0..cycles {
        if let Some(old) = service.take() {
            old.signal("KILL");
        }
        service = Some(tokio::task::block_in_place(|| {
            Service::start_in(&broker, data.path())
        }));
        if rng.below(3) == 0 {
            leaderships.collect(&candidates);
            let victim = rng.below(CANDIDATES.len() as u64) as usize;
            candidates[victim].kill();
            leaderships.killed(CANDIDATES[victim]);
            candidates[victim] = Elector::campaign(&broker, "job", CANDIDATES[victim], TERM);
            candidates_killed += 1;
        }
        tokio::time::sleep(Duration::from_millis(400 + rng.below(800))).await;
        checked(catch_up(&store, &mut audit).await, seed);
        leaderships.collect(&candidates);
    }

    // The log grows again, and reads the same from end to end.
    let before = checked(counter(&store).await, seed);
    checked(
        counter_passes(&store, before + 10, Duration::from_secs(20))
            .await
            .map_err(|e| format!("no leader writes after the restarts: {e}")),
        seed,
    );
    let mut world_replicas = replicas;
    for child in world_replicas.0.iter_mut().flatten() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }
    let summary = judge(&store, &mut audit, &mut leaderships, &candidates, seed).await;
    eprintln!(
        "restarts (seed {seed}): {cycles} kill -9 restarts of the service, {candidates_killed} \
         candidates killed; {summary}"
    );
    assert!(
        leaderships.elections > 1,
        "leadership never moved: the overlap check had nothing to judge"
    );
}
