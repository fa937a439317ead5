//! What `elector statestore --metrics-addr` exports: requests by command
//! and result, how long they took from arrival to answer (queueing
//! included, which is what a client waits), what the store holds, keys
//! expired, and requests dropped unanswered by reason. Every series exists
//! from the first scrape.

use std::sync::Arc;
use std::time::Duration;

use elector_ops::registered;
use elector_statestore as ss;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::drops::DROP_REASONS;
use elector_ops::Exposition;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    command: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: String,
}

/// The commands a request can name, and what answering one can come to.
const COMMANDS: [&str; 6] = ["SET", "GET", "DEL", "VDEL", "KEYNOTIFY", "invalid"];
const RESULTS: [&str; 3] = ["ok", "not-applied", "refused"];

impl std::fmt::Debug for ServiceMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceMetrics")
    }
}

pub struct ServiceMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    disk_writes: Histogram,
    keys: Gauge,
    stored_bytes: Gauge,
    watches: Gauge,
    expired: Counter,
    dropped: Family<DropLabels, Counter>,
}

impl ServiceMetrics {
    /// `request_timeout`: what clients wait at most, so the latency buckets
    /// reach past it.
    pub fn new(request_timeout: Duration) -> Arc<Self> {
        let mut root = Registry::with_prefix("elector");
        elector_ops::register_build_info(&mut root);
        let registry = root.sub_registry_with_prefix("statestore");
        let requests: Family<RequestLabels, Counter> = registered(
            registry,
            "requests",
            "Requests answered, by command and result",
        );
        for command in COMMANDS {
            for result in RESULTS {
                let _ = requests.get_or_create(&RequestLabels {
                    command: command.into(),
                    result: result.into(),
                });
            }
        }
        let buckets = buckets_past(request_timeout);
        let latency = Histogram::new(buckets);
        registry.register_with_unit(
            "request",
            "From a request's arrival to its answer, its wait in the queue included",
            Unit::Seconds,
            latency.clone(),
        );
        // 50 µs to ~1.6 s: an fsync on a fast disk to a stalling one.
        let disk_writes = Histogram::new(exponential_buckets(50e-6, 2.0, 16));
        registry.register_with_unit(
            "disk_write",
            "Writing one batch of changes to disk, fsync included (durable mode only)",
            Unit::Seconds,
            disk_writes.clone(),
        );
        let keys = registered(registry, "keys", "Keys stored");
        let stored_bytes = registered(
            registry,
            "stored_bytes",
            "What the stored keys count against the store's byte budget",
        );
        let watches = registered(registry, "watches", "KEYNOTIFY registrations");
        let expired = registered(registry, "expirations", "Keys that expired");
        let dropped: Family<DropLabels, Counter> = registered(
            registry,
            "dropped_requests",
            "Requests dropped unanswered, by reason (docs/security.md)",
        );
        for reason in DROP_REASONS {
            let _ = dropped.get_or_create(&DropLabels {
                reason: reason.into(),
            });
        }
        Arc::new(ServiceMetrics {
            registry: root,
            requests,
            latency,
            disk_writes,
            keys,
            stored_bytes,
            watches,
            expired,
            dropped,
        })
    }

    /// One request answered: its command (from its payload), its result
    /// (from the answer's payload), and how long it took.
    pub fn answered(&self, request: &[u8], answer: &[u8], took: Duration) {
        let command = ss::resp::decode_request(request).map_or("invalid", |c| c.verb());
        let result = match answer {
            [b'-', ..] => "refused",
            b":-1\r\n" => "not-applied",
            _ => "ok",
        };
        self.requests
            .get_or_create(&RequestLabels {
                command: command.into(),
                result: result.into(),
            })
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// One batch of changes written to disk, in `took`.
    pub fn written(&self, took: Duration) {
        self.disk_writes.observe(took.as_secs_f64());
    }

    pub fn dropped(&self, reason: &str) {
        self.dropped
            .get_or_create(&DropLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// What the store holds now, and the keys expired so far.
    pub fn holds(&self, usage: &ss::service::Usage) {
        self.keys.set(gauge_value(usage.keys));
        self.stored_bytes.set(gauge_value(usage.stored_bytes));
        self.watches.set(gauge_value(usage.watches));
        let expired = usage.expired_keys.saturating_sub(self.expired.get());
        self.expired.inc_by(expired);
    }
}

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Buckets from 50 µs doubling until past twice the request timeout.
fn buckets_past(request_timeout: Duration) -> Vec<f64> {
    let mut count = 1;
    while 0.000_05 * 2f64.powi(count - 1) < 2.0 * request_timeout.as_secs_f64() {
        count += 1;
    }
    exponential_buckets(0.000_05, 2.0, count as u16).collect()
}

impl Exposition for ServiceMetrics {
    fn encode(&self) -> String {
        self.registry.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_command_and_result() {
        let metrics = ServiceMetrics::new(Duration::from_secs(5));
        let set = ss::resp::encode_request(&ss::Command::Get { key: b"k".to_vec() });
        metrics.answered(&set, b"$-1\r\n", Duration::from_millis(1));
        metrics.answered(b"junk", b"-ERR syntax error\r\n", Duration::from_millis(1));
        metrics.dropped("no-response-topic");
        let text = metrics.encode();
        for line in [
            r#"elector_statestore_requests_total{command="GET",result="ok"} 1"#,
            r#"elector_statestore_requests_total{command="invalid",result="refused"} 1"#,
            r#"elector_statestore_requests_total{command="SET",result="not-applied"} 0"#,
            r#"elector_statestore_dropped_requests_total{reason="no-response-topic"} 1"#,
            r#"elector_statestore_dropped_requests_total{reason="all-queues-full"} 0"#,
            "elector_statestore_keys 0",
            "elector_build_info{",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(
            text.contains("le=\"13.1072\""),
            "buckets past the timeout:\n{text}"
        );
    }
}
