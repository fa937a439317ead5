//! A state-store backend that times every request into the metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::metrics::histogram::Histogram;

use super::Metrics;
use super::metrics::StoreOperation;
use elector_host::store::{NotificationQueue, StateStoreBackend, WatchGuard};
use elector_statestore::{
    DeleteOutcome, Hlc, SetOptions, SetResponse, StoreResult, VersionedValue,
};

pub struct InstrumentedStore {
    inner: Arc<dyn StateStoreBackend>,
    set: Histogram,
    get: Histogram,
    del: Histogram,
    vdel: Histogram,
    keynotify: Histogram,
}

impl InstrumentedStore {
    pub fn new(inner: Arc<dyn StateStoreBackend>, metrics: &Metrics) -> Self {
        InstrumentedStore {
            inner,
            set: metrics.store_operation(StoreOperation::Set),
            get: metrics.store_operation(StoreOperation::Get),
            del: metrics.store_operation(StoreOperation::Del),
            vdel: metrics.store_operation(StoreOperation::Vdel),
            keynotify: metrics.store_operation(StoreOperation::Keynotify),
        }
    }
}

/// Runs `request`, recording how long it took whatever its outcome.
async fn timed<T>(histogram: &Histogram, request: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let result = request.await;
    histogram.observe(started.elapsed().as_secs_f64());
    result
}

#[async_trait]
impl StateStoreBackend for InstrumentedStore {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        timed(&self.set, self.inner.set(key, value, options)).await
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        timed(&self.get, self.inner.get(key)).await
    }

    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        timed(&self.del, self.inner.del(key, token)).await
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        timed(&self.vdel, self.inner.vdel(key, value, token)).await
    }

    fn request_lifetime(&self) -> std::time::Duration {
        self.inner.request_lifetime()
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn watch(&self, key: &[u8], queue: Arc<NotificationQueue>) -> StoreResult<WatchGuard> {
        timed(&self.keynotify, self.inner.watch(key, queue)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Exposition;
    use elector_host::store::EmbeddedStore;

    #[tokio::test]
    async fn each_request_is_timed_into_its_operation() {
        let metrics = Metrics::default();
        let store = InstrumentedStore::new(Arc::new(EmbeddedStore::new()), &metrics);
        store.get(b"k").await.unwrap();
        store.del(b"k", None).await.unwrap();
        let text = metrics.encode();
        for (operation, count) in [("get", 1), ("del", 1), ("set", 0)] {
            let series = format!(
                "elector_state_store_request_seconds_count{{operation=\"{operation}\"}} {count}"
            );
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
    }
}
