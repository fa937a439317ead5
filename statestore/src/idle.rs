//! When each client last sent a request, in time order, so the store can
//! find the clients idle for a whole lease without scanning them all.
//!
//! Behind a plain MQTT broker the service cannot see a client disconnect;
//! silence is the only sign that a client is gone, and its registrations
//! lapse after a lease of it (`Limits::watch_lease_ms`).

use std::collections::{BTreeMap, BTreeSet};

/// The last request time (ms) of each tracked client.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(deserialize = "C: serde::Deserialize<'de> + Ord"))
)]
pub(crate) struct LastSeen<C> {
    at: BTreeMap<C, u64>,
    order: BTreeSet<(u64, C)>,
}

impl<C> Default for LastSeen<C> {
    fn default() -> Self {
        Self {
            at: BTreeMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl<C: Clone + Ord> LastSeen<C> {
    /// `client` sent a request at `now_ms` (an earlier time never moves it
    /// back).
    pub(crate) fn record(&mut self, client: &C, now_ms: u64) {
        let at = self.at.entry(client.clone()).or_insert(now_ms);
        if *at < now_ms {
            self.order.remove(&(*at, client.clone()));
            *at = now_ms;
        }
        self.order.insert((*at, client.clone()));
    }

    /// Stops tracking `client`.
    pub(crate) fn forget(&mut self, client: &C) {
        if let Some(at) = self.at.remove(client) {
            self.order.remove(&(at, client.clone()));
        }
    }

    /// Stops tracking, and returns, every client last seen at or before
    /// `cutoff_ms`, longest idle first.
    pub(crate) fn take_seen_by(&mut self, cutoff_ms: u64) -> Vec<C> {
        let mut idle = Vec::new();
        while self.order.first().is_some_and(|(at, _)| *at <= cutoff_ms) {
            let (_, client) = self.order.pop_first().expect("checked non-empty");
            self.at.remove(&client);
            idle.push(client);
        }
        idle
    }

    /// Number of tracked clients.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_come_first_and_a_request_moves_a_client_back() {
        let mut seen = LastSeen::default();
        seen.record(&"a", 10);
        seen.record(&"b", 20);
        seen.record(&"c", 30);
        seen.record(&"a", 25);
        seen.record(&"c", 5);
        assert_eq!(seen.len(), 3, "one entry per client");
        assert!(seen.take_seen_by(19).is_empty());
        assert_eq!(seen.take_seen_by(25), ["b", "a"]);
        assert_eq!(seen.take_seen_by(u64::MAX), ["c"]);
        assert_eq!(seen.len(), 0);
    }

    #[test]
    fn a_forgotten_client_is_not_returned() {
        let mut seen = LastSeen::default();
        seen.record(&"a", 10);
        seen.record(&"b", 10);
        seen.forget(&"a");
        seen.forget(&"never-seen");
        assert_eq!(seen.take_seen_by(10), ["b"]);
    }
}
