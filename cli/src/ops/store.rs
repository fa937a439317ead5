//! A layer around the state store that times every request into the
//! metrics.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::metrics::histogram::Histogram;

use super::Metrics;
use super::metrics::StoreOperation;
use elector_host::store::StateStoreBackend;
use elector_host::store::layer::{BoxFuture, Layered, Operation, StoreLayer};
use elector_statestore::StoreResult;

/// A store whose requests are timed.
pub type InstrumentedStore = Layered<Timing>;

/// `inner`, with every request timed into `metrics`.
pub fn instrumented(inner: Arc<dyn StateStoreBackend>, metrics: &Metrics) -> InstrumentedStore {
    let timing = Timing {
        set: metrics.store_operation(StoreOperation::Set),
        get: metrics.store_operation(StoreOperation::Get),
        del: metrics.store_operation(StoreOperation::Del),
        vdel: metrics.store_operation(StoreOperation::Vdel),
        keynotify: metrics.store_operation(StoreOperation::Keynotify),
    };
    Layered::new(inner, timing)
}

/// One histogram per operation.
pub struct Timing {
    set: Histogram,
    get: Histogram,
    del: Histogram,
    vdel: Histogram,
    keynotify: Histogram,
}

#[async_trait]
impl StoreLayer for Timing {
    /// Runs `request`, recording how long it took whatever its outcome.
    async fn around<T: Send>(
        &self,
        operation: Operation,
        _key: &[u8],
        request: BoxFuture<'_, StoreResult<T>>,
    ) -> StoreResult<T> {
        let histogram = match operation {
            Operation::Set => &self.set,
            Operation::Get => &self.get,
            Operation::Del => &self.del,
            Operation::VDel => &self.vdel,
            Operation::Watch => &self.keynotify,
        };
        let started = Instant::now();
        let result = request.await;
        histogram.observe(started.elapsed().as_secs_f64());
        result
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
        let store = instrumented(Arc::new(EmbeddedStore::new()), &metrics);
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
