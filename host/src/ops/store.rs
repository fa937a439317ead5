//! A state-store backend that times every request into the metrics.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::Metrics;
use super::metrics::OperationLabels;
use crate::bindings::{DeleteOutcome, Hlc, SetOptions, SetResponse, StoreError, VersionedValue};
use crate::store::{NotificationQueue, StateStoreBackend, WatchGuard};

pub struct InstrumentedStore {
    inner: Arc<dyn StateStoreBackend>,
    metrics: Arc<Metrics>,
}

impl InstrumentedStore {
    pub fn new(inner: Arc<dyn StateStoreBackend>, metrics: Arc<Metrics>) -> Self {
        InstrumentedStore { inner, metrics }
    }

    fn record(&self, operation: &str, started: Instant) {
        self.metrics
            .store_latency
            .get_or_create(&OperationLabels {
                operation: operation.into(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
}

#[async_trait]
impl StateStoreBackend for InstrumentedStore {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> Result<SetResponse, StoreError> {
        let started = Instant::now();
        let result = self.inner.set(key, value, options).await;
        self.record("set", started);
        result
    }

    async fn get(&self, key: &[u8]) -> Result<Option<VersionedValue>, StoreError> {
        let started = Instant::now();
        let result = self.inner.get(key).await;
        self.record("get", started);
        result
    }

    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> Result<DeleteOutcome, StoreError> {
        let started = Instant::now();
        let result = self.inner.del(key, token).await;
        self.record("del", started);
        result
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> Result<DeleteOutcome, StoreError> {
        let started = Instant::now();
        let result = self.inner.vdel(key, value, token).await;
        self.record("vdel", started);
        result
    }

    fn request_lifetime(&self) -> std::time::Duration {
        self.inner.request_lifetime()
    }

    async fn watch(
        &self,
        key: &[u8],
        queue: Arc<NotificationQueue>,
    ) -> Result<WatchGuard, StoreError> {
        let started = Instant::now();
        let result = self.inner.watch(key, queue).await;
        self.record("keynotify", started);
        result
    }
}
