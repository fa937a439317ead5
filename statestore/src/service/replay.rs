//! Requests seen recently, by client and correlation data, so a request the
//! client's MQTT stack sends again after a reconnect (same correlation
//! data, DUP set) gets its first answer instead of being applied twice, and
//! a *different* request re-using the correlation data is told so instead
//! of silently getting an old answer.
//!
//! Each request is remembered by a digest of everything it carried (payload,
//! response topic, user properties), with its answer when running it again
//! could answer differently (see `Service::handle`). A re-send can only
//! come while its sender still waits, so entries go after
//! `Limits::replay_window_ms`, and the oldest go first once all of them
//! take more than `Limits::max_replay_bytes`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a request is, as far as telling a re-send from another request
/// goes: a keyed hash of everything it carried.
pub type Digest = u64;

/// What the cache knows of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen<T> {
    /// Nothing: run it.
    New,
    /// The same request again: its first answer, or `None` to answer it
    /// afresh.
    Again(Option<T>),
    /// Another request with the same correlation data.
    Different,
}

type Key = (String, Vec<u8>);

#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Entry<T> {
    digest: Digest,
    answer: Option<T>,
    bytes: usize,
    at_ms: u64,
}

/// One remembered request, as a durable driver writes it down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered<T> {
    /// The client that sent it.
    pub client: String,
    /// Its correlation data.
    pub correlation: Vec<u8>,
    /// When it was first handled (ms since the epoch).
    pub at_ms: u64,
    /// What it was (see [`Digest`]).
    pub digest: Digest,
    /// The answer a re-send gets, if one was kept.
    pub answer: Option<T>,
}

/// What changed among the remembered requests with a kept answer since
/// the last [`Replays::take_changes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayChanges<T> {
    /// Requests remembered since.
    pub remembered: Vec<Remembered<T>>,
    /// Requests forgotten since, by client and correlation data.
    pub forgotten: Vec<(String, Vec<u8>)>,
}

/// What an entry costs besides its key and answer: the digest, the map and
/// queue slots, rounded up.
const ENTRY_OVERHEAD_BYTES: usize = 96;

/// Recent requests and the answers worth keeping.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Replays<T> {
    entries: BTreeMap<Key, Entry<T>>,
    /// Keys in the order they were remembered, with when.
    order: VecDeque<(u64, Key)>,
    bytes: usize,
    window_ms: u64,
    max_bytes: usize,
    /// Keys remembered or forgotten since the last take, once tracked.
    changed: Option<BTreeSet<Key>>,
}

impl<T: Clone> Replays<T> {
    /// Keeps entries for `window_ms`, in at most `max_bytes`.
    pub fn new(window_ms: u64, max_bytes: usize) -> Self {
        Replays {
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            window_ms,
            max_bytes,
            changed: None,
        }
    }

    /// From now on, remember what changes, for [`Replays::take_changes`].
    pub fn track_changes(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    /// The requests remembered and forgotten since the last call.
    pub fn take_changes(&mut self) -> ReplayChanges<T> {
        let mut changes = ReplayChanges {
            remembered: Vec::new(),
            forgotten: Vec::new(),
        };
        for key in self
            .changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
        {
            match self.entries.get(&key) {
                Some(entry) => changes.remembered.push(Remembered {
                    client: key.0,
                    correlation: key.1,
                    at_ms: entry.at_ms,
                    digest: entry.digest,
                    answer: entry.answer.clone(),
                }),
                None => changes.forgotten.push(key),
            }
        }
        changes
    }

    /// Whether `client` sent a request with this correlation data in the
    /// last window, and whether it was this one.
    pub fn check(
        &mut self,
        now_ms: u64,
        client: &str,
        correlation: &[u8],
        digest: Digest,
    ) -> Seen<T> {
        self.prune(now_ms);
        match self.entries.get(&(client.to_owned(), correlation.to_vec())) {
            None => Seen::New,
            Some(entry) if entry.digest == digest => Seen::Again(entry.answer.clone()),
            Some(_) => Seen::Different,
        }
    }

    /// Remembers a request [`Replays::check`] found new, with the answer to
    /// repeat (if any) and the bytes that answer takes.
    pub fn remember(
        &mut self,
        now_ms: u64,
        client: &str,
        correlation: &[u8],
        digest: Digest,
        answer: Option<(T, usize)>,
    ) {
        let key = (client.to_owned(), correlation.to_vec());
        let key_bytes = 2 * (client.len() + correlation.len());
        let (answer, answer_bytes) =
            answer.map_or((None, 0), |(answer, bytes)| (Some(answer), bytes));
        let bytes = key_bytes + answer_bytes + ENTRY_OVERHEAD_BYTES;
        let entry = Entry {
            digest,
            answer,
            bytes,
            at_ms: now_ms,
        };
        let kept = entry.answer.is_some();
        if let Some(replaced) = self.entries.insert(key.clone(), entry) {
            self.bytes -= replaced.bytes;
            self.order.retain(|(_, queued)| *queued != key);
            self.mark(&key, replaced.answer.is_some());
        }
        self.mark(&key, kept);
        self.bytes += bytes;
        self.order.push_back((now_ms, key));
        self.prune(now_ms);
    }

    /// Bytes the entries take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of requests remembered.
    pub fn remembered(&self) -> usize {
        self.entries.len()
    }

    /// Forgets entries older than the window, then the oldest until the
    /// rest fit the byte budget.
    fn prune(&mut self, now_ms: u64) {
        while let Some((at, _)) = self.order.front() {
            let expired = at.saturating_add(self.window_ms) <= now_ms;
            if !expired && self.bytes <= self.max_bytes {
                break;
            }
            let (_, key) = self.order.pop_front().expect("checked non-empty");
            if let Some(entry) = self.entries.remove(&key) {
                self.bytes -= entry.bytes;
                self.mark(&key, entry.answer.is_some());
            }
        }
    }

    /// Notes a change to `key` worth writing down: one that kept an answer
    /// or forgot one. (A request remembered without its answer, a GET's,
    /// only tells a re-send from another request; after a restart it is
    /// answered afresh, which changes nothing.)
    fn mark(&mut self, key: &Key, with_answer: bool) {
        if with_answer && let Some(changed) = &mut self.changed {
            changed.insert(key.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000_000;

    #[test]
    fn a_resend_gets_its_first_answer_and_another_request_is_told_apart() {
        let mut replays = Replays::new(60_000, usize::MAX);
        assert_eq!(replays.check(T0, "a", b"1", 11), Seen::New);
        replays.remember(T0, "a", b"1", 11, Some((10, 8)));
        assert_eq!(replays.check(T0, "a", b"1", 11), Seen::Again(Some(10)));
        assert_eq!(replays.check(T0, "a", b"1", 12), Seen::Different);
        assert_eq!(replays.check(T0, "b", b"1", 12), Seen::New, "per client");
        replays.remember(T0, "b", b"1", 12, None);
        assert_eq!(
            replays.check(T0, "b", b"1", 12),
            Seen::Again(None),
            "remembered without an answer: answer afresh"
        );
        assert_eq!(replays.check(T0, "b", b"1", 11), Seen::Different);
        assert_eq!(replays.remembered(), 2);
    }

    #[test]
    fn entries_last_the_window_and_not_a_moment_longer() {
        let mut replays = Replays::new(1_000, usize::MAX);
        replays.remember(T0, "a", b"1", 1, Some((1, 1)));
        replays.remember(T0 + 500, "a", b"2", 2, Some((2, 1)));
        assert_eq!(replays.check(T0 + 999, "a", b"1", 1), Seen::Again(Some(1)));
        assert_eq!(replays.check(T0 + 1_000, "a", b"1", 9), Seen::New);
        assert_eq!(
            replays.check(T0 + 1_000, "a", b"2", 2),
            Seen::Again(Some(2))
        );
        assert_eq!(replays.check(T0 + 1_500, "a", b"2", 2), Seen::New);
        assert_eq!(replays.remembered(), 0);
        assert_eq!(replays.bytes(), 0);
    }

    #[test]
    fn the_oldest_go_first_once_the_byte_budget_is_full() {
        let entry = 2 * (1 + 1) + 100 + ENTRY_OVERHEAD_BYTES;
        let mut replays = Replays::new(60_000, 3 * entry);
        for (i, correlation) in [b"1", b"2", b"3", b"4"].into_iter().enumerate() {
            replays.remember(T0 + i as u64, "a", correlation, 7, Some((i, 100)));
        }
        assert_eq!(replays.remembered(), 3);
        assert_eq!(replays.bytes(), 3 * entry);
        assert_eq!(replays.check(T0 + 5, "a", b"1", 7), Seen::New);
        assert_eq!(replays.check(T0 + 5, "a", b"2", 7), Seen::Again(Some(1)));
        replays.remember(T0 + 6, "a", b"big", 7, Some((9, 10 * entry)));
        assert_eq!(
            replays.remembered(),
            0,
            "an answer larger than the budget is not kept"
        );
    }

    #[test]
    fn changes_name_what_was_remembered_and_what_was_forgotten() {
        let mut replays = Replays::new(1_000, usize::MAX);
        replays.remember(T0, "a", b"1", 1, Some((1, 10)));
        replays.track_changes();
        replays.remember(T0 + 10, "a", b"2", 2, Some((2, 10)));
        replays.remember(T0 + 10, "a", b"3", 3, None);
        let changes = replays.take_changes();
        assert_eq!(
            changes.remembered,
            [Remembered {
                client: "a".into(),
                correlation: b"2".to_vec(),
                at_ms: T0 + 10,
                digest: 2,
                answer: Some(2),
            }],
            "not the one without an answer"
        );
        assert!(changes.forgotten.is_empty());
        assert_eq!(replays.check(T0 + 1_000, "a", b"9", 9), Seen::New);
        let changes = replays.take_changes();
        assert_eq!(changes.forgotten, [("a".to_owned(), b"1".to_vec())]);
        assert!(changes.remembered.is_empty());
    }

    #[test]
    fn remembering_a_key_again_replaces_it() {
        let mut replays = Replays::new(1_000, usize::MAX);
        replays.remember(T0, "a", b"1", 1, Some((1, 10)));
        replays.remember(T0 + 900, "a", b"1", 2, Some((2, 20)));
        assert_eq!(replays.remembered(), 1);
        assert_eq!(
            replays.check(T0 + 1_500, "a", b"1", 2),
            Seen::Again(Some(2))
        );
    }
}
