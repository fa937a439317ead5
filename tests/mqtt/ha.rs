//! `elector statestore --etcd`: three frontends over a real 3-member etcd
//! cluster, on one mosquitto. Candidates elect one leader through them;
//! killing frontends (`kill -9`) and an etcd member changes nothing about
//! who leads, and a new leader takes over through the survivors.

use std::time::Duration;

use crate::support::*;

#[path = "../../service/tests/etcd_cluster/mod.rs"]
#[allow(dead_code)]
mod etcd_cluster;

/// An `elector statestore --etcd` frontend on `broker`.
fn frontend(broker: &Broker, endpoints: &[String]) -> Elector {
    let url = broker.url();
    let etcd = endpoints.join(",");
    Elector::spawn("frontend", &["statestore", "--broker", &url, "--etcd", &etcd])
}

fn leader_of(broker: &Broker) -> Option<String> {
    let url = broker.url();
    let (status, lines) = run_elector(&[
        "leader",
        "job",
        "--broker",
        &url,
        "--request-timeout",
        "3s",
    ]);
    assert!(status.success(), "leader failed: {lines:?}");
    lines[0]["leader"]["name"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_over_etcd_keep_one_leader_through_frontend_and_member_kills() {
    let mut cluster = etcd_cluster::Cluster::start().await;
    let endpoints = cluster.endpoints();
    let broker = Broker::start();
    let mut frontends: Vec<Elector> = (0..3).map(|_| frontend(&broker, &endpoints)).collect();
    tokio::task::block_in_place(|| wait_until_answered(&broker));

    let a = Elector::campaign(&broker, "job", "a", "6s");
    a.expect("elected", PATIENCE);
    let b = Elector::campaign(&broker, "job", "b", "6s");
    assert!(!b.sees("elected", Duration::from_secs(3)), "b elected beside a");

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
        tokio::task::block_in_place(|| leader_of(&broker)).as_deref(),
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
        tokio::task::block_in_place(|| leader_of(&broker)).as_deref(),
        Some("b")
    );
}

/// Waits until some frontend answers a request.
fn wait_until_answered(broker: &Broker) {
    let started = std::time::Instant::now();
    let url = broker.url();
    while !run_elector(&["leader", "ready", "--broker", &url, "--request-timeout", "1s"])
        .0
        .success()
    {
        assert!(started.elapsed() < PATIENCE, "no frontend ever answered");
    }
}
