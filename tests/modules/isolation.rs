//! Misbehaving modules stay in their sandboxes, and in their key prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use elector_cli::ops::{Monitor, ReplicaLabels};
use elector_cli::replica::{self, ReplicaConfig, ReplicaEnvironment};
use elector_host::module::{Grants, KeyLimits, ModuleLimits, ModuleRuntime};
use elector_host::{ElectorRuntime, EmbeddedStore, RuntimeConfig, StateStoreBackend};
use tokio_util::sync::CancellationToken;

use crate::ROGUE_MODULE;
use crate::support::PATIENCE;

/// An embedded store, and the environment the rogue module's replicas run
/// in on it.
fn store_and_environment() -> (EmbeddedStore, Arc<ReplicaEnvironment>) {
    let store = EmbeddedStore::new();
    let limits = ModuleLimits {
        memory: 16 << 20,
        compute: Duration::from_millis(200),
        hook_time: Duration::from_millis(500),
        keys: KeyLimits {
            max_keys: 50,
            ..KeyLimits::default()
        },
        ..ModuleLimits::default()
    };
    let environment = Arc::new(ReplicaEnvironment {
        elector: ElectorRuntime::new(RuntimeConfig::default()).unwrap(),
        module: ModuleRuntime::load(ROGUE_MODULE.as_ref(), limits, Grants::default()).unwrap(),
        store: Arc::new(store.clone()),
        monitor: Monitor::default(),
    });
    (store, environment)
}

fn config(position: &str, replica: &str) -> ReplicaConfig {
    ReplicaConfig {
        position: position.into(),
        replica: replica.into(),
        prefix: elector_cli::run::default_prefix(position),
        term: Duration::from_millis(600),
        renewal_period: Duration::from_millis(200),
        tick: Duration::from_millis(50),
        module: "rogue".into(),
    }
}

/// Replicas of the rogue module, one per `(position, name)`, running until
/// [`Running::stop`].
struct Running {
    shutdown: CancellationToken,
    replicas: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

fn start(environment: &Arc<ReplicaEnvironment>, replicas: &[(&str, &str)]) -> Running {
    let shutdown = CancellationToken::new();
    let replicas = replicas
        .iter()
        .map(|(position, name)| {
            let config = config(position, name);
            tokio::spawn(replica::run(config, environment.clone(), shutdown.clone()))
        })
        .collect();
    Running { shutdown, replicas }
}

impl Running {
    /// Shuts every replica down; each must stop cleanly within patience.
    async fn stop(self) {
        self.shutdown.cancel();
        for replica in self.replicas {
            let stopped = tokio::time::timeout(PATIENCE, replica).await;
            stopped.expect("stopped in time").unwrap().unwrap();
        }
    }
}

/// Waits (failing after patience) until `key` is in the store.
async fn until_written(store: &EmbeddedStore, key: &str) {
    let started = Instant::now();
    while store.get(key.as_bytes()).await.unwrap().is_none() {
        assert!(started.elapsed() < PATIENCE, "{key} never written");
        tokio::time::sleep(Duration::from_millis(20)).await;
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
    let (store, environment) = store_and_environment();
    let running = start(
        &environment,
        &[
            ("good", "healthy"),
            ("t", "trap"),
            ("s", "spin"),
            ("h", "hog"),
        ],
    );
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
    running.stop().await;
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
    let (store, environment) = store_and_environment();
    let running = start(&environment, &[("pos", "escape")]);
    until_written(&store, "module/pos/beat/escape").await;
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
    running.stop().await;
}

fn module_metrics(environment: &ReplicaEnvironment, position: &str, replica: &str) -> (u64, u64) {
    let metrics = environment.monitor.metrics.module(&ReplicaLabels {
        position: position.into(),
        replica: replica.into(),
    });
    (metrics.restarts.get(), metrics.budget_overruns.get())
}

/// Hooks that loop over host calls used to run forever: every host call
/// reset the CPU budget. Now the budget counts the whole hook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_that_loop_over_host_calls_are_stopped_and_restarted() {
    let (_store, environment) = store_and_environment();
    let running = start(&environment, &[("c", "chatter"), ("r", "reader")]);
    let started = Instant::now();
    while module_metrics(&environment, "c", "chatter").1 < 2
        || module_metrics(&environment, "r", "reader").1 < 2
    {
        assert!(
            started.elapsed() < PATIENCE,
            "chatter {:?}, reader {:?} (restarts, overruns)",
            module_metrics(&environment, "c", "chatter"),
            module_metrics(&environment, "r", "reader")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A hook that overran gave up the position on its way down: nobody
    // holds it for more than a moment between instances.
    running.stop().await;
}

/// Shutdown does not wait for a hook: a module stuck in one is abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_a_hook() {
    let (store, environment) = store_and_environment();
    let running = start(&environment, &[("r", "reader")]);
    until_written(&store, "module/r/beat/reader").await;
    // The hook is looping over the store now.
    let stopping = Instant::now();
    running.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_millis(300),
        "stopped {:?} after shutdown",
        stopping.elapsed()
    );
    assert!(store.get(b"r").await.unwrap().is_none(), "resigned");
}

/// A module's store requests are paced: a hook looping over reads reaches
/// the store at the module's rate, not as fast as the host can go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_reaches_the_store_at_its_rate() {
    let (_store, mut environment) = store_and_environment();
    let counted =
        elector_cli::ops::instrumented(environment.store.clone(), &environment.monitor.metrics);
    Arc::get_mut(&mut environment).unwrap().store = Arc::new(counted);
    let metrics = environment.monitor.metrics.clone();
    let running = start(&environment, &[("r", "reader")]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.stop().await;
    use elector_cli::ops::Exposition as _;
    let scrape = metrics.encode();
    let gets: f64 = scrape
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"elector_state_store_request_seconds_count{operation="get"} "#)
        })
        .unwrap()
        .parse()
        .unwrap();
    // 200 a second, bursts of 200: about 600 in 2 s (the election's own
    // reads are a handful).
    assert!(gets < 800.0, "{gets} reads in 2 s");
}

/// A module that writes new keys without end is stopped at its quota,
/// before it can fill the store's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_cannot_write_more_keys_than_its_quota() {
    let (store, environment) = store_and_environment();
    let running = start(&environment, &[("f", "filler")]);
    let started = Instant::now();
    while environment
        .monitor
        .metrics
        .module(&ReplicaLabels {
            position: "f".into(),
            replica: "filler".into(),
        })
        .hook_errors
        .get()
        == 0
    {
        assert!(started.elapsed() < PATIENCE);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await;
    // 50 keys at most (the beat is one of them).
    assert!(store.get(b"module/f/fill/48").await.unwrap().is_some());
    assert!(store.get(b"module/f/fill/49").await.unwrap().is_none());
    assert_eq!(store.len(), 50, "the module's keys (the position resigned)");
}

/// A position nested in another (`a` and `a/beat`) gets a key space of its
/// own: the outer module cannot write the inner one's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_positions_have_disjoint_key_spaces() {
    assert_eq!(elector_cli::run::default_prefix("a"), "module/a/");
    assert_eq!(
        elector_cli::run::default_prefix("a/beat"),
        "module/a%2Fbeat/"
    );
    assert_eq!(
        elector_cli::run::default_prefix("50%/x"),
        "module/50%25%2Fx/"
    );
    let (store, environment) = store_and_environment();
    // `a`'s module writes beat/<its replica name>: `beat/counter` is what
    // the module at `a/beat` would call `counter`.
    let running = start(&environment, &[("a", "counter"), ("a/beat", "healthy")]);
    until_written(&store, "module/a/beat/counter").await;
    running.stop().await;
    assert!(
        store
            .get(b"module/a%2Fbeat/counter")
            .await
            .unwrap()
            .is_none(),
        "a/beat's own key space is untouched"
    );
}
