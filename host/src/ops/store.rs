//! A state-store backend that times every request into the metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::metrics::histogram::Histogram;

use super::Metrics;
use crate::bindings::{DeleteOutcome, Hlc, SetOptions, SetResponse, StoreError, VersionedValue};
use crate::store::{NotificationQueue, StateStoreBackend, WatchGuard};

pub struct InstrumentedStore {
    inner: Arc<dyn StateStoreBackend>,
    set: Histogram,
    get: Histogram,
    del: Histogram,
    vdel: Histogram,
    keynotify: Histogram,
}

impl InstrumentedStore {
    /// Creates every operation's histogram now, so each is exported (empty)
    /// before its first request.
    pub fn new(inner: Arc<dyn StateStoreBackend>, metrics: &Metrics) -> Self {
        InstrumentedStore {
            inner,
            set: metrics.store_operation("set"),
            get: metrics.store_operation("get"),
            del: metrics.store_operation("del"),
            vdel: metrics.store_operation("vdel"),
            keynotify: metrics.store_operation("keynotify"),
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
    ) -> Result<SetResponse, StoreError> {
        timed(&self.set, self.inner.set(key, value, options)).await
    }

    async fn get(&self, key: &[u8]) -> Result<Option<VersionedValue>, StoreError> {
        timed(&self.get, self.inner.get(key)).await
    }

    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> Result<DeleteOutcome, StoreError> {
        timed(&self.del, self.inner.del(key, token)).await
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> Result<DeleteOutcome, StoreError> {
        timed(&self.vdel, self.inner.vdel(key, value, token)).await
    }

    fn request_lifetime(&self) -> std::time::Duration {
        self.inner.request_lifetime()
    }

    async fn watch(
        &self,
        key: &[u8],
        queue: Arc<NotificationQueue>,
    ) -> Result<WatchGuard, StoreError> {
        timed(&self.keynotify, self.inner.watch(key, queue)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Exposition;
    use crate::store::EmbeddedStore;

    #[tokio::test]
    async fn every_operation_is_exported_before_its_first_request() {
        let metrics = Metrics::default();
        let store = InstrumentedStore::new(Arc::new(EmbeddedStore::new()), &metrics);
        let text = metrics.encode();
        for operation in ["set", "get", "del", "vdel", "keynotify"] {
            let series =
                format!("elector_state_store_request_seconds_count{{operation=\"{operation}\"}} 0");
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
        store.get(b"k").await.unwrap();
        assert!(
            metrics
                .encode()
                .contains(r#"elector_state_store_request_seconds_count{operation="get"} 1"#)
        );
    }
}
