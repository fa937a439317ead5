//! The embedded store: the shared AIO state machine in this process, for
//! single-machine use, demos and tests.
//!
//! It behaves as the AIO store does, because it *is* the same state machine
//! the MQTT service runs, behind the same client vocabulary
//! ([`ss::LocalStore`]): HLC versions, `NX`/`NEX`/`PX`, fencing, and a
//! DELETE notification when a key expires. Expiry is driven by a timer task
//! that sleeps until the machine's next expiry, so notifications go out
//! when a key expires, not when someone next touches it.
//!
//! Each watch is its own store client, so dropping one never silences
//! another watch of the same key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use elector_statestore::{self as ss, local::Fanout};
use tokio::sync::Notify;

use super::{NotificationQueue, StateStoreBackend, WatchGuard};
use crate::clock::StoreClock;
use ss::{DeleteOutcome, Hlc, SetOptions, SetResponse, StoreResult, VersionedValue};

/// Handle to an embedded store; clones share the same data.
#[derive(Clone)]
pub struct EmbeddedStore {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the expiry task when the earliest expiry may have moved.
    expiry_changed: Arc<Notify>,
    clock: StoreClock,
}

struct State {
    store: ss::LocalStore,
    watches: HashMap<u64, Arc<NotificationQueue>>,
    /// The expiry the timer task sleeps until (`None`: no expiry pending).
    timer_due_ms: Option<u64>,
}

impl EmbeddedStore {
    /// Starts the store's expiry timer on the current tokio runtime. Its
    /// limits are [`ss::Limits::in_process`]: its only clients are this
    /// process's own candidates, up to the 100,000 the density benchmark
    /// runs.
    pub fn new() -> Self {
        Self::with_limits(ss::Limits::in_process())
    }

    pub fn with_limits(limits: ss::Limits) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store: ss::LocalStore::new("embedded", limits),
                watches: HashMap::new(),
                timer_due_ms: None,
            }),
            expiry_changed: Arc::new(Notify::new()),
            clock: StoreClock::start(),
        });
        tokio::spawn(run_expiry(
            Arc::downgrade(&shared),
            shared.expiry_changed.clone(),
        ));
        EmbeddedStore { shared }
    }

    /// Number of keys currently stored (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.shared.state.lock().unwrap().store.machine().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of live KEYNOTIFY registrations.
    pub fn watch_count(&self) -> usize {
        self.shared
            .state
            .lock()
            .unwrap()
            .store
            .machine()
            .watch_count()
    }

    /// Runs one operation on the store at the current time and delivers
    /// the notifications it caused, under the lock, so every watch sees
    /// changes in store order.
    fn apply<T>(&self, operation: impl FnOnce(&mut ss::LocalStore, u64) -> (T, Fanout)) -> T {
        self.shared.apply(operation)
    }
}

impl Default for EmbeddedStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn apply<T>(&self, operation: impl FnOnce(&mut ss::LocalStore, u64) -> (T, Fanout)) -> T {
        let now_ms = self.now_ms();
        let mut state = self.state.lock().unwrap();
        let (result, fanout) = operation(&mut state.store, now_ms);
        state.deliver(fanout);
        let next_expiry = state.store.next_expiry();
        let timer_is_late = match (next_expiry, state.timer_due_ms) {
            (Some(next), Some(due)) => next < due,
            (Some(_), None) => true,
            (None, _) => false,
        };
        drop(state);
        if timer_is_late {
            self.expiry_changed.notify_one();
        }
        result
    }

    fn expire_due(&self) -> Option<u64> {
        let now_ms = self.now_ms();
        let mut state = self.state.lock().unwrap();
        let fanout = state.store.expire(now_ms);
        state.deliver(fanout);
        state.timer_due_ms = state.store.next_expiry();
        state.timer_due_ms
    }
}

impl State {
    fn deliver(&self, fanout: Fanout) {
        for notification in fanout {
            let (watcher, notification) = ss::local::addressed(notification);
            if let Some(queue) = self.watches.get(&watcher) {
                queue.push(notification);
            }
        }
    }
}

/// Expires keys when they are due, for as long as the store exists.
async fn run_expiry(shared: Weak<Shared>, expiry_changed: Arc<Notify>) {
    loop {
        let (next_expiry_ms, now_ms) = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            (shared.expire_due(), shared.now_ms())
        };
        let pause = match next_expiry_ms {
            Some(due) => Duration::from_millis(due.saturating_sub(now_ms).max(1)),
            // Nothing to expire: wake now and then only to notice the
            // store was dropped.
            None => Duration::from_secs(1),
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = expiry_changed.notified() => {}
        }
    }
}

/// Unregisters a watch: drops its queue and its KEYNOTIFY registration.
struct Registration {
    shared: Weak<Shared>,
    watcher: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            let mut state = shared.state.lock().unwrap();
            state.watches.remove(&self.watcher);
            state.store.unwatch(self.watcher);
        }
    }
}

#[async_trait]
impl StateStoreBackend for EmbeddedStore {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        self.apply(|store, now_ms| store.set(now_ms, key, value, options))
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        self.apply(|store, now_ms| store.get(now_ms, key))
    }

    async fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        self.apply(|store, now_ms| store.del(now_ms, key, fencing_token))
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        self.apply(|store, now_ms| store.vdel(now_ms, key, value, fencing_token))
    }

    async fn watch(&self, key: &[u8], queue: Arc<NotificationQueue>) -> StoreResult<WatchGuard> {
        // The queue is in place before the registration, so nothing the
        // store sends after accepting it can be missed.
        let watcher = {
            let mut state = self.shared.state.lock().unwrap();
            let watcher = state.store.new_watcher();
            state.watches.insert(watcher, queue);
            watcher
        };
        let registration = Registration {
            shared: Arc::downgrade(&self.shared),
            watcher,
        };
        self.apply(|store, now_ms| store.watch(now_ms, watcher, key))?;
        Ok(WatchGuard::new(registration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn set_options(expiry_ms: Option<u64>) -> SetOptions {
        SetOptions {
            condition: ss::SetCondition::OnlyIfAbsentOrEqual,
            expiry_ms,
            fencing_token: None,
        }
    }

    /// `SET lock HOLDER` (NEX, PX `expiry_ms`): whether it applied.
    async fn set_lock(store: &EmbeddedStore, holder: &[u8], expiry_ms: u64) -> bool {
        let options = set_options(Some(expiry_ms));
        store.set(b"lock", holder, &options).await.unwrap().applied
    }

    #[tokio::test]
    async fn a_key_expires_on_time_with_a_delete_notification_and_no_other_request() {
        let store = EmbeddedStore::new();
        let wake = Arc::new(Notify::new());
        let queue = NotificationQueue::new(wake);
        let _watch = store.watch(b"lock", queue.clone()).await.unwrap();
        let written = Instant::now();
        assert!(set_lock(&store, b"a", 150).await);
        queue.wait_ready().await;
        assert!(matches!(queue.take_all()[0].event, ss::KeyEvent::Set(_)));
        tokio::time::timeout(Duration::from_secs(5), queue.wait_ready())
            .await
            .unwrap();
        let waited = written.elapsed();
        assert!(
            waited >= Duration::from_millis(150),
            "not early: {waited:?}"
        );
        let notifications = queue.take_all();
        assert_eq!(notifications.len(), 1);
        assert_eq!(notifications[0].event, ss::KeyEvent::Delete);
        assert!(store.is_empty());
    }

    #[tokio::test]
    async fn renewing_pushes_the_expiry_back_and_dropping_a_watch_unregisters() {
        let store = EmbeddedStore::new();
        let queue = NotificationQueue::new(Arc::new(Notify::new()));
        let watch = store.watch(b"lock", queue.clone()).await.unwrap();
        assert_eq!(store.watch_count(), 1);
        for _ in 0..4 {
            assert!(set_lock(&store, b"a", 100).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            store.get(b"lock").await.unwrap().is_some(),
            "renewals keep it alive"
        );
        drop(watch);
        assert_eq!(store.watch_count(), 0);
        let versions: Vec<Hlc> = queue.take_all().into_iter().map(|n| n.version).collect();
        assert_eq!(versions.len(), 4);
        assert!(versions.windows(2).all(|w| w[1].is_newer_than(&w[0])));
    }

    #[tokio::test]
    async fn fencing_and_conditions_follow_the_state_machine() {
        let store = EmbeddedStore::new();
        let won = store
            .set(b"lock", b"a", &set_options(Some(10_000)))
            .await
            .unwrap();
        assert!(!set_lock(&store, b"b", 10_000).await);
        assert_eq!(
            store.vdel(b"lock", b"b", None).await,
            Ok(DeleteOutcome::ValueMismatch)
        );
        let token = won.version.unwrap();
        let fenced = SetOptions {
            condition: ss::SetCondition::Unconditional,
            expiry_ms: None,
            fencing_token: Some(token),
        };
        assert!(store.set(b"data", b"1", &fenced).await.unwrap().applied);
        assert_eq!(
            store.del(b"data", None).await,
            Err(ss::StoreError::Refused(
                ss::StoreErrorKind::FencingTokenRequired
            ))
        );
        assert_eq!(store.del(b"missing", None).await, Ok(DeleteOutcome::Absent));
        assert_eq!(
            store.vdel(b"lock", b"a", None).await,
            Ok(DeleteOutcome::Deleted)
        );
    }
}
