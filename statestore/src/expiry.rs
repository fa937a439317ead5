//! The expiry index: which keys time out when, in time order.
//!
//! Kept ordered so the store finds due keys and the next deadline without
//! scanning every key, and a driver can arm a single timer.

use std::collections::BTreeSet;

/// Pending expiries as `(deadline_ms, key)`, ordered by deadline, then key.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct ExpiryIndex {
    due: BTreeSet<(u64, Vec<u8>)>,
}

impl ExpiryIndex {
    /// Records that `key` expires at `deadline_ms`.
    pub(crate) fn schedule(&mut self, deadline_ms: u64, key: &[u8]) {
        self.due.insert((deadline_ms, key.to_vec()));
    }

    /// Forgets the expiry of `key` at `deadline_ms` (the key was rewritten or
    /// deleted).
    pub(crate) fn cancel(&mut self, deadline_ms: u64, key: &[u8]) {
        self.due.remove(&(deadline_ms, key.to_vec()));
    }

    /// The earliest deadline, if any key expires.
    pub(crate) fn next(&self) -> Option<u64> {
        self.due.first().map(|(deadline, _)| *deadline)
    }

    /// Removes and returns the keys due at `now_ms` (deadline <= now), in
    /// deadline order, ties by key.
    pub(crate) fn take_due(&mut self, now_ms: u64) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        while self.next().is_some_and(|deadline| deadline <= now_ms) {
            let (_, key) = self.due.pop_first().expect("checked non-empty");
            keys.push(key);
        }
        keys
    }

    /// Number of keys with an expiry.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index holding these `(deadline, key)` pairs, scheduled in order.
    fn scheduled(deadlines: &[(u64, &str)]) -> ExpiryIndex {
        let mut index = ExpiryIndex::default();
        for (deadline, key) in deadlines {
            index.schedule(*deadline, key.as_bytes());
        }
        index
    }

    #[test]
    fn empty_index_has_no_deadline() {
        let mut index = ExpiryIndex::default();
        assert_eq!(index.next(), None);
        assert!(index.take_due(u64::MAX).is_empty());
    }

    #[test]
    fn takes_due_keys_in_deadline_then_key_order() {
        let mut index = scheduled(&[(30, "c"), (10, "b"), (10, "a"), (50, "d")]);
        assert_eq!(index.next(), Some(10));
        assert!(index.take_due(9).is_empty());
        assert_eq!(
            index.take_due(30),
            [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(index.next(), Some(50));
        assert_eq!(index.len(), 1);
        assert_eq!(index.take_due(u64::MAX), [b"d".to_vec()]);
        assert_eq!(index.next(), None);
    }

    #[test]
    fn cancel_removes_only_that_deadline() {
        let mut index = scheduled(&[(10, "k"), (20, "other")]);
        index.cancel(10, b"k");
        index.cancel(99, b"other");
        assert_eq!(index.next(), Some(20));
        assert_eq!(index.take_due(100), [b"other".to_vec()]);
    }
}
