//! Shared set-up for the component tests.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use elector_host::bindings::CandidateEvent;
use elector_host::store::layer::{BoxFuture, Layered, Operation, StoreLayer};
use elector_host::{
    ClientOptions, ElectorRuntime, EmbeddedStore, LeaderElectionClient, RuntimeConfig,
    StateStoreBackend,
};
use elector_statestore::{StoreError, StoreResult};
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

/// What [`FaultyStore`] does to the requests a [`Rule`] selects.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Apply the request, then wait this long and answer `timeout`: a lost
    /// answer, as a real transport has them.
    LoseAnswer(Duration),
    /// Apply the request at once and answer after this long.
    SlowAnswer(Duration),
}

/// Which requests a fault applies to: a verb (`SET`, `GET`, `VDEL`) on one
/// key.
#[derive(Clone, Debug)]
pub struct Rule {
    pub verb: &'static str,
    pub key: Vec<u8>,
    pub fault: Fault,
}

/// The embedded store with faults a test sets and clears while candidates
/// run (see [`Faults`]).
pub type FaultyStore = Layered<Faults>;

pub fn faulty_store() -> Arc<FaultyStore> {
    Arc::new(Layered::new(
        Arc::new(EmbeddedStore::new()),
        Faults::default(),
    ))
}

/// Writes whose answers are lost or slow, or watches that hear nothing.
#[derive(Default)]
pub struct Faults {
    rule: std::sync::Mutex<Option<Rule>>,
    /// Key watches register but never hear anything: a network that loses
    /// every notification.
    deaf: std::sync::atomic::AtomicBool,
    /// SET requests received, by key.
    sets: std::sync::Mutex<std::collections::HashMap<Vec<u8>, u64>>,
}

impl Faults {
    /// SET requests received for `key` so far.
    pub fn sets(&self, key: &[u8]) -> u64 {
        self.sets.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    pub fn set_fault(&self, verb: &'static str, key: &[u8], fault: Fault) {
        *self.rule.lock().unwrap() = Some(Rule {
            verb,
            key: key.to_vec(),
            fault,
        });
    }

    /// From now on, new watches hear nothing.
    pub fn lose_notifications(&self) {
        self.deaf.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn clear_fault(&self) {
        *self.rule.lock().unwrap() = None;
    }
}

#[async_trait]
impl StoreLayer for Faults {
    /// Runs `request` (already applied when it returns) through the fault
    /// set for its verb and key, if any.
    async fn around<T: Send>(
        &self,
        operation: Operation,
        key: &[u8],
        request: BoxFuture<'_, StoreResult<T>>,
    ) -> StoreResult<T> {
        if operation == Operation::Set {
            *self.sets.lock().unwrap().entry(key.to_vec()).or_default() += 1;
        }
        let fault = self
            .rule
            .lock()
            .unwrap()
            .as_ref()
            .filter(|rule| rule.verb == operation.verb() && rule.key == key)
            .map(|rule| rule.fault);
        let result = request.await;
        match fault {
            None => result,
            Some(Fault::LoseAnswer(after)) => {
                tokio::time::sleep(after).await;
                Err(StoreError::Timeout)
            }
            Some(Fault::SlowAnswer(after)) => {
                tokio::time::sleep(after).await;
                result
            }
        }
    }

    fn passes_watches(&self) -> bool {
        !self.deaf.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// An event and when it arrived.
pub type Timed = (std::time::Instant, CandidateEvent);

/// Collects a client's events with their arrival times, in the background.
pub fn record_events(client: &LeaderElectionClient) -> Arc<std::sync::Mutex<Vec<Timed>>> {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut events = client.events();
    let sink = log.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            sink.lock()
                .unwrap()
                .push((std::time::Instant::now(), event));
        }
    });
    log
}

/// When the first event matching `wanted` was recorded, waiting for it for
/// up to [`PATIENCE`] (events reach the recorder a moment after they
/// happen).
pub async fn recorded(
    log: &std::sync::Mutex<Vec<Timed>>,
    wanted: impl Fn(&CandidateEvent) -> bool,
) -> std::time::Instant {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(at) = first_event(log, &wanted) {
                return at;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the event was recorded in time")
}

/// The first recorded event matching `wanted`, if any.
pub fn first_event(
    log: &std::sync::Mutex<Vec<Timed>>,
    wanted: impl Fn(&CandidateEvent) -> bool,
) -> Option<std::time::Instant> {
    log.lock()
        .unwrap()
        .iter()
        .find(|(_, event)| wanted(event))
        .map(|(at, _)| *at)
}
