//! The resources the host lends a sandbox: key watches (from the store),
//! and a caller's cancellation, event sink and value updater.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use wasmtime_wasi::p2::Pollable;

use super::CandidateEvent;
use crate::store::{NotificationQueue, WatchGuard};

/// A `key-watch`: its queue, and the registration that keeps it filled.
pub struct KeyWatchResource {
    pub queue: Arc<NotificationQueue>,
    pub registration: WatchGuard,
}

#[async_trait::async_trait]
impl Pollable for KeyWatchResource {
    async fn ready(&mut self) {
        self.queue.wait_ready().await;
    }
}

/// A `cancellation`, fired from outside the sandbox.
pub struct CancellationResource(pub CancellationToken);

#[async_trait::async_trait]
impl Pollable for CancellationResource {
    async fn ready(&mut self) {
        self.0.cancelled().await;
    }
}

/// Receives a candidate's events, in order, as the guest delivers them.
pub type EventFn = Box<dyn Fn(CandidateEvent) + Send + Sync>;

/// An `event-sink`.
pub struct EventSinkResource(pub EventFn);

/// The caller's function behind a `value-updater`.
pub type UpdateFn = Box<dyn FnMut(Option<Vec<u8>>) -> Option<Vec<u8>> + Send>;

pub struct ValueUpdaterResource(pub UpdateFn);
