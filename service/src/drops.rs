//! Requests the service dropped unanswered, counted by reason.
//!
//! Each drop is logged at debug only: a client that sends such requests on
//! purpose must not be able to flood the log as well. So the counts are
//! kept, and a summary of what was dropped since the last one is logged
//! now and then, for operators to see that something is being refused.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Why a request was dropped after it left its queue: its message expiry
/// ran out there.
pub const EXPIRED_IN_QUEUE: &str = "expired-in-queue";

/// Every reason a request is dropped unanswered (`Dropped::reason`, the
/// queues' overflows, an expiry run out in the queue).
pub const DROP_REASONS: [&str; 10] = [
    "no-response-topic",
    "forbidden-response-topic",
    "oversized-response-topic",
    "oversized-correlation",
    "foreign-response-topic",
    "slash-in-client-id",
    "client-queue-full",
    "client-queue-bytes",
    "all-queues-full",
    EXPIRED_IN_QUEUE,
];

/// Also told of every drop (the metrics, when the service serves them).
pub type OnDrop = Box<dyn Fn(&'static str) + Send + Sync>;

/// Counts by reason (`Dropped::reason`, `Overflow::reason`, ...).
#[derive(Default)]
pub struct Drops {
    counts: Mutex<Counts>,
    on_drop: Option<OnDrop>,
}

#[derive(Debug, Default)]
struct Counts {
    total: BTreeMap<&'static str, u64>,
    since_summary: BTreeMap<&'static str, u64>,
}

impl Drops {
    /// Counts that `on_drop` hears of too.
    pub fn reporting_to(on_drop: Option<OnDrop>) -> Self {
        Drops {
            on_drop,
            ..Drops::default()
        }
    }

    /// One request dropped for `reason`.
    pub fn count(&self, reason: &'static str) {
        if let Some(on_drop) = &self.on_drop {
            on_drop(reason);
        }
        let mut counts = self.counts.lock().unwrap();
        *counts.total.entry(reason).or_default() += 1;
        *counts.since_summary.entry(reason).or_default() += 1;
    }

    /// Requests dropped for `reason` since the service started.
    #[cfg(test)]
    pub fn total(&self, reason: &str) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .total
            .get(reason)
            .copied()
            .unwrap_or(0)
    }

    /// What was dropped since the last call, by reason (empty if nothing).
    pub fn take_summary(&self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut self.counts.lock().unwrap().since_summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_a_summary_starts_afresh() {
        let drops = Drops::default();
        drops.count("a");
        drops.count("a");
        drops.count("b");
        assert_eq!(drops.total("a"), 2);
        assert_eq!(drops.total("none"), 0);
        assert_eq!(
            drops.take_summary().into_iter().collect::<Vec<_>>(),
            [("a", 2), ("b", 1)]
        );
        assert!(drops.take_summary().is_empty());
        drops.count("b");
        assert_eq!(drops.take_summary().get("b"), Some(&1));
        assert_eq!(drops.total("b"), 2);
    }
}
