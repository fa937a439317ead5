use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use elector_host::{
    ClientError, ClientOptions, ElectorRuntime, LeaderElectionClient, RuntimeConfig,
};

use crate::support::*;

/// A component of the elector world that misbehaves on purpose
/// (`tests/rogue-guest`): candidates named `trap`, `spin` or `hog` trap,
/// loop forever or allocate without bound when they campaign.
const ROGUE_WASM: &[u8] = elector_test_fixtures::ROGUE_GUEST_WASM;

/// A runtime of the misbehaving component, with tight limits.
fn rogue_runtime() -> &'static ElectorRuntime {
    static RUNTIME: OnceLock<ElectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let config = RuntimeConfig {
            memory_limit: 8 << 20,
            max_compute: Duration::from_millis(300),
            ..RuntimeConfig::default()
        };
        ElectorRuntime::with_component(config, ROGUE_WASM).expect("rogue compiles")
    })
}

async fn misbehave(store: &Arc<dyn elector_host::StateStoreBackend>, name: &str) -> ClientError {
    let rogue = LeaderElectionClient::start(
        rogue_runtime(),
        store.clone(),
        ClientOptions::new("position", name),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let error = tokio::time::timeout(PATIENCE, rogue.try_campaign(Duration::from_secs(1)))
        .await
        .expect("contained in time")
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    // The sandbox is gone for good, and says why.
    let again = rogue.current_leader().await.unwrap_err();
    assert!(matches!(again, ClientError::SandboxFailed(_)));
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traps_endless_loops_and_memory_hogs_stay_in_their_sandbox() {
    let (_, store) = embedded();
    // A healthy candidate keeps renewing throughout.
    let healthy = client(&store, "healthy").await;
    healthy
        .set_automatic_renewal(Some(elector_host::AutomaticRenewal {
            term: Duration::from_millis(300),
            period: Duration::from_millis(100),
        }))
        .await
        .unwrap();
    healthy
        .campaign(Duration::from_millis(300), None)
        .await
        .unwrap();

    for (name, expected) in [
        ("trap", "wasm trap"),
        ("spin", "without returning to the host"),
        ("hog", "memory"),
    ] {
        let error = misbehave(&store, name).await;
        let text = format!("{error:?}").to_lowercase();
        assert!(
            matches!(error, ClientError::SandboxFailed(_)),
            "{name}: {error:?}"
        );
        assert!(
            text.contains(expected),
            "{name}: expected {expected:?} in {text}"
        );
        assert!(
            healthy.is_leader(),
            "{name} did not disturb the healthy leader"
        );
    }
    assert_eq!(
        healthy.current_leader().await.unwrap().unwrap().name,
        "healthy"
    );
}
