//! Shared set-up for the component tests.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use elector_host::bindings::{
    CandidateEvent, DeleteOutcome, Hlc, SetOptions, SetResponse, StoreError, VersionedValue,
};
use elector_host::store::{NotificationQueue, WatchGuard};
use elector_host::{
    ClientOptions, ElectorRuntime, EmbeddedStore, LeaderElectionClient, RuntimeConfig,
    StateStoreBackend,
};
use tokio::sync::mpsc;

/// Long enough that a passing test never meets it; short enough that a
/// hang fails fast.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One compiled runtime for the whole test binary (compiling takes ~0.1 s).
pub fn runtime() -> &'static ElectorRuntime {
    static RUNTIME: OnceLock<ElectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| ElectorRuntime::new(RuntimeConfig::default()).expect("elector compiles"))
}

pub async fn client(store: &Arc<dyn StateStoreBackend>, name: &str) -> LeaderElectionClient {
    LeaderElectionClient::start(
        runtime(),
        store.clone(),
        ClientOptions::new("position", name),
    )
    .await
    .expect("candidate starts")
}

pub fn embedded() -> (EmbeddedStore, Arc<dyn StateStoreBackend>) {
    let store = EmbeddedStore::new();
    let shared: Arc<dyn StateStoreBackend> = Arc::new(store.clone());
    (store, shared)
}

/// Waits for the next event matching `wanted`, failing after [`PATIENCE`].
pub async fn next_matching(
    events: &mut mpsc::UnboundedReceiver<CandidateEvent>,
    wanted: impl Fn(&CandidateEvent) -> bool,
) -> CandidateEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.recv().await.expect("event stream open");
            if wanted(&event) {
                return event;
            }
        }
    })
    .await
    .expect("event in time")
}

/// The embedded store, except that key watches never hear anything: a
/// network that loses every notification.
pub struct DeafStore(pub EmbeddedStore);

#[async_trait]
impl StateStoreBackend for DeafStore {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> Result<SetResponse, StoreError> {
        self.0.set(key, value, options).await
    }
    async fn get(&self, key: &[u8]) -> Result<Option<VersionedValue>, StoreError> {
        self.0.get(key).await
    }
    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> Result<DeleteOutcome, StoreError> {
        self.0.del(key, token).await
    }
    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> Result<DeleteOutcome, StoreError> {
        self.0.vdel(key, value, token).await
    }
    async fn watch(
        &self,
        _key: &[u8],
        _queue: Arc<NotificationQueue>,
    ) -> Result<WatchGuard, StoreError> {
        Ok(WatchGuard::new(()))
    }
}
