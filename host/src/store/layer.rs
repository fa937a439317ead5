//! Decorating a store: something that acts around every request — times
//! it, delays it, fails it — written once as a [`StoreLayer`], while
//! [`Layered`] passes each operation of the wrapped store through it. (The
//! CLI's metrics and the tests' fault injection are such layers.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use elector_statestore::VersionedValue;
use elector_statestore::{DeleteOutcome, Hlc, SetOptions, SetResponse, StoreResult};
pub use futures::future::BoxFuture;

use super::{NotificationQueue, StateStoreBackend, WatchGuard};

/// Which operation a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Set,
    Get,
    Del,
    VDel,
    /// Registering a watch (KEYNOTIFY).
    Watch,
}

impl Operation {
    /// The command's name on the wire.
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Set => "SET",
            Operation::Get => "GET",
            Operation::Del => "DEL",
            Operation::VDel => "VDEL",
            Operation::Watch => "KEYNOTIFY",
        }
    }
}

/// What a decorator does around each request to the store it wraps.
#[async_trait]
pub trait StoreLayer: Send + Sync + 'static {
    /// Runs `request` (`operation` on `key`, sent to the wrapped store when
    /// polled), doing around it whatever the layer is for.
    async fn around<T: Send>(
        &self,
        operation: Operation,
        key: &[u8],
        request: BoxFuture<'_, StoreResult<T>>,
    ) -> StoreResult<T>;

    /// Whether watches reach the wrapped store; a layer that plays a
    /// network losing every notification says no, and its watches register
    /// but never hear anything.
    fn passes_watches(&self) -> bool {
        true
    }
}

/// `inner`, with `layer` around every request.
pub struct Layered<L> {
    pub inner: Arc<dyn StateStoreBackend>,
    pub layer: L,
}

impl<L: StoreLayer> Layered<L> {
    pub fn new(inner: Arc<dyn StateStoreBackend>, layer: L) -> Self {
        Layered { inner, layer }
    }
}

#[async_trait]
impl<L: StoreLayer> StateStoreBackend for Layered<L> {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        let request = self.inner.set(key, value, options);
        self.layer.around(Operation::Set, key, request).await
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        self.layer
            .around(Operation::Get, key, self.inner.get(key))
            .await
    }

    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        let request = self.inner.del(key, token);
        self.layer.around(Operation::Del, key, request).await
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        let request = self.inner.vdel(key, value, token);
        self.layer.around(Operation::VDel, key, request).await
    }

    async fn watch(&self, key: &[u8], queue: Arc<NotificationQueue>) -> StoreResult<WatchGuard> {
        if !self.layer.passes_watches() {
            return Ok(WatchGuard::new(()));
        }
        let request = self.inner.watch(key, queue);
        self.layer.around(Operation::Watch, key, request).await
    }

    fn release_trust(&self) -> Option<elector_statestore::release::Trust> {
        self.inner.release_trust()
    }

    fn request_lifetime(&self) -> Duration {
        self.inner.request_lifetime()
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
