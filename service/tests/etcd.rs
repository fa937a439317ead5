//! The etcd log of `elector statestore --etcd` against a real 3-member
//! etcd cluster (`etcd_cluster`): ordering, following across member
//! failures, refusal without quorum, snapshots that only move forward,
//! and the single expirer role.

mod etcd_cluster;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use elector_service::etcd::{EtcdError, EtcdLog, Follow};
use etcd_cluster::{Cluster, PATIENCE};
use futures::StreamExt as _;

/// The tests run one at a time: each starts a cluster of its own, and
/// three clusters on two cores would make the timings meaningless.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PREFIX: &str = "elector/statestore/test/";
const TIMEOUT: Duration = Duration::from_secs(2);

async fn connect(endpoints: &[String]) -> EtcdLog {
    EtcdLog::connect(endpoints, PREFIX, TIMEOUT)
        .await
        .expect("connects")
}

/// Appends `entry`, retrying while the cluster is unavailable (a member
/// was just killed, a leader is being elected). A retried entry may be in
/// the log twice: its first append may have committed after timing out.
async fn append(log: &EtcdLog, entry: &[u8]) -> i64 {
    let started = Instant::now();
    loop {
        match log.append(entry).await {
            Ok(revision) => return revision,
            Err(EtcdError::Unavailable(error)) if started.elapsed() < PATIENCE => {
                eprintln!("append retried: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("append failed: {error}"),
        }
    }
}

/// The next entry of `follow`, within [`PATIENCE`].
async fn next(follow: &mut Follow) -> (i64, Vec<u8>) {
    tokio::time::timeout(PATIENCE, follow.next())
        .await
        .expect("an entry within the patience")
        .expect("the stream goes on")
        .expect("no error")
}

/// Entries of `follow` until one at `revision` (which it returns with
/// everything before it).
async fn until(follow: &mut Follow, revision: i64) -> Vec<(i64, Vec<u8>)> {
    let mut entries = Vec::new();
    loop {
        let entry = next(follow).await;
        let last = entry.0;
        entries.push(entry);
        if last >= revision {
            assert_eq!(last, revision, "skipped revision {revision}");
            return entries;
        }
    }
}

fn assert_increasing(entries: &[(i64, Vec<u8>)]) {
    for pair in entries.windows(2) {
        assert!(pair[0].0 < pair[1].0, "revisions out of order: {pair:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_appenders_two_followers_agree_on_one_order() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start().await;
    let endpoints = cluster.endpoints();
    // Each client talks to other members first; one follower only to m2.
    let a = connect(&endpoints).await;
    let b = connect(&[endpoints[1].clone(), endpoints[0].clone()]).await;
    let mut first = a.follow(0);
    let mut second = connect(&[endpoints[2].clone()]).await.follow(0);

    let appender = |log: EtcdLog, name: &'static str| {
        tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..100 {
                let entry = format!("{name}{i}");
                revisions.push((log.append(entry.as_bytes()).await.unwrap(), entry));
            }
            revisions
        })
    };
    let (from_a, from_b) = tokio::join!(appender(a.clone(), "a"), appender(b, "b"));
    let mut appended: Vec<(i64, Vec<u8>)> = from_a
        .unwrap()
        .into_iter()
        .chain(from_b.unwrap())
        .map(|(revision, entry)| (revision, entry.into_bytes()))
        .collect();
    appended.sort();
    let last = appended.last().unwrap().0;

    let seen_first = until(&mut first, last).await;
    let seen_second = until(&mut second, last).await;
    assert_increasing(&seen_first);
    assert_eq!(seen_first, seen_second, "the followers disagree");
    // Each append's revision is where the followers see it, and they see
    // nothing else.
    assert_eq!(seen_first, appended);
    // Both appenders' entries interleave in one order, each in its own.
    let order: Vec<String> = seen_first
        .iter()
        .map(|(_, e)| String::from_utf8(e.clone()).unwrap())
        .collect();
    for name in ["a", "b"] {
        let own: Vec<&String> = order.iter().filter(|e| e.starts_with(name)).collect();
        let expected: Vec<String> = (0..100).map(|i| format!("{name}{i}")).collect();
        assert_eq!(own, expected.iter().collect::<Vec<_>>());
    }

    // A follower that starts late, from the middle, sees the same suffix.
    let middle = seen_first[49].0;
    let mut late = connect(&endpoints).await.follow(middle);
    assert_eq!(until(&mut late, last).await, seen_first[50..].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_resumes_when_members_are_killed() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start().await;
    let endpoints = cluster.endpoints();
    let appender = connect(&endpoints).await;
    let mut follow = connect(&endpoints).await.follow(0);
    let mut seen = Vec::new();
    let mut acknowledged = Vec::new();

    // Each member in turn is killed while entries are appended: whichever
    // member serves the follower's watch dies at some point.
    for victim in 0..3 {
        for i in 0..5 {
            let entry = format!("before-kill-{victim}-{i}").into_bytes();
            acknowledged.push((append(&appender, &entry).await, entry));
        }
        cluster.kill(victim);
        for i in 0..5 {
            let entry = format!("while-{victim}-down-{i}").into_bytes();
            acknowledged.push((append(&appender, &entry).await, entry));
        }
        seen.extend(until(&mut follow, acknowledged.last().unwrap().0).await);
        cluster.restart(victim).await;
    }
    let entry = b"after-all".to_vec();
    acknowledged.push((append(&appender, &entry).await, entry));
    seen.extend(until(&mut follow, acknowledged.last().unwrap().0).await);

    assert_increasing(&seen);
    let seen_set: HashSet<_> = seen.iter().cloned().collect();
    for entry in &acknowledged {
        assert!(seen_set.contains(entry), "never followed: {entry:?}");
    }
    // What was followed across the kills is the log as a fresh follower
    // reads it afterwards.
    let mut fresh = connect(&endpoints).await.follow(0);
    assert_eq!(until(&mut fresh, seen.last().unwrap().0).await, seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_fails_without_quorum_and_works_again_after_a_restart() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start().await;
    let log = connect(&cluster.endpoints()).await;
    append(&log, b"with quorum").await;

    cluster.kill(1);
    cluster.kill(2);
    for _ in 0..3 {
        let started = Instant::now();
        let result = log.append(b"without quorum").await;
        let took = started.elapsed();
        assert!(
            matches!(result, Err(EtcdError::Unavailable(_))),
            "append without quorum: {result:?}"
        );
        assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
        eprintln!("append without quorum failed after {took:?}: {result:?}");
    }
    // Reads that need a quorum fail the same way.
    assert!(matches!(
        log.load_snapshot().await,
        Err(EtcdError::Unavailable(_))
    ));

    cluster.restart(1).await;
    let started = Instant::now();
    append(&log, b"quorum again").await;
    eprintln!(
        "append worked again {:?} after the restart",
        started.elapsed()
    );
    cluster.restart(2).await;
    append(&log, b"all back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_never_move_backwards() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start().await;
    let endpoints = cluster.endpoints();
    let log = connect(&endpoints).await;

    assert_eq!(log.load_snapshot().await.unwrap(), None);
    assert!(log.store_snapshot(10, b"ten").await.unwrap());
    assert!(!log.store_snapshot(5, b"five").await.unwrap());
    assert!(!log.store_snapshot(10, b"other ten").await.unwrap());
    assert_eq!(
        log.load_snapshot().await.unwrap(),
        Some((10, b"ten".to_vec()))
    );
    assert!(log.store_snapshot(11, b"eleven").await.unwrap());
    assert_eq!(
        log.load_snapshot().await.unwrap(),
        Some((11, b"eleven".to_vec()))
    );

    // Two frontends store revisions 12..=111 in opposite orders at once,
    // while a reader checks that the stored revision only grows and
    // always comes with its own bytes.
    let store = |log: EtcdLog, revisions: Vec<i64>| {
        tokio::spawn(async move {
            for revision in revisions {
                log.store_snapshot(revision, format!("snapshot {revision}").as_bytes())
                    .await
                    .unwrap();
            }
        })
    };
    let up: Vec<i64> = (12..=111).collect();
    let down: Vec<i64> = up.iter().rev().copied().collect();
    let other = connect(&[endpoints[2].clone()]).await;
    let writers = [store(log.clone(), up), store(other, down)];
    let reader = connect(&[endpoints[1].clone()]).await;
    let mut last = 11;
    while !writers.iter().all(|w| w.is_finished()) {
        let (revision, bytes) = reader.load_snapshot().await.unwrap().unwrap();
        assert!(
            revision >= last,
            "snapshot went from {last} back to {revision}"
        );
        assert_eq!(bytes, format!("snapshot {revision}").into_bytes());
        last = revision;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(
        log.load_snapshot().await.unwrap(),
        Some((111, b"snapshot 111".to_vec()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_compacted_history_reports_compacted() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start().await;
    let log = connect(&cluster.endpoints()).await;
    let mut revisions = Vec::new();
    for i in 0..5 {
        revisions.push(append(&log, format!("entry {i}").as_bytes()).await);
    }
    log.store_snapshot(revisions[2], b"state after entry 2")
        .await
        .unwrap();
    log.compact(revisions[2]).await.unwrap();

    // From the start: gone.
    let mut from_start = log.follow(0);
    let first = tokio::time::timeout(PATIENCE, from_start.next())
        .await
        .unwrap();
    assert!(
        matches!(first, Some(Err(EtcdError::Compacted(r))) if r == revisions[2]),
        "{first:?}"
    );
    assert!(
        tokio::time::timeout(PATIENCE, from_start.next())
            .await
            .unwrap()
            .is_none()
    );
    // From the snapshot: the rest.
    let (covered, _) = log.load_snapshot().await.unwrap().unwrap();
    let mut from_snapshot = log.follow(covered);
    let rest = until(&mut from_snapshot, revisions[4]).await;
    assert_eq!(
        rest.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        revisions[3..].to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_expirer_at_a_time_and_the_next_takes_over() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start().await;
    let endpoints = cluster.endpoints();
    let a = connect(&endpoints).await;
    let b = connect(&endpoints).await;

    let first = tokio::time::timeout(PATIENCE, a.campaign_expirer("a"))
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_leader());
    let mut second = tokio::spawn(async move { b.campaign_expirer("b").await });
    // The second waits while the first holds the role (well past the
    // lease's TTL: the first keeps its lease alive).
    let early = tokio::time::timeout(Duration::from_secs(4), &mut second).await;
    assert!(early.is_err(), "two expirers at once: {early:?}");
    assert!(first.is_leader());

    // Dropping the role revokes the lease: the second takes over at once.
    let dropped = Instant::now();
    drop(first);
    let second = tokio::time::timeout(PATIENCE, second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let took = dropped.elapsed();
    eprintln!("expirer role passed on {took:?} after a drop");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(second.is_leader());

    // Resigning explicitly passes it on as well.
    let mut third = tokio::spawn(async move { a.campaign_expirer("a again").await });
    let early = tokio::time::timeout(Duration::from_secs(1), &mut third).await;
    assert!(early.is_err(), "two expirers at once: {early:?}");
    second.resign().await.unwrap();
    let third = tokio::time::timeout(Duration::from_secs(3), third)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(third.is_leader());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expirer_cut_off_from_etcd_loses_the_role_before_the_next_has_it() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::start().await;
    let endpoints = cluster.endpoints();
    // The holder reaches only m0; the waiter only m1 and m2.
    let holder_log = connect(&endpoints[..1]).await;
    let waiter_log = connect(&endpoints[1..]).await;
    let holder = holder_log.campaign_expirer("holder").await.unwrap();
    let waiter = tokio::spawn(async move {
        let role = waiter_log.campaign_expirer("waiter").await;
        (Instant::now(), role)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(holder.is_leader());
    assert!(!waiter.is_finished());

    let killed = Instant::now();
    cluster.kill(0);
    tokio::time::timeout(PATIENCE, holder.lost()).await.unwrap();
    let lost_at = Instant::now();
    assert!(!holder.is_leader());
    let (won_at, role) = tokio::time::timeout(PATIENCE, waiter)
        .await
        .unwrap()
        .unwrap();
    let role = role.unwrap();
    assert!(role.is_leader());
    eprintln!(
        "after the kill: holder gave up after {:?}, waiter took over after {:?}",
        lost_at - killed,
        won_at - killed
    );
    assert!(
        lost_at <= won_at,
        "the waiter had the role {:?} before the holder gave it up",
        lost_at - won_at
    );
    assert!(won_at - killed < Duration::from_secs(10));

    // The old holder, back in touch, cannot append as the expirer any
    // more; the new one can.
    cluster.restart(0).await;
    let started = Instant::now();
    let stale = loop {
        match holder_log.append_as(&holder, b"stale expiry").await {
            Err(EtcdError::Unavailable(_)) if started.elapsed() < PATIENCE => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(stale, None);
    let current = connect(&endpoints).await;
    let revision = current.append_as(&role, b"expiry").await.unwrap();
    assert!(revision.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_to_follow_latency() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::start().await;
    let endpoints = cluster.endpoints();
    let appender = connect(&endpoints).await;
    let mut follow = connect(&endpoints).await.follow(0);
    // Warm up the connections.
    let revision = append(&appender, b"warm-up").await;
    until(&mut follow, revision).await;

    let started = Instant::now();
    let mut latencies = Vec::with_capacity(500);
    for i in 0..500 {
        let sent = Instant::now();
        let revision = appender
            .append(format!("entry {i}").as_bytes())
            .await
            .unwrap();
        let (seen, _) = next(&mut follow).await;
        assert_eq!(seen, revision);
        latencies.push(sent.elapsed());
    }
    let total = started.elapsed();
    assert!(
        total < Duration::from_secs(120),
        "500 appends took {total:?}"
    );
    latencies.sort();
    eprintln!(
        "append+follow over 500 appends to a 3-member etcd: median {:?}, p99 {:?}, max {:?} ({:?} in all)",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1],
        total
    );
}
