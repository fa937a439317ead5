//! The election logic run natively: the same `elector-guest` crate the
//! component is built from, compiled for the host and wired straight to a
//! [`StateStoreBackend`]. The baseline the WASM-overhead benchmark compares
//! the component against: same logic, same store, no sandbox.

use std::future::Future;
use std::sync::Arc;

use elector_guest::types as core;
use tokio::sync::Notify;

use elector_host::clock;
use elector_host::store::{NotificationQueue, StateStoreBackend, WatchGuard};

/// A native candidate on a host store.
pub type NativeCandidate = elector_guest::Candidate<NativeStore, HostClock, DiscardEvents>;

/// Creates a native candidate for `position` named `name`.
pub fn candidate(
    store: Arc<dyn StateStoreBackend>,
    position: &str,
    name: &str,
) -> Result<NativeCandidate, core::ElectionError> {
    let options = core::CandidateOptions {
        position: position.into(),
        name: name.into(),
        session_id: None,
        safety_margin_ms: None,
        request_lifetime_ms: Some(
            u64::try_from(store.request_lifetime().as_millis()).unwrap_or(u64::MAX),
        ),
    };
    elector_guest::Candidate::new(options, NativeStore(store), HostClock, DiscardEvents)
}

/// The election's `StateStore` port over a host backend.
pub struct NativeStore(Arc<dyn StateStoreBackend>);

impl elector_guest::StateStore for NativeStore {
    type Watch = NativeWatch;

    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &core::SetOptions,
    ) -> core::StoreResult<core::SetResponse> {
        self.0.set(key, value, options).await
    }

    async fn get(&self, key: &[u8]) -> core::StoreResult<Option<core::VersionedValue>> {
        self.0.get(key).await
    }

    async fn del(
        &self,
        key: &[u8],
        fencing_token: Option<&core::Hlc>,
    ) -> core::StoreResult<core::DeleteOutcome> {
        self.0.del(key, fencing_token).await
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&core::Hlc>,
    ) -> core::StoreResult<core::DeleteOutcome> {
        self.0.vdel(key, value, fencing_token).await
    }

    async fn watch(&self, key: &[u8]) -> core::StoreResult<NativeWatch> {
        let queue = NotificationQueue::new(Arc::new(Notify::new()));
        let guard = self.0.watch(key, queue.clone()).await?;
        Ok(NativeWatch {
            queue,
            _guard: guard,
        })
    }
}

/// A key watch; dropping it unregisters.
pub struct NativeWatch {
    queue: Arc<NotificationQueue>,
    _guard: WatchGuard,
}

impl elector_guest::KeyWatch for NativeWatch {
    fn take(&mut self) -> Vec<core::KeyNotification> {
        self.queue.take_all()
    }

    fn changed(&self) -> impl Future<Output = ()> {
        self.queue.wait_ready()
    }
}

/// The host's shared monotonic clock (the one sandboxes see) and tokio
/// timers.
pub struct HostClock;

impl elector_guest::Clock for HostClock {
    fn now(&self) -> core::Instant {
        core::Instant(clock::now_ns())
    }

    fn wall_clock_ms(&self) -> u64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since_epoch.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline: core::Instant) -> impl Future<Output = ()> {
        tokio::time::sleep_until(clock::to_instant(deadline.0).into())
    }
}

/// Events nobody reads (the benchmark reads results, not events).
pub struct DiscardEvents;

impl elector_guest::EventSink for DiscardEvents {
    fn deliver(&mut self, _event: core::CandidateEvent) {}
}
