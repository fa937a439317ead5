//! Health: whether restarting this process could help. `/healthz` fails
//! (and a liveness probe restarts the process) only for what a restart can
//! cure or must at least make visible:
//!
//! - renewals stall: a leader has not renewed for longer than its term, or
//!   its lease ran out without a renewal and the store has not answered one
//!   of its campaign attempts since (as client-go's healthz adaptor, except
//!   that a replica the store answers again, now merely waiting while
//!   another leads, is healthy again instead of restarted for nothing);
//! - its elector sandbox stopped, so it can never campaign again;
//! - its module crash-loops (`crash_loop.rs`), an overrun CPU budget being
//!   one way to crash.
//!
//! Not leading, waiting for a busy position, or a store that answers slowly
//! are all healthy.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ReplicaLabels;
use super::crash_loop::RestartWindow;
use elector_host::bindings::LostReason;
use elector_host::module::CrashCause;

#[derive(Default)]
pub struct Health {
    candidates: Mutex<HashMap<ReplicaLabels, Candidate>>,
    modules: Mutex<HashMap<ReplicaLabels, RestartWindow>>,
}

struct Candidate {
    term: Duration,
    /// The last election or renewal, while leading.
    leading_since_renewal: Option<Instant>,
    /// Its last lease ran out without a renewal (or its link went silent),
    /// and the store has not answered it since: why.
    stalled: Option<LostReason>,
    /// Its sandbox is gone.
    stopped: bool,
}

impl Health {
    /// Starts judging a candidate; registering it again changes nothing.
    pub fn register_candidate(&self, labels: &ReplicaLabels, term: Duration) {
        self.candidates
            .lock()
            .unwrap()
            .entry(labels.clone())
            .or_insert(Candidate {
                term,
                leading_since_renewal: None,
                stalled: None,
                stopped: false,
            });
    }

    /// Starts judging a replica's module; registering it again changes
    /// nothing.
    pub fn register_module(&self, labels: &ReplicaLabels) {
        self.modules
            .lock()
            .unwrap()
            .entry(labels.clone())
            .or_default();
    }

    fn with_candidate(&self, labels: &ReplicaLabels, change: impl FnOnce(&mut Candidate)) {
        if let Some(candidate) = self.candidates.lock().unwrap().get_mut(labels) {
            change(candidate);
        }
    }

    /// Elected or renewed.
    pub fn renewed(&self, labels: &ReplicaLabels) {
        self.with_candidate(labels, |candidate| {
            candidate.leading_since_renewal = Some(Instant::now());
            candidate.stalled = None;
        });
    }

    pub fn lost(&self, labels: &ReplicaLabels, reason: LostReason) {
        self.with_candidate(labels, |candidate| {
            candidate.leading_since_renewal = None;
            candidate.stalled = matches!(reason, LostReason::LeaseExpired | LostReason::LinkSilent)
                .then_some(reason);
        });
    }

    /// The store answered one of the candidate's campaign attempts (won or
    /// lost): whatever stalled its renewals has passed.
    pub fn store_answered(&self, labels: &ReplicaLabels) {
        self.with_candidate(labels, |candidate| candidate.stalled = None);
    }

    /// The candidate's sandbox stopped (or the replica shut down).
    pub fn candidate_stopped(&self, labels: &ReplicaLabels) {
        self.with_candidate(labels, |candidate| {
            candidate.leading_since_renewal = None;
            candidate.stopped = true;
        });
    }

    pub fn module_restarted(&self, labels: &ReplicaLabels, cause: CrashCause) {
        if let Some(window) = self.modules.lock().unwrap().get_mut(labels) {
            window.restarted(Instant::now(), cause);
        }
    }

    fn candidate_problems(&self, now: Instant) -> Vec<String> {
        let candidates = self.candidates.lock().unwrap();
        candidates
            .iter()
            .filter_map(|(labels, candidate)| {
                if candidate.stopped {
                    return Some(format!("{labels}: its elector sandbox stopped"));
                }
                match candidate.stalled {
                    Some(LostReason::LinkSilent) => {
                        return Some(format!(
                            "{labels}: its link to the broker went silent, so it stepped down \
                             before its Will could release the position, and the store has not \
                             answered it since"
                        ));
                    }
                    Some(_) => {
                        return Some(format!(
                            "{labels}: its lease ran out because renewals stalled, and the \
                             store has not answered it since"
                        ));
                    }
                    None => {}
                }
                let since = now.duration_since(candidate.leading_since_renewal?);
                (since > candidate.term).then(|| {
                    format!(
                        "{labels}: leads but has not renewed for {} ms (term {} ms)",
                        since.as_millis(),
                        candidate.term.as_millis()
                    )
                })
            })
            .collect()
    }

    fn module_problems(&self, now: Instant) -> Vec<String> {
        let modules = self.modules.lock().unwrap();
        modules
            .iter()
            .filter_map(|(labels, window)| Some(format!("{labels}: {}", window.looping(now)?)))
            .collect()
    }
}

impl super::Check for Health {
    fn check(&self) -> Result<(), Vec<String>> {
        let now = Instant::now();
        let mut problems = self.candidate_problems(now);
        problems.extend(self.module_problems(now));
        problems.sort();
        elector_ops::verdict(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Check;
    use crate::ops::tests::labels;

    fn problem(health: &Health) -> String {
        health.check().unwrap_err().join("; ")
    }

    #[test]
    fn a_leader_that_stops_renewing_becomes_unhealthy() {
        let health = Health::default();
        health.register_candidate(&labels(), Duration::from_millis(30));
        assert!(health.check().is_ok(), "not leading yet is healthy");
        health.renewed(&labels());
        assert!(health.check().is_ok());
        std::thread::sleep(Duration::from_millis(40));
        assert!(problem(&health).contains("has not renewed"));
        health.lost(&labels(), LostReason::LeaseExpired);
        assert!(problem(&health).contains("stalled"));
        health.renewed(&labels());
        assert!(health.check().is_ok(), "elected again");
        health.lost(&labels(), LostReason::Resigned);
        assert!(health.check().is_ok(), "resigning is healthy");
    }

    #[test]
    fn a_stall_ends_when_the_store_answers_a_campaign_again() {
        let health = Health::default();
        health.register_candidate(&labels(), Duration::from_secs(10));
        health.renewed(&labels());
        health.lost(&labels(), LostReason::LeaseExpired);
        assert!(problem(&health).starts_with("r1 on job: its lease ran out"));
        // Registering again (as `elector run` does) keeps what is known.
        health.register_candidate(&labels(), Duration::from_secs(10));
        assert!(health.check().is_err());
        // Another replica leads now; this one's attempt is answered.
        health.store_answered(&labels());
        assert!(health.check().is_ok());
    }

    #[test]
    fn a_stopped_candidate_is_unhealthy() {
        let health = Health::default();
        health.register_candidate(&labels(), Duration::from_secs(10));
        health.candidate_stopped(&labels());
        assert_eq!(problem(&health), "r1 on job: its elector sandbox stopped");
    }

    #[test]
    fn a_crash_looping_module_is_unhealthy() {
        let health = Health::default();
        health.register_module(&labels());
        health.module_restarted(&labels(), CrashCause::Trapped);
        health.module_restarted(&labels(), CrashCause::Trapped);
        assert!(health.check().is_ok(), "two restarts are not a loop");
        health.module_restarted(&labels(), CrashCause::OverranBudget);
        let problem = problem(&health);
        assert!(
            problem.starts_with("r1 on job: module crash-looping: 3 restarts"),
            "{problem}"
        );
        assert!(problem.ends_with("overran its CPU budget"), "{problem}");
    }
}
