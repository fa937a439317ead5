//! Reports one replica's module to its metrics, health and readiness: a
//! replica is ready once its module is instantiated, and not while it
//! waits to restart one that crashed.

use std::sync::Arc;

use super::metrics::ModuleMetrics;
use super::{Health, Readiness, ReplicaLabels};
use elector_host::module::{Crash, CrashCause};

const NOT_YET: &str = "module not instantiated yet";

pub struct ModuleMonitor {
    labels: ReplicaLabels,
    metrics: ModuleMetrics,
    health: Arc<Health>,
    readiness: Arc<Readiness>,
}

impl ModuleMonitor {
    pub(super) fn new(labels: ReplicaLabels, monitor: &super::Monitor) -> Self {
        monitor.health.register_module(&labels);
        monitor.readiness.require(&labels.to_string(), NOT_YET);
        ModuleMonitor {
            metrics: monitor.metrics.module(&labels),
            labels,
            health: monitor.health.clone(),
            readiness: monitor.readiness.clone(),
        }
    }

    /// A module instance is up.
    pub fn started(&self) {
        self.readiness.set(&self.labels.to_string(), Ok(()));
    }

    /// The module instance crashed and will be restarted.
    pub fn crashed(&self, crash: &Crash) {
        self.metrics.restarts.inc();
        if crash.cause == CrashCause::OverranBudget {
            self.metrics.budget_overruns.inc();
        }
        self.health.module_restarted(&self.labels, crash.cause);
        self.readiness.set(
            &self.labels.to_string(),
            Err("module restarting after a crash".into()),
        );
    }

    /// A hook returned an error (the instance goes on).
    pub fn hook_failed(&self) {
        self.metrics.hook_errors.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::tests::labels;
    use crate::ops::{Check, Monitor};

    #[test]
    fn ready_once_started_and_not_while_restarting() {
        let monitor = Monitor::default();
        let labels = labels();
        let module = monitor.module(&labels);
        assert_eq!(
            monitor.readiness.check().unwrap_err(),
            ["r1 on job: module not instantiated yet"]
        );
        module.started();
        assert!(monitor.readiness.check().is_ok());
        module.crashed(&Crash {
            cause: CrashCause::OverranBudget,
            detail: "spun".into(),
        });
        assert_eq!(
            monitor.readiness.check().unwrap_err(),
            ["r1 on job: module restarting after a crash"]
        );
        let metrics = monitor.metrics.module(&labels);
        assert_eq!(metrics.restarts.get(), 1);
        assert_eq!(metrics.budget_overruns.get(), 1);
        module.started();
        assert!(monitor.readiness.check().is_ok());
    }
}
