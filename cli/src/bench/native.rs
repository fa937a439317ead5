//! The election logic run natively: the same `elector-guest` crate the
//! component is built from, compiled for the host and wired straight to a
//! [`StateStoreBackend`]. The baseline the WASM-overhead benchmark compares
//! the component against: same logic, same store, no sandbox.

use std::future::Future;
use std::sync::Arc;

use elector_guest::types as core;
use tokio::sync::Notify;

use elector_host::bindings;
use elector_host::clock;
use elector_host::store::reply::{error_from_wit, hlc_from_wit, hlc_to_wit};
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

/// The election's `Store` port over a host backend.
pub struct NativeStore(Arc<dyn StateStoreBackend>);

impl elector_guest::Store for NativeStore {
    type Watch = NativeWatch;

    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &core::SetOptions,
    ) -> Result<core::SetResponse, core::StoreError> {
        let options = bindings::SetOptions {
            condition: match options.condition {
                core::SetCondition::Unconditional => bindings::SetCondition::Unconditional,
                core::SetCondition::OnlyIfAbsent => bindings::SetCondition::OnlyIfAbsent,
                core::SetCondition::OnlyIfAbsentOrEqual => {
                    bindings::SetCondition::OnlyIfAbsentOrEqual
                }
            },
            expiry_ms: options.expiry_ms,
            fencing_token: options.fencing_token.clone().map(hlc_to_wit),
        };
        let response = self
            .0
            .set(key, value, &options)
            .await
            .map_err(store_error)?;
        Ok(core::SetResponse {
            applied: response.applied,
            version: response.version.as_ref().map(hlc_from_wit),
        })
    }

    async fn get(&self, key: &[u8]) -> Result<Option<core::VersionedValue>, core::StoreError> {
        let found = self.0.get(key).await.map_err(store_error)?;
        Ok(found.map(|found| core::VersionedValue {
            version: hlc_from_wit(&found.version),
            value: found.value,
        }))
    }

    async fn del(
        &self,
        key: &[u8],
        fencing_token: Option<&core::Hlc>,
    ) -> Result<core::DeleteOutcome, core::StoreError> {
        let token = fencing_token.cloned().map(hlc_to_wit);
        let outcome = self.0.del(key, token.as_ref()).await;
        outcome.map(delete_outcome).map_err(store_error)
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&core::Hlc>,
    ) -> Result<core::DeleteOutcome, core::StoreError> {
        let token = fencing_token.cloned().map(hlc_to_wit);
        let outcome = self.0.vdel(key, value, token.as_ref()).await;
        outcome.map(delete_outcome).map_err(store_error)
    }

    async fn watch(&self, key: &[u8]) -> Result<NativeWatch, core::StoreError> {
        let queue = NotificationQueue::new(Arc::new(Notify::new()));
        let guard = self
            .0
            .watch(key, queue.clone())
            .await
            .map_err(store_error)?;
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
        let taken = self.queue.take_all().into_iter();
        taken
            .map(|notification| core::KeyNotification {
                change: match notification.change {
                    bindings::KeyChange::Set(value) => core::KeyChange::Set(value),
                    bindings::KeyChange::Deleted => core::KeyChange::Deleted,
                },
                version: hlc_from_wit(&notification.version),
            })
            .collect()
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

fn delete_outcome(outcome: bindings::DeleteOutcome) -> core::DeleteOutcome {
    match outcome {
        bindings::DeleteOutcome::Deleted => core::DeleteOutcome::Deleted,
        bindings::DeleteOutcome::Absent => core::DeleteOutcome::Absent,
        bindings::DeleteOutcome::ValueMismatch => core::DeleteOutcome::ValueMismatch,
    }
}

fn store_error(error: bindings::StoreError) -> core::StoreError {
    match error_from_wit(error) {
        Ok(kind) => core::StoreError::Refused(kind),
        Err(bindings::StoreError::Timeout) => core::StoreError::Timeout,
        Err(bindings::StoreError::Disconnected) => core::StoreError::Disconnected,
        Err(other) => core::StoreError::Protocol(format!("{other:?}")),
    }
}
