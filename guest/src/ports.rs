//! What the election logic needs from the world, as small traits.
//!
//! The component adapter implements them with WIT imports (blocking on
//! `wasi:io/poll`); tests and the simulator implement them with an
//! in-memory store and virtual time. The logic never knows which.
//!
//! Futures returned here are polled by one single-threaded executor, so no
//! `Send` bounds are asked for.
#![allow(async_fn_in_trait)]

use core::future::Future;

use crate::types::{
    CandidateEvent, DeleteOutcome, Hlc, Instant, KeyNotification, ReleaseGuard, SetOptions,
    SetResponse, StoreResult, VersionedValue,
};

/// The AIO state store.
pub trait StateStore {
    type Watch: KeyWatch;

    async fn set(&self, key: &[u8], value: &[u8], options: &SetOptions)
    -> StoreResult<SetResponse>;
    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>>;
    async fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> StoreResult<DeleteOutcome>;
    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome>;
    /// Registers for the key's notifications; resolved once the store has
    /// accepted the registration. Dropping the watch unregisters.
    async fn watch(&self, key: &[u8]) -> StoreResult<Self::Watch>;
    /// What the connection's release-on-disconnect Will allows, when the
    /// connection has one; read at every decision, since it moves with
    /// every answer the connection gets.
    fn release_guard(&self) -> Option<ReleaseGuard> {
        None
    }
}

/// One key's notifications.
pub trait KeyWatch {
    /// Every queued notification, oldest first.
    fn take(&mut self) -> Vec<KeyNotification>;
    /// Resolves once at least one notification is queued.
    fn changed(&self) -> impl Future<Output = ()>;
}

/// Time, as the candidate sees it.
pub trait Clock {
    fn now(&self) -> Instant;
    /// Milliseconds since the Unix epoch; only for timestamps and jitter
    /// seeds, never for lease arithmetic.
    fn wall_clock_ms(&self) -> u64;
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;
}

/// A caller's request to stop a blocking call.
pub trait Cancel {
    fn is_cancelled(&self) -> bool;
    fn cancelled(&self) -> impl Future<Output = ()>;
}

/// Where a candidate's events go.
pub trait EventSink {
    fn deliver(&mut self, event: CandidateEvent);
}

/// The caller's function for campaign-and-update-value.
pub trait Updater {
    fn update(&mut self, current: Option<&[u8]>) -> Option<Vec<u8>>;
}

impl<F> Updater for F
where
    F: FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
{
    fn update(&mut self, current: Option<&[u8]>) -> Option<Vec<u8>> {
        self(current)
    }
}

/// For calls that nobody cancels.
pub struct NeverCancel;

impl Cancel for NeverCancel {
    fn is_cancelled(&self) -> bool {
        false
    }

    fn cancelled(&self) -> impl Future<Output = ()> {
        core::future::pending()
    }
}
