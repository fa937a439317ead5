//! The metrics elector exports, in the Prometheus/OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::bindings::LostReason;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    pub position: String,
    pub replica: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LostLabels {
    position: String,
    replica: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs to ~3 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_05, 2.0, 16,
    ))
}

pub struct Metrics {
    registry: Registry,
    pub leader: Family<ReplicaLabels, Gauge>,
    pub elections: Family<ReplicaLabels, Counter>,
    pub renewals: Family<ReplicaLabels, Counter>,
    pub renewal_failures: Family<ReplicaLabels, Counter>,
    lost: Family<LostLabels, Counter>,
    pub module_restarts: Family<ReplicaLabels, Counter>,
    pub hook_errors: Family<ReplicaLabels, Counter>,
    pub store_latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("elector");
        let leader = Family::<ReplicaLabels, Gauge>::default();
        registry.register(
            "leader",
            "1 while this replica holds a valid lease on the position",
            leader.clone(),
        );
        let elections = Family::<ReplicaLabels, Counter>::default();
        registry.register(
            "elections",
            "Times this replica was elected",
            elections.clone(),
        );
        let renewals = Family::<ReplicaLabels, Counter>::default();
        registry.register(
            "renewals",
            "Successful automatic renewals",
            renewals.clone(),
        );
        let renewal_failures = Family::<ReplicaLabels, Counter>::default();
        registry.register(
            "renewal_failures",
            "Renewal attempts that failed",
            renewal_failures.clone(),
        );
        let lost = Family::<LostLabels, Counter>::default();
        registry.register(
            "leadership_lost",
            "Times leadership ended, by reason",
            lost.clone(),
        );
        let module_restarts = Family::<ReplicaLabels, Counter>::default();
        registry.register(
            "module_restarts",
            "Module instances restarted after a trap",
            module_restarts.clone(),
        );
        let hook_errors = Family::<ReplicaLabels, Counter>::default();
        registry.register(
            "module_hook_errors",
            "Module hooks that returned an error",
            hook_errors.clone(),
        );
        let store_latency =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "state_store_request_seconds",
            "State-store request latency by operation",
            store_latency.clone(),
        );
        Metrics {
            registry,
            leader,
            elections,
            renewals,
            renewal_failures,
            lost,
            module_restarts,
            hook_errors,
            store_latency,
        }
    }
}

impl Metrics {
    pub fn lost(&self, labels: &ReplicaLabels, reason: LostReason) -> Counter {
        let reason = match reason {
            LostReason::Resigned => "resigned",
            LostReason::LeaseExpired => "lease-expired",
            LostReason::TakenOver => "taken-over",
        };
        self.lost
            .get_or_create(&LostLabels {
                position: labels.position.clone(),
                replica: labels.replica.clone(),
                reason: reason.into(),
            })
            .clone()
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_with_labels() {
        let metrics = Metrics::default();
        let labels = ReplicaLabels {
            position: "job".into(),
            replica: "r1".into(),
        };
        metrics.leader.get_or_create(&labels).set(1);
        metrics.lost(&labels, LostReason::TakenOver).inc();
        metrics
            .store_latency
            .get_or_create(&OperationLabels {
                operation: "get".into(),
            })
            .observe(0.0002);
        let text = metrics.encode();
        assert!(
            text.contains(r#"elector_leader{position="job",replica="r1"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"reason="taken-over""#));
        assert!(text.contains("elector_state_store_request_seconds_count{operation=\"get\"} 1"));
    }
}
