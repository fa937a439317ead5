//! The service's bounds against a client that invents ids to watch a key
//! many times over, fans a large value out to them, fills the store, or
//! reads a large value over and over: what a write costs stays small and so
//! does the service's memory (its peak RSS, read from /proc). Real
//! mosquitto, real `elector statestore` process (`docs/security.md`).

use std::time::{Duration, Instant};

use elector_host::StateStoreBackend;
use elector_statestore::{SetOptions, StoreError, StoreErrorKind};

use crate::raw::{all_answers, raw_client, watch_under_invented_ids};
use crate::support::*;

const MIB: usize = 1 << 20;

/// The slowest of `n` round trips `round_trip` makes.
async fn slowest<F: Future<Output = ()>>(n: usize, mut round_trip: impl FnMut() -> F) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let started = Instant::now();
        round_trip().await;
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_ids_watching_one_key_cannot_slow_its_writes() {
    let (broker, _service) = broker_with_service();
    let (mallory, mut answers) = raw_client(broker.port, "mallory", &[&all_answers()]).await;
    let accepted = watch_under_invented_ids(&mallory, &mut answers, "job", 20_000).await;

    let store = connect(broker.port, Duration::from_secs(10)).await;
    let slowest = slowest(20, || set_applied(&store, b"job", b"leader")).await;
    eprintln!("20,000 invented watchers: {accepted} accepted, slowest write {slowest:?}");
    assert!(
        slowest < Duration::from_millis(250),
        "a write of the watched key took {slowest:?}"
    );
    assert_eq!(accepted, 256, "the per-key cap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_value_is_not_fanned_out_to_a_thousand_invented_watchers() {
    let (broker, service) = broker_with_service();
    let (mallory, mut answers) = raw_client(broker.port, "mallory", &[&all_answers()]).await;
    watch_under_invented_ids(&mallory, &mut answers, "big", 1_000).await;

    let store = connect(broker.port, Duration::from_secs(20)).await;
    let written = store
        .set(b"big", &vec![b'v'; MIB], &SetOptions::default())
        .await;
    let peak = service.peak_rss_mib();
    eprintln!("1 MiB to 1,000 invented watchers: {written:?}, service peak RSS {peak} MiB");
    assert!(peak < 100, "the service's peak RSS reached {peak} MiB");
    assert_eq!(
        written,
        Err(StoreError::Refused(StoreErrorKind::QuotaExceeded))
    );
    // A value the watchers may all be sent is written.
    let small = vec![b'v'; 16 * 1024];
    set_applied(&store, b"big", &small).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_past_the_store_budget_are_refused() {
    let (broker, service) = broker_with_service();
    let store = connect(broker.port, Duration::from_secs(10)).await;
    let value = vec![b'v'; MIB];
    let (mut applied, mut refused) = (0, 0);
    for i in 0..200 {
        match store
            .set(
                format!("blob-{i}").as_bytes(),
                &value,
                &SetOptions::default(),
            )
            .await
        {
            Ok(response) if response.applied => applied += 1,
            Err(StoreError::Refused(StoreErrorKind::QuotaExceeded)) => refused += 1,
            other => panic!("SET {i}: {other:?}"),
        }
    }
    let peak = service.peak_rss_mib();
    eprintln!("200 SETs of 1 MiB: {applied} applied, {refused} refused, peak RSS {peak} MiB");
    assert!(peak < 100, "the service's peak RSS reached {peak} MiB");
    assert!(applied <= 16, "{applied} MiB stored in a 16 MiB budget");
    assert_eq!(applied + refused, 200);
    // Deleting makes room again.
    assert!(store.del(b"blob-0", None).await.is_ok());
    set_applied(&store, b"blob-new", &value).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_a_large_value_are_not_kept_for_resends() {
    let (broker, service) = broker_with_service();
    let store = connect(broker.port, Duration::from_secs(10)).await;
    set_applied(&store, b"blob", &vec![b'v'; MIB]).await;
    for _ in 0..200 {
        assert_eq!(store.get(b"blob").await.unwrap().unwrap().value.len(), MIB);
    }
    store.del(b"blob", None).await.unwrap();
    let peak = service.peak_rss_mib();
    eprintln!("200 GETs of a 1 MiB value: service peak RSS {peak} MiB");
    assert!(peak < 100, "the service's peak RSS reached {peak} MiB");
}
