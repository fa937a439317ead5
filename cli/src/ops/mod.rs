//! Operating elector: Prometheus metrics, health (does restarting help?),
//! readiness (can it work yet?) and the HTTP endpoint serving them (the
//! endpoint and readiness from `elector-ops`, shared with
//! `elector statestore`; the rest is what `campaign` and `run` report).
//!
//! [`Monitor`] holds the three for a process; [`Monitor::candidate`] and
//! [`Monitor::module`] register what one replica reports, and
//! [`serve`] with [`Monitor::endpoints`] (or any other [`Endpoints`])
//! serves `/metrics`, `/healthz` and `/readyz`.

mod candidate;
mod crash_loop;
mod health;
mod metrics;
mod module;
mod store;

pub use candidate::CandidateMonitor;
pub use health::Health;
pub use metrics::{CandidateMetrics, Metrics, ModuleMetrics, ReplicaLabels, StoreOperation};
pub use module::ModuleMonitor;
pub use store::{InstrumentedStore, instrumented};
// The endpoint itself, shared with `elector statestore`.
pub use elector_ops::{Check, Endpoints, Exposition, Readiness, register_build_info, serve};

use std::sync::Arc;
use std::time::Duration;

/// A process's metrics, health and readiness. Clones share them.
#[derive(Clone, Default)]
pub struct Monitor {
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub readiness: Arc<Readiness>,
}

impl Monitor {
    /// `request_timeout` bounds a state-store request (the latency buckets
    /// reach past it).
    pub fn new(request_timeout: Duration) -> Self {
        Monitor {
            metrics: Arc::new(Metrics::new(request_timeout)),
            health: Arc::default(),
            readiness: Arc::default(),
        }
    }

    /// Registers a candidate (its series at 0, its health); registering
    /// the same one again returns a handle to the same state.
    pub fn candidate(&self, labels: &ReplicaLabels, term: Duration) -> CandidateMonitor {
        CandidateMonitor::new(labels.clone(), term, self)
    }

    /// Registers a replica's module (its series at 0, its crash loops, its
    /// readiness); again, the same state.
    pub fn module(&self, labels: &ReplicaLabels) -> ModuleMonitor {
        ModuleMonitor::new(labels.clone(), self)
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            metrics: self.metrics.clone(),
            health: self.health.clone(),
            readiness: self.readiness.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::ReplicaLabels;

    /// Replica `r1` of position `job`: the one the unit tests register.
    pub fn labels() -> ReplicaLabels {
        ReplicaLabels {
            position: "job".into(),
            replica: "r1".into(),
        }
    }
}
