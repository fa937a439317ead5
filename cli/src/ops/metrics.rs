//! The metrics elector exports, in the OpenMetrics text format.
//!
//! Every series of a replica exists, at 0, from the moment the replica is
//! registered, not from its first event: a series that appears only later
//! cannot be told from one a scrape missed, `rate()` and `increase()` lose
//! the first event, and an alert on `elector_leader == 0` has nothing to
//! fire on until the replica has once led.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use elector_host::bindings::LostReason;
use elector_ops::registered;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    pub position: String,
    pub replica: String,
}

/// How health and readiness name a replica.
impl std::fmt::Display for ReplicaLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.replica, self.position)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LostLabels {
    position: String,
    replica: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// The requests a state-store client makes, one latency series each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOperation {
    Set,
    Get,
    Del,
    Vdel,
    Keynotify,
}

impl StoreOperation {
    const ALL: [StoreOperation; 5] = [
        StoreOperation::Set,
        StoreOperation::Get,
        StoreOperation::Del,
        StoreOperation::Vdel,
        StoreOperation::Keynotify,
    ];

    fn label(self) -> &'static str {
        match self {
            StoreOperation::Set => "set",
            StoreOperation::Get => "get",
            StoreOperation::Del => "del",
            StoreOperation::Vdel => "vdel",
            StoreOperation::Keynotify => "keynotify",
        }
    }
}

/// Every reason a leadership can end, each a series of its own.
const LOST_REASONS: [LostReason; 4] = [
    LostReason::Resigned,
    LostReason::LeaseExpired,
    LostReason::TakenOver,
    LostReason::LinkSilent,
];

fn reason_label(reason: LostReason) -> &'static str {
    match reason {
        LostReason::Resigned => "resigned",
        LostReason::LeaseExpired => "lease-expired",
        LostReason::TakenOver => "taken-over",
        LostReason::LinkSilent => "link-silent",
    }
}

/// A float gauge: seconds since the Unix epoch.
pub type TimestampGauge = Gauge<f64, AtomicU64>;

/// Latency buckets that reach past the request timeout: a request that
/// timed out lands in a bucket of its own instead of `+Inf` with everything
/// slow, and a timeout can be told from a merely slow answer.
#[derive(Clone, Debug)]
struct LatencyBuckets(Vec<f64>);

impl LatencyBuckets {
    /// From 50 µs (a request to the embedded store) doubling until at
    /// least twice the timeout (at least 1 s).
    fn for_timeout(request_timeout: Duration) -> Self {
        let last = (2.0 * request_timeout.as_secs_f64()).max(1.0);
        let mut bounds = vec![0.000_05];
        while bounds[bounds.len() - 1] < last {
            bounds.push(bounds[bounds.len() - 1] * 2.0);
        }
        LatencyBuckets(bounds)
    }
}

impl MetricConstructor<Histogram> for LatencyBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

pub struct Metrics {
    registry: Registry,
    leader: Family<ReplicaLabels, Gauge>,
    lease_end: Family<ReplicaLabels, TimestampGauge>,
    elections: Family<ReplicaLabels, Counter>,
    renewals: Family<ReplicaLabels, Counter>,
    renewal_failures: Family<ReplicaLabels, Counter>,
    lost: Family<LostLabels, Counter>,
    module_restarts: Family<ReplicaLabels, Counter>,
    budget_overruns: Family<ReplicaLabels, Counter>,
    hook_errors: Family<ReplicaLabels, Counter>,
    store_latency: Family<OperationLabels, Histogram, LatencyBuckets>,
}

/// One candidate's series.
#[derive(Clone)]
pub struct CandidateMetrics {
    pub leader: Gauge,
    /// When the current lease ends by the local clock; 0 when not leading.
    pub lease_end: TimestampGauge,
    pub elections: Counter,
    pub renewals: Counter,
    pub renewal_failures: Counter,
    lost: Vec<(LostReason, Counter)>,
}

impl CandidateMetrics {
    pub fn lost(&self, reason: LostReason) -> &Counter {
        let (_, counter) = self
            .lost
            .iter()
            .find(|(r, _)| *r == reason)
            .expect("every reason has its series");
        counter
    }
}

/// One replica's module series.
#[derive(Clone)]
pub struct ModuleMetrics {
    pub restarts: Counter,
    pub budget_overruns: Counter,
    pub hook_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(elector_host::store::mqtt::MqttStoreOptions::default().request_timeout)
    }
}

impl Metrics {
    /// `request_timeout` bounds a state-store request; the latency buckets
    /// reach past it.
    pub fn new(request_timeout: Duration) -> Self {
        let mut registry = Registry::with_prefix("elector");
        elector_ops::register_build_info(&mut registry);
        let leader: Family<ReplicaLabels, Gauge> = registered(
            &mut registry,
            "leader",
            "1 while this replica holds a valid lease on the position",
        );
        let lease_end = Family::<ReplicaLabels, TimestampGauge>::default();
        registry.register_with_unit(
            "lease_end_timestamp",
            "When the current lease ends by this host's clock, since the Unix epoch; 0 when not leading",
            Unit::Seconds,
            lease_end.clone(),
        );
        let elections: Family<ReplicaLabels, Counter> =
            registered(&mut registry, "elections", "Times this replica was elected");
        let renewals: Family<ReplicaLabels, Counter> =
            registered(&mut registry, "renewals", "Successful automatic renewals");
        let renewal_failures: Family<ReplicaLabels, Counter> = registered(
            &mut registry,
            "renewal_failures",
            "Renewal attempts that failed",
        );
        let lost: Family<LostLabels, Counter> = registered(
            &mut registry,
            "leadership_lost",
            "Times leadership ended, by reason",
        );
        let module_restarts: Family<ReplicaLabels, Counter> = registered(
            &mut registry,
            "module_restarts",
            "Module instances restarted after a crash (a trap, an overrun CPU budget)",
        );
        let budget_overruns: Family<ReplicaLabels, Counter> = registered(
            &mut registry,
            "module_budget_overruns",
            "Module hooks stopped for computing past the CPU budget (each also a restart)",
        );
        let hook_errors: Family<ReplicaLabels, Counter> = registered(
            &mut registry,
            "module_hook_errors",
            "Module hooks that returned an error",
        );
        let store_latency =
            Family::new_with_constructor(LatencyBuckets::for_timeout(request_timeout));
        registry.register_with_unit(
            "state_store_request",
            "State-store request latency by operation, failures and timeouts included",
            Unit::Seconds,
            store_latency.clone(),
        );
        // Created here rather than with the store client, which exists only
        // once the broker answers: the endpoint serves before that.
        for operation in StoreOperation::ALL {
            store_latency.get_or_create_owned(&OperationLabels {
                operation: operation.label(),
            });
        }
        Metrics {
            registry,
            leader,
            lease_end,
            elections,
            renewals,
            renewal_failures,
            lost,
            module_restarts,
            budget_overruns,
            hook_errors,
            store_latency,
        }
    }

    /// A candidate's series, all created now (at 0) if they are not yet.
    pub fn candidate(&self, labels: &ReplicaLabels) -> CandidateMetrics {
        let lost = LOST_REASONS
            .iter()
            .map(|&reason| {
                let labels = LostLabels {
                    position: labels.position.clone(),
                    replica: labels.replica.clone(),
                    reason: reason_label(reason),
                };
                (reason, self.lost.get_or_create_owned(&labels))
            })
            .collect();
        CandidateMetrics {
            leader: self.leader.get_or_create_owned(labels),
            lease_end: self.lease_end.get_or_create_owned(labels),
            elections: self.elections.get_or_create_owned(labels),
            renewals: self.renewals.get_or_create_owned(labels),
            renewal_failures: self.renewal_failures.get_or_create_owned(labels),
            lost,
        }
    }

    /// A replica's module series, all created now (at 0) if they are not.
    pub fn module(&self, labels: &ReplicaLabels) -> ModuleMetrics {
        ModuleMetrics {
            restarts: self.module_restarts.get_or_create_owned(labels),
            budget_overruns: self.budget_overruns.get_or_create_owned(labels),
            hook_errors: self.hook_errors.get_or_create_owned(labels),
        }
    }

    /// The latency histogram of one state-store operation.
    pub fn store_operation(&self, operation: StoreOperation) -> Histogram {
        self.store_latency.get_or_create_owned(&OperationLabels {
            operation: operation.label(),
        })
    }
}

impl super::Exposition for Metrics {
    fn encode(&self) -> String {
        super::Exposition::encode(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Exposition;
    use crate::ops::tests::labels;

    #[test]
    fn a_registered_replica_has_every_series_at_zero() {
        let metrics = Metrics::default();
        metrics.candidate(&labels());
        metrics.module(&labels());
        let text = metrics.encode();
        let replica = r#"{position="job",replica="r1"}"#;
        for series in [
            format!("elector_leader{replica} 0"),
            format!("elector_lease_end_timestamp_seconds{replica} 0.0"),
            format!("elector_elections_total{replica} 0"),
            format!("elector_renewals_total{replica} 0"),
            format!("elector_renewal_failures_total{replica} 0"),
            format!("elector_module_restarts_total{replica} 0"),
            format!("elector_module_budget_overruns_total{replica} 0"),
            format!("elector_module_hook_errors_total{replica} 0"),
        ] {
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
        for operation in ["set", "get", "del", "vdel", "keynotify"] {
            let series =
                format!("elector_state_store_request_seconds_count{{operation=\"{operation}\"}} 0");
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
        for reason in ["resigned", "lease-expired", "taken-over", "link-silent"] {
            let series = format!(
                r#"elector_leadership_lost_total{{position="job",replica="r1",reason="{reason}"}} 0"#
            );
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
    }

    #[test]
    fn registering_again_keeps_the_counts() {
        let metrics = Metrics::default();
        metrics
            .candidate(&labels())
            .lost(LostReason::TakenOver)
            .inc();
        metrics.candidate(&labels()).leader.set(1);
        let again = metrics.candidate(&labels());
        assert_eq!(again.lost(LostReason::TakenOver).get(), 1);
        assert_eq!(again.leader.get(), 1);
        assert_eq!(again.lost(LostReason::Resigned).get(), 0);
    }

    #[test]
    fn latency_buckets_reach_past_the_request_timeout() {
        let largest = |timeout| {
            let LatencyBuckets(bounds) = LatencyBuckets::for_timeout(timeout);
            bounds[bounds.len() - 1]
        };
        // The default timeout is 5 s: a timed-out request is 5 s and a bit.
        assert!(largest(Duration::from_secs(5)) >= 10.0);
        assert!(largest(Duration::from_secs(30)) >= 60.0);
        assert!(largest(Duration::ZERO) >= 1.0);
        // As exported, for the default timeout.
        let metrics = Metrics::default();
        metrics.store_operation(StoreOperation::Get).observe(5.01);
        let text = metrics.encode();
        let finite_bounds: Vec<f64> = text
            .lines()
            .filter_map(|line| line.split("le=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert!(finite_bounds.iter().any(|&le| le >= 10.0), "{text}");
    }
}
