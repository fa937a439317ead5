//! Misbehaving modules stay in their sandboxes, and in their key prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use elector_host::module::replica::{self, ReplicaConfig, ReplicaEnvironment};
use elector_host::module::{Grants, ModuleLimits, ModuleRuntime};
use elector_host::ops::{Monitor, ReplicaLabels};
use elector_host::{ElectorRuntime, EmbeddedStore, RuntimeConfig, StateStoreBackend};
use tokio_util::sync::CancellationToken;

use crate::ROGUE_MODULE;
use crate::support::PATIENCE;

fn environment(store: &EmbeddedStore) -> Arc<ReplicaEnvironment> {
    let limits = ModuleLimits {
        memory: 16 << 20,
        compute: Duration::from_millis(200),
    };
    Arc::new(ReplicaEnvironment {
        elector: ElectorRuntime::new(RuntimeConfig::default()).unwrap(),
        module: ModuleRuntime::load(ROGUE_MODULE.as_ref(), limits, Grants::default()).unwrap(),
        store: Arc::new(store.clone()),
        monitor: Monitor::default(),
    })
}

fn config(position: &str, replica: &str) -> ReplicaConfig {
    ReplicaConfig {
        position: position.into(),
        replica: replica.into(),
        prefix: format!("module/{position}/"),
        term: Duration::from_millis(600),
        renewal_period: Duration::from_millis(200),
        tick: Duration::from_millis(50),
        module: "rogue".into(),
    }
}

async fn version_of(store: &EmbeddedStore, key: &str) -> Option<u64> {
    store
        .get(key.as_bytes())
        .await
        .unwrap()
        .map(|v| v.version.wall_clock_ms * 100_000 + u64::from(v.version.counter))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_spins_and_hogs_are_restarted_while_a_healthy_module_keeps_working() {
    let store = EmbeddedStore::new();
    let environment = environment(&store);
    let shutdown = CancellationToken::new();
    let mut replicas = Vec::new();
    for (position, name) in [
        ("good", "healthy"),
        ("t", "trap"),
        ("s", "spin"),
        ("h", "hog"),
    ] {
        replicas.push(tokio::spawn(replica::run(
            config(position, name),
            environment.clone(),
            shutdown.clone(),
        )));
    }
    // The healthy module's heartbeat keeps moving the whole time.
    let mut last = None;
    let started = Instant::now();
    let mut beats = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let now = version_of(&store, "module/good/beat/healthy").await;
        if now.is_some() && now != last {
            beats += 1;
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        beats >= 30,
        "the healthy module kept ticking: {beats} beats in 4 s"
    );
    let restarts = |replica: &str, position: &str| {
        environment
            .monitor
            .metrics
            .module(&ReplicaLabels {
                position: position.into(),
                replica: replica.into(),
            })
            .restarts
            .get()
    };
    for (replica, position) in [("trap", "t"), ("spin", "s"), ("hog", "h")] {
        assert!(
            restarts(replica, position) >= 2,
            "{replica} was restarted again and again"
        );
        // Each crashed module beat once per instance before misbehaving.
        assert!(
            version_of(&store, &format!("module/{position}/beat/{replica}"))
                .await
                .is_some()
        );
    }
    assert_eq!(restarts("healthy", "good"), 0);
    shutdown.cancel();
    for replica in replicas {
        tokio::time::timeout(PATIENCE, replica)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
    // Shutting down resigned every position.
    for position in ["good", "t", "s", "h"] {
        assert!(
            store.get(position.as_bytes()).await.unwrap().is_none(),
            "{position} released"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_cannot_name_a_key_outside_its_prefix() {
    let store = EmbeddedStore::new();
    let environment = environment(&store);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(replica::run(
        config("pos", "escape"),
        environment,
        shutdown.clone(),
    ));
    let started = Instant::now();
    while store
        .get(b"module/pos/beat/escape")
        .await
        .unwrap()
        .is_none()
    {
        assert!(started.elapsed() < PATIENCE);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // What looked like paths out of the prefix are names inside it.
    for key in [
        "module/pos/../escaped",
        "module/pos//escaped",
        "module/pos/..\\escaped",
        "module/pos/../../pos",
    ] {
        assert!(store.get(key.as_bytes()).await.unwrap().is_some(), "{key}");
    }
    for outside in ["escaped", "/escaped", "module/escaped", "..\\escaped"] {
        assert!(
            store.get(outside.as_bytes()).await.unwrap().is_none(),
            "{outside} untouched"
        );
    }
    // The position key still holds the lock value, not the module's write.
    assert_eq!(store.get(b"pos").await.unwrap().unwrap().value, b"escape");
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
