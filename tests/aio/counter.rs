//! `examples/aio-counter`: four instances count over-temperature readings
//! into one key. With the elector the count is exact; with the hand-rolled
//! lock of Microsoft's sample, increments are lost where requests take
//! time (over MQTT), and the loss is printed.

use std::sync::Arc;
use std::time::Duration;

use elector_host::aio::dataflow::DataflowReport;
use elector_host::store::{EmbeddedStore, StateStoreBackend};

use elector_host::aio::metrics::AioMetrics;

use crate::artifacts::{COUNTER, COUNTER_COMPOSED, options, run, run_with_metrics};
use crate::support::{Broker, ServiceInProcess, connect};

const KEY: &[u8] = b"aio-counter/overtemp-count";

async fn count(store: &dyn StateStoreBackend) -> u64 {
    store
        .get(KEY)
        .await
        .unwrap()
        .map(|v| String::from_utf8(v.value).unwrap().parse().unwrap())
        .unwrap_or(0)
}

fn failed(report: &DataflowReport) -> u64 {
    report.instances.iter().map(|i| i.failed).sum()
}

/// Runs the counter with `lock` over `store`, which must start without the
/// key; returns (readings sent, final count).
async fn run_counter(store: Arc<dyn StateStoreBackend>, lock: &str) -> (u64, u64, DataflowReport) {
    let options = options(4, 500, Duration::from_millis(5), &[("lock", lock)]);
    // `composed`: the counter written against elector-aio.wasm (form (b)).
    let operator = if lock == "composed" {
        COUNTER_COMPOSED
    } else {
        COUNTER
    };
    let report = run(operator, store.clone(), options).await;
    let counted = count(&*store).await;
    println!(
        "aio-counter, lock={lock}: {} over-temperature readings, count {counted}, lost {}, failed process calls {}, {} ms",
        report.over_temperature_sent,
        report.over_temperature_sent.saturating_sub(counted),
        failed(&report),
        report.elapsed_ms
    );
    (report.over_temperature_sent, counted, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_elector_the_count_is_exact_on_the_embedded_store() {
    let store: Arc<dyn StateStoreBackend> = Arc::new(EmbeddedStore::new());
    let (sent, counted, report) = run_counter(store, "elector").await;
    assert_eq!(failed(&report), 0, "{report:?}");
    assert!(sent > 600, "the stream holds over-temperature readings");
    assert_eq!(counted, sent);
}

/// The operator's `metrics` calls reach the Prometheus registry, one
/// series per instance, adding up to what was counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operators_metrics_reach_the_prometheus_registry() {
    let store: Arc<dyn StateStoreBackend> = Arc::new(EmbeddedStore::new());
    let metrics = AioMetrics::default();
    let options = options(2, 30, Duration::from_millis(1), &[]);
    run_with_metrics(COUNTER, store.clone(), options, metrics.clone()).await;
    let text = metrics.text();
    let total: u64 = text
        .lines()
        .filter(|line| line.starts_with("aio_overtemp_counted_total{"))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(text.contains(r#"instance="1""#), "{text}");
    assert_eq!(total, count(&*store).await, "{text}");
}

/// A broker with `elector statestore` on it, and a client of that store;
/// each test its own, so each starts without the key.
async fn mqtt_store() -> (Broker, ServiceInProcess, Arc<dyn StateStoreBackend>) {
    let broker = Broker::start();
    let service = ServiceInProcess::start(&broker, elector_statestore::Limits::default());
    let store = Arc::new(connect(broker.port, Duration::from_secs(5)).await);
    (broker, service, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_mqtt_with_the_elector_the_count_is_exact() {
    let (_broker, _service, store) = mqtt_store().await;
    let (sent, counted, report) = run_counter(store, "elector").await;
    assert_eq!(failed(&report), 0, "{report:?}");
    assert_eq!(counted, sent);
}

/// Form (b): the same count through elector-aio.wasm's
/// campaign-and-replace-value, over MQTT.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_mqtt_the_composed_counter_is_exact() {
    let (_broker, _service, store) = mqtt_store().await;
    let (sent, counted, report) = run_counter(store, "composed").await;
    assert_eq!(failed(&report), 0, "{report:?}");
    assert_eq!(counted, sent);
}

/// The exactness assertion of the tests above fails against the
/// hand-rolled lock: over MQTT its count falls short, silently (no
/// `process` call fails for most lost increments).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_mqtt_the_hand_rolled_lock_loses_counts() {
    let (_broker, _service, store) = mqtt_store().await;
    let (sent, counted, report) = run_counter(store, "hand-rolled").await;
    assert!(
        counted < sent,
        "the hand-rolled lock lost no count this time ({counted} of {sent}, {} failed)",
        failed(&report)
    );
}

/// No `process` call stalls the graph: with the position held by someone
/// else for a minute, each call gives up after its update timeout and
/// fails the message, and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_call_waits_no_longer_than_its_timeout() {
    let store: Arc<dyn StateStoreBackend> = Arc::new(EmbeddedStore::new());
    let held = elector_statestore::SetOptions {
        expiry_ms: Some(60_000),
        ..Default::default()
    };
    store
        .set(b"aio-counter/position", b"someone-else", &held)
        .await
        .unwrap();
    let mut options = options(
        1,
        3,
        Duration::from_millis(1),
        &[("lock", "elector"), ("update-timeout-ms", "300")],
    );
    options.over_every = 1;
    let started = std::time::Instant::now();
    let report = run(COUNTER, store.clone(), options).await;
    let elapsed = started.elapsed();
    println!("3 blocked process calls took {elapsed:?}");
    assert_eq!(failed(&report), 3, "{report:?}");
    assert!(
        report.instances[0].errors[0].contains("timed out"),
        "{report:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(count(&*store).await, 0);
}
