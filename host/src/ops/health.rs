//! Health, as Kubernetes' client-go leader election judges it: a replica
//! that leads but has not renewed for longer than its term, or whose lease
//! ran out because renewals stalled, is unhealthy; restarting it is better
//! than leaving a leader that cannot keep its lease.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ReplicaLabels;
use crate::bindings::LostReason;

#[derive(Default)]
pub struct Health {
    replicas: Mutex<HashMap<ReplicaLabels, Replica>>,
}

struct Replica {
    term: Duration,
    /// The last election or renewal, while leading.
    leading_since_renewal: Option<Instant>,
    /// Its last lease ran out without a renewal (until elected again).
    stalled: bool,
}

impl Health {
    pub fn register(&self, labels: &ReplicaLabels, term: Duration) {
        self.replicas.lock().unwrap().insert(
            labels.clone(),
            Replica {
                term,
                leading_since_renewal: None,
                stalled: false,
            },
        );
    }

    pub fn forget(&self, labels: &ReplicaLabels) {
        self.replicas.lock().unwrap().remove(labels);
    }

    /// Elected or renewed.
    pub fn renewed(&self, labels: &ReplicaLabels, leading: bool) {
        if let Some(replica) = self.replicas.lock().unwrap().get_mut(labels) {
            replica.leading_since_renewal = leading.then(Instant::now);
            replica.stalled = false;
        }
    }

    pub fn lost(&self, labels: &ReplicaLabels, reason: LostReason) {
        if let Some(replica) = self.replicas.lock().unwrap().get_mut(labels) {
            replica.leading_since_renewal = None;
            replica.stalled = reason == LostReason::LeaseExpired;
        }
    }

    /// `Err` lists what is wrong.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let now = Instant::now();
        let problems: Vec<String> = self
            .replicas
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(labels, replica)| {
                let name = format!("{} on {}", labels.replica, labels.position);
                if replica.stalled {
                    return Some(format!(
                        "{name}: its lease ran out because renewals stalled"
                    ));
                }
                let since = now.duration_since(replica.leading_since_renewal?);
                (since > replica.term).then(|| {
                    format!(
                        "{name}: leads but has not renewed for {} ms",
                        since.as_millis()
                    )
                })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> ReplicaLabels {
        ReplicaLabels {
            position: "job".into(),
            replica: "r1".into(),
        }
    }

    #[test]
    fn a_leader_that_stops_renewing_becomes_unhealthy() {
        let health = Health::default();
        health.register(&labels(), Duration::from_millis(30));
        assert!(health.check().is_ok(), "not leading yet is healthy");
        health.renewed(&labels(), true);
        assert!(health.check().is_ok());
        std::thread::sleep(Duration::from_millis(40));
        assert!(health.check().unwrap_err()[0].contains("has not renewed"));
        health.lost(&labels(), LostReason::LeaseExpired);
        assert!(health.check().unwrap_err()[0].contains("stalled"));
        health.renewed(&labels(), true);
        assert!(health.check().is_ok(), "elected again");
        health.lost(&labels(), LostReason::Resigned);
        assert!(health.check().is_ok(), "resigning is healthy");
    }
}
