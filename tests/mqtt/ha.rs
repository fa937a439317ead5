//! `elector statestore --etcd`: three frontends over a real 3-member etcd
//! cluster, on one mosquitto. Candidates elect one leader through them;
//! killing frontends (`kill -9`) and an etcd member changes nothing about
//! who leads, and a new leader takes over through the survivors.

use std::time::Duration;

use crate::support::*;

use crate::etcd_store::{EtcdStore, frontend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_over_etcd_keep_one_leader_through_frontend_and_member_kills() {
    let EtcdStore {
        mut frontends,
        broker,
        mut cluster,
    } = EtcdStore::start(3).await;
    let endpoints = cluster.endpoints();

    let a = Elector::campaign(&broker, "job", "a", "6s");
    a.expect("elected", PATIENCE);
    let b = Elector::campaign(&broker, "job", "b", "6s");
    assert!(
        !b.sees("elected", Duration::from_secs(3)),
        "b elected beside a"
    );

    // Two frontends die; the third serves; a keeps renewing.
    frontends[0].kill();
    frontends[1].kill();
    cluster.kill(0);
    assert!(
        !b.sees("elected", Duration::from_secs(4)),
        "b elected while a renewed through the survivors"
    );
    assert!(!a.sees("lost", Duration::from_millis(10)));
    assert_eq!(
        tokio::task::block_in_place(|| leader_of(&broker, "job")).as_deref(),
        Some("a")
    );

    // a resigns: b takes over through the surviving frontend.
    a.terminate();
    b.expect("elected", PATIENCE);
    cluster.restart(0).await;
    frontends[0] = frontend(&broker, &endpoints);
    frontends[2].kill();
    assert!(!b.sees("lost", Duration::from_secs(4)), "b lost its lease");
    assert_eq!(
        tokio::task::block_in_place(|| leader_of(&broker, "job")).as_deref(),
        Some("b")
    );
}

/// Without etcd quorum nothing is applied: a request gets no answer (the
/// client's retryable timeout), and once quorum is back the store answers
/// again with what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_etcd_quorum_requests_time_out_and_resume_with_quorum() {
    use elector_host::StateStoreBackend;
    use elector_statestore::{SetOptions, StoreError};

    let mut store = EtcdStore::start(1).await;
    let client = connect(store.broker.port, Duration::from_secs(2)).await;
    client
        .set(b"kept", b"1", &SetOptions::default())
        .await
        .unwrap();
    store.cluster.kill(0);
    store.cluster.kill(1);
    let refused = client.set(b"lost", b"1", &SetOptions::default()).await;
    assert!(
        matches!(refused, Err(StoreError::Timeout)),
        "without quorum: {refused:?}"
    );
    store.cluster.restart(0).await;
    let started = std::time::Instant::now();
    let kept = loop {
        match client.get(b"kept").await {
            Ok(found) => break found,
            Err(_) => assert!(
                started.elapsed() < PATIENCE,
                "no answer after quorum came back"
            ),
        }
    };
    assert_eq!(kept.expect("kept").value, b"1");
}

/// A single-node service started beside the frontends would hold a store of
/// its own on their broker: it refuses, naming one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_service_beside_the_frontends_is_refused() {
    let store = EtcdStore::start(2).await;
    let url = store.broker.url();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_elector"))
            .args(["statestore", "--broker", &url, "--in-memory"])
            .output()
            .expect("elector runs")
    });
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .expect("the single-node service kept running beside the frontends")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another elector statestore is serving this broker")
            && stderr.contains("elector-statestore-"),
        "{stderr}"
    );
}
