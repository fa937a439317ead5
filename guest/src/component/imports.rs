//! The election's ports implemented with the component's imports.

use core::future::Future;

use super::convert::{from_wit, to_wit};
use super::elector::election::callbacks::{Cancellation, EventSink, ValueUpdater};
use super::elector::election::state_store as wit_store;
use super::executor::WaitFor;
use super::wasi::clocks::{monotonic_clock, wall_clock};
use super::wasi::io::poll::Pollable;
use crate::types::{
    CandidateEvent, DeleteOutcome, Hlc, Instant, KeyNotification, ReleaseGuard, SetOptions,
    SetResponse, StoreResult, VersionedValue,
};

/// Resolves once the pollable `make()` returns is ready (judged by
/// `pollable.ready()`, right for the host's own resources).
fn ready_when(make: impl FnMut() -> Pollable + Unpin) -> impl Future<Output = ()> {
    WaitFor::new(make, |pollable: Option<&Pollable>| {
        pollable.is_some_and(Pollable::ready)
    })
}

/// The host's `state-store` import. Its calls block this instance until
/// the host answers, so the async functions complete on first poll.
pub struct WitStore;

impl crate::StateStore for WitStore {
    type Watch = WitWatch;

    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        wit_store::set(key, value, &to_wit::set_options(options))
            .map(from_wit::set_response)
            .map_err(from_wit::store_error)
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        wit_store::get(key)
            .map(|found| found.map(from_wit::versioned_value))
            .map_err(from_wit::store_error)
    }

    async fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        let token = fencing_token.cloned().map(to_wit::hlc);
        wit_store::del(key, token.as_ref())
            .map(from_wit::delete_outcome)
            .map_err(from_wit::store_error)
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        let token = fencing_token.cloned().map(to_wit::hlc);
        wit_store::vdel(key, value, token.as_ref())
            .map(from_wit::delete_outcome)
            .map_err(from_wit::store_error)
    }

    async fn watch(&self, key: &[u8]) -> StoreResult<WitWatch> {
        wit_store::watch(key)
            .map(WitWatch)
            .map_err(from_wit::store_error)
    }

    fn release_guard(&self) -> Option<ReleaseGuard> {
        wit_store::current_release_guard().map(from_wit::release_guard)
    }
}

/// A `key-watch` resource; dropping it drops the host's registration.
pub struct WitWatch(wit_store::KeyWatch);

impl crate::KeyWatch for WitWatch {
    fn take(&mut self) -> Vec<KeyNotification> {
        self.0
            .take()
            .into_iter()
            .map(from_wit::key_notification)
            .collect()
    }

    fn changed(&self) -> impl Future<Output = ()> {
        ready_when(|| self.0.subscribe())
    }
}

/// `wasi:clocks`.
pub struct WasiClock;

impl crate::Clock for WasiClock {
    fn now(&self) -> Instant {
        Instant(monotonic_clock::now())
    }

    fn wall_clock_ms(&self) -> u64 {
        let now = wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        // Judged by the clock, not by `pollable.ready()`: wasmtime-wasi's
        // timer pollables yield once before reporting a past deadline as
        // ready, so a fresh one is never ready on its first check.
        WaitFor::new(
            move || monotonic_clock::subscribe_instant(deadline.0),
            move |_: Option<&Pollable>| monotonic_clock::now() >= deadline.0,
        )
    }
}

/// The caller's `event-sink`.
pub struct WitEvents(pub EventSink);

impl crate::EventSink for WitEvents {
    fn deliver(&mut self, event: CandidateEvent) {
        self.0.deliver(&to_wit::candidate_event(event));
    }
}

/// The caller's `cancellation`.
pub struct WitCancel<'a>(pub &'a Cancellation);

impl crate::Cancel for WitCancel<'_> {
    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }

    fn cancelled(&self) -> impl Future<Output = ()> {
        WaitFor::new(
            || self.0.subscribe(),
            |_: Option<&Pollable>| self.0.is_cancelled(),
        )
    }
}

/// The caller's `value-updater`.
pub struct WitUpdater<'a>(pub &'a ValueUpdater);

impl crate::Updater for WitUpdater<'_> {
    fn update(&mut self, current: Option<&[u8]>) -> Option<Vec<u8>> {
        self.0.update(current)
    }
}
