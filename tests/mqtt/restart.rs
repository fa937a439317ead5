//! `elector statestore` restarted under running candidates: durable, it
//! comes back with every lease, registration and answer; in memory, it
//! grants no position for its lock-delay. Either way nobody but the
//! leader of before the restart is elected.

use std::sync::Arc;
use std::time::Duration;

use elector_host::StateStoreBackend;
use elector_host::store::NotificationQueue;
use elector_statestore::{KeyEvent, SetOptions};
use tokio::sync::Notify;

use crate::support::*;

/// The scenario of issue 11: `a` leads `job` (term 10 s, renewing), the
/// service is killed with `kill -9` and started again at once, and `c`
/// campaigns 0.3 s later. `restart` brings the service back. Returns `a`
/// and `c`, after watching `c` for long enough to include `a`'s first
/// renewal after the restart.
fn kill_and_restart_under_a_leader(
    broker: &Broker,
    service: Service,
    restart: impl FnOnce() -> Service,
) -> (Elector, Elector, Service) {
    let a = Elector::campaign(broker, "job", "a", "10s");
    a.expect("elected", PATIENCE);
    service.signal("KILL");
    drop(service);
    let service = restart();
    std::thread::sleep(Duration::from_millis(300));
    let c = Elector::campaign(broker, "job", "c", "10s");
    // `a` renews within its first half-term (5 s): past that, the old
    // service would have let `c` in long ago.
    assert!(
        !c.sees("elected", Duration::from_secs(7)),
        "c was elected while a still led"
    );
    (a, c, service)
}

#[test]
fn a_durable_service_restarted_after_kill_9_keeps_the_leader() {
    let broker = Broker::start();
    let data = tempfile::tempdir().unwrap();
    let service = Service::start_in(&broker, data.path());
    let (a, _c, _service) = kill_and_restart_under_a_leader(&broker, service, || {
        Service::start_in(&broker, data.path())
    });
    assert!(
        !a.sees("lost", Duration::from_millis(100)),
        "a lost a lease the store kept"
    );
    let url = broker.url();
    let (_, lines) = run_elector(&["leader", "job", "--broker", &url]);
    assert_eq!(lines[0]["leader"]["name"], "a");
}

#[test]
fn an_in_memory_service_restarted_after_kill_9_grants_nothing_for_its_lock_delay() {
    let broker = Broker::start();
    // The first start has nobody to wait out.
    let service = Service::start_with(&broker, broker.port, &["--in-memory", "--lock-delay", "0s"]);
    // `a`'s lease is gone with the old store, and its renewal finds the
    // position held: it loses it, and `c` does not get it either.
    let flags = ["--in-memory", "--lock-delay", "30s"];
    let (a, _c, _service) = kill_and_restart_under_a_leader(&broker, service, || {
        Service::start_with(&broker, broker.port, &flags)
    });
    a.expect("lost", PATIENCE);
}

/// A watcher registered before the crash hears, after the restart, of a
/// key that expired while the service was down (its registration came
/// back from disk: nobody registered it again), and a write answered
/// before the crash is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_service_tells_watchers_of_keys_that_expired_while_it_was_down() {
    let broker = Broker::start();
    let data = tempfile::tempdir().unwrap();
    let service = tokio::task::block_in_place(|| Service::start_in(&broker, data.path()));
    let watcher = connect(broker.port, Duration::from_secs(3)).await;
    let writer = connect(broker.port, Duration::from_secs(3)).await;
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    let _watch = watcher.watch(b"lease", queue.clone()).await.unwrap();
    let expiring = SetOptions {
        expiry_ms: Some(1_000),
        ..SetOptions::default()
    };
    writer.set(b"lease", b"w", &expiring).await.unwrap();
    writer
        .set(b"kept", b"1", &SetOptions::default())
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .expect("the SET is heard");
    assert_eq!(queue.take_all()[0].event, KeyEvent::Set(b"w".to_vec()));

    service.signal("KILL");
    drop(service);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let service = tokio::task::block_in_place(|| Service::start_in(&broker, data.path()));

    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .expect("the expiry while down is heard after the restart");
    assert_eq!(queue.take_all().last().unwrap().event, KeyEvent::Delete);
    let kept = writer.get(b"kept").await.unwrap().expect("kept");
    assert_eq!(kept.value, b"1");
    drop(service);
}
