//! The state store behind the `state-store` import, as one Rust trait with
//! one module per backend (the embedded in-process store; the AIO store
//! over MQTT). The trait speaks the store vocabulary of
//! `elector-statestore`; the sandbox's glue (`sandbox/`) only ever sees the
//! trait, and converts to WIT types in `bindings/convert.rs`.

pub mod embedded;
pub mod layer;
pub mod mqtt;
pub mod queue;

use std::sync::Arc;

use async_trait::async_trait;

use elector_statestore::{
    DeleteOutcome, Hlc, SetOptions, SetResponse, StoreResult, VersionedValue,
};
pub use embedded::EmbeddedStore;
pub use queue::NotificationQueue;

/// A state store with the AIO semantics. Shared by every sandbox of a host.
#[async_trait]
pub trait StateStoreBackend: Send + Sync + 'static {
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
    /// Delivers the key's notifications into `queue` until the returned
    /// guard is dropped. Returns once the registration is in place.
    async fn watch(&self, key: &[u8], queue: Arc<NotificationQueue>) -> StoreResult<WatchGuard>;

    /// How long after sending a request the store may still apply it (a
    /// request whose answer was lost can land until then). Zero for a store
    /// that never loses answers.
    fn request_lifetime(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    /// For a connection whose Will releases a candidate's position when it
    /// is lost: what the candidate may believe now (see
    /// `elector_statestore::release`). `None` for every other store.
    fn release_trust(&self) -> Option<elector_statestore::release::Trust> {
        None
    }

    /// Ends the store's connection, if it has one, once what was already
    /// given up (a watch's unregistration) has been sent. A process that
    /// stops calls it last.
    async fn close(&self) {}
}

/// Keeps a watch registered; dropping it unregisters.
pub struct WatchGuard(#[allow(dead_code)] Box<dyn Send + Sync>);

impl WatchGuard {
    pub fn new(registration: impl Send + Sync + 'static) -> Self {
        WatchGuard(Box::new(registration))
    }
}
