//! What a store must keep across a restart so that it never grants a
//! position twice, and the two ways back from a restart.
//!
//! A durable driver asks the store to [`track_changes`], writes what
//! [`take_changes`] returns to disk *before* it publishes the answers and
//! notifications of the requests behind those changes, and at start
//! rebuilds the store with [`restore`]. Keys keep their absolute expiry
//! and their fencing tokens; registrations come back with a fresh lease;
//! the clock resumes above the high-water mark, so no version is issued
//! twice even when the wall clock went back. A key whose expiry passed
//! while the store was down is still there after `restore`: the driver's
//! first [`StateStore::expire`] deletes it and tells its watchers, as if
//! the store had never stopped.
//!
//! A driver that keeps nothing restarts empty and calls
//! [`hold_new_positions_until`] instead: no conditional SET takes an
//! absent key before then, so nobody wins a position whose holder may
//! still believe it leads (Chubby's lock-delay).
//!
//! [`track_changes`]: StateStore::track_changes
//! [`take_changes`]: StateStore::take_changes
//! [`restore`]: StateStore::restore
//! [`hold_new_positions_until`]: StateStore::hold_new_positions_until

use std::collections::BTreeSet;

use super::{StateStore, StoredEntry};
use crate::hlc::{Hlc, HlcClock};
use crate::limits::Limits;
use crate::quota;

/// Everything a store keeps across a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot<C> {
    /// Every stored key, expired or not.
    pub keys: Vec<(Vec<u8>, StoredEntry)>,
    /// Every client's KEYNOTIFY registrations.
    pub watches: Vec<(C, Vec<Vec<u8>>)>,
    /// The greatest version the store issued or merged.
    pub high_water: Hlc,
}

/// What changed since the last [`StateStore::take_changes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes<C> {
    /// Each key written or deleted: its entry now, `None` once deleted.
    pub keys: Vec<(Vec<u8>, Option<StoredEntry>)>,
    /// Each client whose registrations changed, with every key it watches
    /// now (none: it watches nothing any more).
    pub watches: Vec<(C, Vec<Vec<u8>>)>,
    /// The greatest version the store issued or merged so far.
    pub high_water: Hlc,
}

impl<C: PartialEq> Snapshot<C> {
    /// Folds `changes` in, as a durable driver's disk does: afterwards the
    /// snapshot is what the store's own [`StateStore::snapshot`] would say.
    pub fn apply(&mut self, changes: Changes<C>) {
        for (key, entry) in changes.keys {
            let at = self.keys.iter().position(|(stored, _)| *stored == key);
            match (at, entry) {
                (Some(at), Some(entry)) => self.keys[at].1 = entry,
                (Some(at), None) => {
                    self.keys.remove(at);
                }
                (None, Some(entry)) => self.keys.push((key, entry)),
                (None, None) => {}
            }
        }
        for (client, keys) in changes.watches {
            self.watches.retain(|(watcher, _)| *watcher != client);
            if !keys.is_empty() {
                self.watches.push((client, keys));
            }
        }
        self.high_water = changes.high_water;
    }
}

impl<C> Snapshot<C> {
    /// What an empty store's disk holds.
    pub fn empty() -> Self {
        Snapshot {
            keys: Vec::new(),
            watches: Vec::new(),
            high_water: Hlc::new(0, 0, "-"),
        }
    }
}

impl<C> Changes<C> {
    /// True when nothing but (perhaps) the high-water mark moved.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.watches.is_empty()
    }
}

impl<C: Clone + Ord> StateStore<C> {
    /// From now on, remember what changes, for [`StateStore::take_changes`].
    /// (Off by default: a store nobody drains would remember forever.)
    pub fn track_changes(&mut self) {
        self.changed_keys.get_or_insert_with(BTreeSet::new);
        self.watches.track_changes();
    }

    /// What changed since the last call (or since
    /// [`StateStore::track_changes`]), for a driver to write down before it
    /// publishes anything those changes caused.
    pub fn take_changes(&mut self) -> Changes<C> {
        let keys = self
            .changed_keys
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
            .into_iter()
            .map(|key| {
                let entry = self.entries.get(&key).cloned();
                (key, entry)
            })
            .collect();
        Changes {
            keys,
            watches: self.watches.take_changed(),
            high_water: self.clock.current(),
        }
    }

    /// Notes that `key` was written or deleted, if changes are tracked.
    pub(super) fn mark_changed(&mut self, key: &[u8]) {
        if let Some(changed) = &mut self.changed_keys {
            changed.insert(key.to_vec());
        }
    }

    /// Everything the store holds that a restart must keep.
    pub fn snapshot(&self) -> Snapshot<C> {
        Snapshot {
            keys: self
                .entries
                .iter()
                .map(|(key, entry)| (key.clone(), entry.clone()))
                .collect(),
            watches: self.watches.all(),
            high_water: self.clock.current(),
        }
    }

    /// The store `snapshot` describes, issuing versions as `node_id` from
    /// above every version in it. Registrations last a lease from
    /// `now_ms`. Keys whose expiry is at or before `now_ms` stay until the
    /// next [`StateStore::expire`] (or request), which deletes them with
    /// their notifications.
    ///
    /// # Panics
    ///
    /// If `node_id` is not a valid HLC node id (see [`HlcClock::new`]).
    pub fn restore(
        node_id: impl Into<String>,
        limits: Limits,
        snapshot: Snapshot<C>,
        now_ms: u64,
    ) -> Self {
        let mut store = StateStore::new(node_id, limits);
        let mut high_water = snapshot.high_water;
        for (key, entry) in snapshot.keys {
            for seen in std::iter::once(&entry.version).chain(&entry.fencing_token) {
                if seen.is_newer_than(&high_water) {
                    high_water = seen.clone();
                }
            }
            store.stored_bytes += quota::entry_bytes(key.len(), entry.value.len());
            if let Some(deadline) = entry.expires_at_ms {
                store.expiries.schedule(deadline, &key);
            }
            store.entries.insert(key, entry);
        }
        store.clock = HlcClock::resume(store.clock.node_id().to_owned(), &high_water);
        for (client, keys) in snapshot.watches {
            for key in keys {
                store.watches.add(&client, &key, now_ms);
            }
        }
        store
    }

    /// Until `deadline_ms`, a conditional SET (`NX`, `NEX`) of an absent
    /// key is not applied: for a store that restarted without its state,
    /// set to the restart plus the longest lease a client may hold.
    pub fn hold_new_positions_until(&mut self, deadline_ms: u64) {
        self.hold_new_until_ms = deadline_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Reply, Request, SetCondition};
    use crate::notify::KeyEvent;

    const T0: u64 = 1_700_000_000_000;

    fn request(client: &str, command: Command, ft: Option<Hlc>) -> Request<String> {
        Request {
            client: client.to_owned(),
            command,
            timestamp: Some(Hlc::new(T0, 0, client)),
            fencing_token: ft,
        }
    }

    fn set_nx(key: &str, value: &str, px: u64) -> Command {
        Command::Set {
            key: key.into(),
            value: value.into(),
            condition: SetCondition::OnlyIfAbsent,
            expiry_ms: Some(px),
        }
    }

    fn watch(key: &str) -> Command {
        Command::KeyNotify {
            key: key.into(),
            stop: false,
        }
    }

    /// A store with a lease, a fenced key and a watcher.
    fn busy_store() -> StateStore<String> {
        let mut store = StateStore::new("s", Limits::default());
        store.track_changes();
        store.handle(T0, request("w", watch("lock"), None));
        let (won, _) = store.handle(T0, request("a", set_nx("lock", "a", 10_000), None));
        assert_eq!(won.reply, Reply::Ok);
        let token = won.version;
        let fenced = Command::Set {
            key: "data".into(),
            value: "1".into(),
            condition: SetCondition::Unconditional,
            expiry_ms: None,
        };
        store.handle(T0 + 1, request("a", fenced, Some(token)));
        store
    }

    #[test]
    fn a_restored_store_holds_what_the_old_one_held_and_issues_newer_versions() {
        let old = busy_store();
        let snapshot = old.snapshot();
        let mut new = StateStore::restore("s", Limits::default(), snapshot.clone(), T0 + 2);
        assert_eq!(new.snapshot(), snapshot, "nothing lost or added");
        assert_eq!(new.stored_bytes(), old.stored_bytes());
        assert_eq!(new.next_expiry(), Some(T0 + 10_000), "absolute expiry kept");
        // The position is still taken, the fenced key still fenced.
        let (again, _) = new.handle(T0 + 2, request("b", set_nx("lock", "b", 10_000), None));
        assert_eq!(again.reply, Reply::NotApplied);
        let stale = Hlc::new(T0 - 1, 0, "b");
        let del = Command::Del { key: "data".into() };
        let (refused, _) = new.handle(T0 + 2, request("b", del, Some(stale)));
        assert!(matches!(refused.reply, Reply::Error(_)), "{refused:?}");
    }

    #[test]
    fn a_wall_clock_that_went_back_does_not_reissue_versions() {
        let old = busy_store();
        let high_water = old.current_version();
        let mut new = StateStore::restore("s", Limits::default(), old.snapshot(), T0 - 3_600_000);
        let (written, _) = new.handle(
            T0 - 3_600_000,
            Request {
                timestamp: Some(Hlc::new(T0 - 3_600_000, 0, "c")),
                ..request("c", set_nx("other", "c", 1_000), None)
            },
        );
        assert!(written.version.is_newer_than(&high_water));
    }

    #[test]
    fn a_key_that_expired_while_down_is_deleted_and_its_watcher_told() {
        let old = busy_store();
        let mut new = StateStore::restore("s", Limits::default(), old.snapshot(), T0 + 60_000);
        let notifications = new.expire(T0 + 60_000);
        assert_eq!(notifications.len(), 1);
        assert_eq!(notifications[0].client, "w");
        assert_eq!(notifications[0].event, KeyEvent::Delete);
        assert!(new.peek(T0 + 60_000, b"lock").is_none());
    }

    #[test]
    fn changes_name_every_key_and_registration_that_moved_and_nothing_else() {
        let mut store = busy_store();
        let first = store.take_changes();
        let keys: Vec<_> = first.keys.iter().map(|(key, _)| key.clone()).collect();
        assert_eq!(keys, [b"data".to_vec(), b"lock".to_vec()]);
        assert_eq!(first.watches, [("w".to_owned(), vec![b"lock".to_vec()])]);
        assert_eq!(first.high_water, store.current_version());
        store.handle(
            T0 + 5,
            request("x", Command::Get { key: "lock".into() }, None),
        );
        assert!(store.take_changes().is_empty(), "a GET changes nothing");
        store.expire(T0 + 10_000);
        store.forget_client(&"w".to_owned());
        let second = store.take_changes();
        assert_eq!(second.keys, [(b"lock".to_vec(), None)]);
        assert_eq!(second.watches, [("w".to_owned(), vec![])]);
    }

    #[test]
    fn changes_folded_into_a_snapshot_are_the_store_itself() {
        let mut store = busy_store();
        let mut disk = Snapshot::empty();
        disk.apply(store.take_changes());
        store.handle(T0 + 2, request("b", watch("data"), None));
        store.expire(T0 + 10_000);
        disk.apply(store.take_changes());
        let sorted = |mut snapshot: Snapshot<String>| {
            snapshot.keys.sort_by(|a, b| a.0.cmp(&b.0));
            snapshot.watches.sort();
            snapshot
        };
        assert_eq!(sorted(disk), sorted(store.snapshot()));
    }

    #[test]
    fn an_untracked_store_remembers_no_changes() {
        let mut store = StateStore::<String>::new("s", Limits::default());
        store.handle(T0, request("a", set_nx("lock", "a", 1_000), None));
        assert!(store.take_changes().is_empty());
    }

    #[test]
    fn the_lock_delay_holds_absent_keys_only_and_only_until_its_deadline() {
        let mut store = StateStore::<String>::new("s", Limits::default());
        store.hold_new_positions_until(T0 + 1_000);
        let (held, _) = store.handle(T0, request("a", set_nx("lock", "a", 5_000), None));
        assert_eq!(held.reply, Reply::NotApplied);
        let plain = Command::Set {
            key: "cfg".into(),
            value: "1".into(),
            condition: SetCondition::Unconditional,
            expiry_ms: None,
        };
        assert_eq!(
            store.handle(T0, request("a", plain, None)).0.reply,
            Reply::Ok
        );
        let nex_equal = Command::Set {
            key: "cfg".into(),
            value: "1".into(),
            condition: SetCondition::OnlyIfAbsentOrEqual,
            expiry_ms: None,
        };
        assert_eq!(
            store.handle(T0, request("a", nex_equal, None)).0.reply,
            Reply::Ok,
            "a present key is not held"
        );
        let (won, _) = store.handle(T0 + 1_000, request("a", set_nx("lock", "a", 5_000), None));
        assert_eq!(won.reply, Reply::Ok);
    }
}
