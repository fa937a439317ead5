//! A tiny in-memory state store: just enough of the Azure IoT Operations
//! state store's semantics for the elector to campaign, resign and hear
//! about changes.
//!
//! It is shared by every instance of the component in this process (an
//! `Arc<MemoryStore>`), which is what lets two candidates compete for one
//! key. It is deliberately small, to show what the `state-store` import
//! asks of a host. The project's `statestore` crate has the full semantics,
//! including these two shortcuts this store takes:
//!
//! * Fencing tokens are accepted but not enforced. The elector never
//!   fences its own lock key; only writes to *other* keys guarded by a
//!   leader's token would need it, and this demo makes none.
//! * Keys with an expiry (`PX`) expire lazily, when a request next touches
//!   them, not on a timer. The elector copes: a waiting campaign retries at
//!   the holder's expected expiry by itself, and that retry's `SET` touches
//!   the key, expires it and notifies the watchers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use wasmtime_wasi::p2::Pollable;

use crate::bindings::elector::election::state_store::{
    DeleteOutcome, Hlc, KeyChange, KeyNotification, SetCondition, SetOptions, SetResponse,
    StoreError, VersionedValue,
};

/// The store every candidate in this process talks to.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Vec<u8>, Entry>,
    /// The queues of the live watches of each key. Weak, so a watch the
    /// guest drops (and with it its queue) unregisters by itself.
    watchers: HashMap<Vec<u8>, Vec<Weak<WatchQueue>>>,
    clock: VersionClock,
}

struct Entry {
    value: Vec<u8>,
    version: Hlc,
    expires_at: Option<Instant>,
}

impl MemoryStore {
    /// `SET key value [NX | NEX] [PX ms]`.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> Result<SetResponse, StoreError> {
        check_key(key)?;
        // `PX 0` is a syntax error in the AIO store, not "expire at once".
        if options.expiry_ms == Some(0) {
            return Err(StoreError::SyntaxError);
        }
        let mut state = self.lock();
        state.expire_if_due(key);
        let current = state.entries.get(key).map(|entry| entry.value.as_slice());
        let applies = match options.condition {
            SetCondition::Unconditional => true,
            SetCondition::OnlyIfAbsent => current.is_none(),
            SetCondition::OnlyIfAbsentOrEqual => current.is_none_or(|held| held == value),
        };
        if !applies {
            return Ok(SetResponse {
                applied: false,
                version: None,
            });
        }
        let version = state.clock.next();
        let expires_at = options
            .expiry_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        state.entries.insert(
            key.to_vec(),
            Entry {
                value: value.to_vec(),
                version: version.clone(),
                expires_at,
            },
        );
        state.notify(key, KeyChange::Set(value.to_vec()), &version);
        Ok(SetResponse {
            applied: true,
            version: Some(version),
        })
    }

    /// `GET key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<VersionedValue>, StoreError> {
        check_key(key)?;
        let mut state = self.lock();
        state.expire_if_due(key);
        Ok(state.entries.get(key).map(|entry| VersionedValue {
            value: entry.value.clone(),
            version: entry.version.clone(),
        }))
    }

    /// `DEL key`.
    pub fn del(&self, key: &[u8]) -> Result<DeleteOutcome, StoreError> {
        self.delete(key, None)
    }

    /// `VDEL key value`: deletes only if the key holds exactly `value`.
    /// This is how a candidate resigns without deleting a successor's lock.
    pub fn vdel(&self, key: &[u8], value: &[u8]) -> Result<DeleteOutcome, StoreError> {
        self.delete(key, Some(value))
    }

    fn delete(&self, key: &[u8], only_if: Option<&[u8]>) -> Result<DeleteOutcome, StoreError> {
        check_key(key)?;
        let mut state = self.lock();
        state.expire_if_due(key);
        let Some(entry) = state.entries.get(key) else {
            return Ok(DeleteOutcome::Absent);
        };
        if only_if.is_some_and(|expected| expected != entry.value.as_slice()) {
            return Ok(DeleteOutcome::ValueMismatch);
        }
        state.entries.remove(key);
        let version = state.clock.next();
        state.notify(key, KeyChange::Deleted, &version);
        Ok(DeleteOutcome::Deleted)
    }

    /// `KEYNOTIFY key`: from now on every change of `key` is queued on the
    /// returned queue, until the queue is dropped.
    pub fn watch(&self, key: &[u8]) -> Result<Arc<WatchQueue>, StoreError> {
        check_key(key)?;
        let queue = Arc::new(WatchQueue::default());
        self.lock()
            .watchers
            .entry(key.to_vec())
            .or_default()
            .push(Arc::downgrade(&queue));
        Ok(queue)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so poisoning cannot happen;
        // recover the data anyway rather than propagate a panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    /// Lazy expiry: removes `key` if its `PX` has passed and tells its
    /// watchers, exactly as if the store had expired it on time.
    fn expire_if_due(&mut self, key: &[u8]) {
        let due = self
            .entries
            .get(key)
            .and_then(|entry| entry.expires_at)
            .is_some_and(|at| at <= Instant::now());
        if due {
            self.entries.remove(key);
            let version = self.clock.next();
            self.notify(key, KeyChange::Deleted, &version);
        }
    }

    /// Queues a notification on every live watch of `key`. Called under the
    /// store's lock, so every watch sees changes in the store's order.
    fn notify(&mut self, key: &[u8], change: KeyChange, version: &Hlc) {
        let Some(queues) = self.watchers.get_mut(key) else {
            return;
        };
        queues.retain(|queue| match queue.upgrade() {
            Some(queue) => {
                queue.push(KeyNotification {
                    change: change.clone(),
                    version: version.clone(),
                });
                true
            }
            None => false,
        });
        if queues.is_empty() {
            self.watchers.remove(key);
        }
    }
}

fn check_key(key: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() {
        Err(StoreError::KeyLengthZero)
    } else {
        Ok(())
    }
}

/// Issues the store's versions: hybrid-logical-clock timestamps, strictly
/// increasing across the whole store. The elector compares the wall-clock
/// part of a deletion's version with the deleted write's version to tell a
/// resignation from an expiry, so these must be real milliseconds.
#[derive(Default)]
struct VersionClock {
    wall_clock_ms: u64,
    counter: u32,
}

impl VersionClock {
    fn next(&mut self) -> Hlc {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        if now_ms > self.wall_clock_ms {
            self.wall_clock_ms = now_ms;
            self.counter = 0;
        } else {
            // Same millisecond (or the system clock stepped back): keep the
            // wall-clock part and break the tie with the counter.
            self.counter = self.counter.saturating_add(1);
        }
        Hlc {
            wall_clock_ms: self.wall_clock_ms,
            counter: self.counter,
            node_id: "embed".into(),
        }
    }
}

/// The notifications of one watch, waiting for the guest to `take` them.
#[derive(Default)]
pub struct WatchQueue {
    items: Mutex<VecDeque<KeyNotification>>,
    /// Wakes the pollables waiting for the queue to become non-empty.
    ready: Notify,
}

impl WatchQueue {
    fn push(&self, notification: KeyNotification) {
        self.items().push_back(notification);
        self.ready.notify_waiters();
    }

    /// Everything queued, oldest first.
    pub fn take_all(&self) -> Vec<KeyNotification> {
        self.items().drain(..).collect()
    }

    fn is_empty(&self) -> bool {
        self.items().is_empty()
    }

    fn items(&self) -> std::sync::MutexGuard<'_, VecDeque<KeyNotification>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The host side of a `key-watch` resource. Holding the queue keeps the
/// registration alive; when the guest drops the resource, the host deletes
/// it from the resource table and the store forgets the queue.
pub struct KeyWatch(pub Arc<WatchQueue>);

/// `key-watch.subscribe()` hands the guest a pollable backed by this: ready
/// while the queue is non-empty. `wasi:io/poll.poll` awaits `ready()`.
#[wasmtime_wasi::async_trait]
impl Pollable for KeyWatch {
    async fn ready(&mut self) {
        loop {
            // Register for the wake-up *before* looking at the queue: a
            // push between the check and the await then still wakes us.
            let notified = self.0.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.0.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(condition: SetCondition, expiry_ms: Option<u64>) -> SetOptions {
        SetOptions {
            condition,
            expiry_ms,
            fencing_token: None,
        }
    }

    #[test]
    fn conditions_vdel_expiry_and_notifications() {
        let store = MemoryStore::default();
        let watch = store.watch(b"k").expect("watch");
        let nx = options(SetCondition::OnlyIfAbsent, None);
        let nex = options(SetCondition::OnlyIfAbsentOrEqual, Some(1));

        assert!(store.set(b"k", b"a", &nx).unwrap().applied);
        assert!(!store.set(b"k", b"a", &nx).unwrap().applied, "NX: exists");
        assert!(
            !store.set(b"k", b"b", &nex).unwrap().applied,
            "NEX: other value"
        );
        let renewed = store.set(b"k", b"a", &nex).unwrap();
        assert!(renewed.applied, "NEX: same value");
        assert_eq!(
            store.vdel(b"k", b"b").unwrap(),
            DeleteOutcome::ValueMismatch
        );

        // PX 1: gone once a request touches it after a millisecond.
        std::thread::sleep(Duration::from_millis(5));
        assert!(store.get(b"k").unwrap().is_none());
        assert_eq!(store.del(b"k").unwrap(), DeleteOutcome::Absent);

        // Generated records derive no `PartialEq`; compare by hand.
        let seen = watch.take_all();
        let versions: Vec<_> = seen
            .iter()
            .map(|n| (n.version.wall_clock_ms, n.version.counter))
            .collect();
        assert!(matches!(&seen[..], [
            KeyNotification { change: KeyChange::Set(a), .. },
            KeyNotification { change: KeyChange::Set(b), .. },
            KeyNotification { change: KeyChange::Deleted, .. },
        ] if a == b"a" && b == b"a"));
        let renewed = renewed.version.expect("an applied SET has a version");
        assert_eq!(versions[1], (renewed.wall_clock_ms, renewed.counter));
        assert!(
            versions.is_sorted() && versions[1] < versions[2],
            "versions increase"
        );
        assert!(watch.take_all().is_empty());
    }
}
