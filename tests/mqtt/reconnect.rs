//! The client through link failures: nothing hangs, watches come back, and
//! a change missed while disconnected is surfaced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use elector_host::StateStoreBackend;
use elector_host::store::NotificationQueue;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};
use elector_statestore::protocol;
use elector_statestore::{KeyEvent, SetOptions, StoreError};
use tokio::sync::Notify;

use crate::raw::{next, raw_client};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_when_the_link_is_cut_and_work_again_after() {
    let (broker, _service) = broker_with_service();
    let proxy = Proxy::start(broker.port).await;
    let store = connect(proxy.port, Duration::from_secs(2)).await;
    assert!(store.get(b"k").await.unwrap().is_none());
    proxy.cut();
    let started = Instant::now();
    // Whether the client has seen the cut yet or not: on a dying link the
    // request fails with the link; on a dead one it waits for the link,
    // which does not come back within the timeout.
    assert_eq!(store.get(b"k").await, Err(StoreError::Disconnected));
    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "bounded by the request timeout"
    );
    proxy.restore();
    let started = Instant::now();
    loop {
        if store.set(b"k", b"v", &SetOptions::default()).await.is_ok() {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the client never came back");
    }
    assert!(store.connections() >= 2, "reconnected");
    assert_eq!(store.get(b"k").await.unwrap().unwrap().value, b"v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_fails_at_once_with_disconnected_when_the_link_drops() {
    // No state store on the broker: the request waits for an answer.
    let broker = Broker::start();
    let (_sniffer, mut at_the_broker) =
        raw_client(broker.port, "sniffer", &[protocol::REQUEST_TOPIC]).await;
    let proxy = Proxy::start(broker.port).await;
    let timeout = Duration::from_secs(10);
    let store = connect(proxy.port, timeout).await;
    let request = tokio::spawn({
        let store = store.clone();
        async move { store.get(b"k").await }
    });
    next(&mut at_the_broker).await;
    let cut = Instant::now();
    proxy.cut();
    let result = tokio::time::timeout(PATIENCE, request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result, Err(StoreError::Disconnected));
    assert!(
        cut.elapsed() < Duration::from_secs(1),
        "at once, not after the {timeout:?} timeout: {:?}",
        cut.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_client_stays_closed_and_a_dropped_one_closes_its_connection() {
    let (broker, _service) = broker_with_service();
    let proxy = Proxy::start(broker.port).await;
    let timeout = Duration::from_secs(2);

    let store = connect(proxy.port, timeout).await;
    assert_eq!(store.get(b"k").await, Ok(None));
    store.disconnect().await;
    all_closed_within(&proxy, Duration::from_secs(1)).await;
    let started = Instant::now();
    assert_eq!(store.get(b"k").await, Err(StoreError::Disconnected));
    assert!(started.elapsed() < Duration::from_millis(100), "at once");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(proxy.open_connections(), 0, "and it does not come back");
    assert_eq!(store.connections(), 0);

    // Dropping the last handle closes the connection too, within a
    // second, not at the next keep-alive.
    let store = connect(proxy.port, timeout).await;
    assert_eq!(store.get(b"k").await, Ok(None));
    assert_eq!(proxy.open_connections(), 1);
    drop(store);
    all_closed_within(&proxy, Duration::from_secs(1)).await;
}

async fn all_closed_within(proxy: &Proxy, wait: Duration) {
    let started = Instant::now();
    while proxy.open_connections() != 0 {
        assert!(started.elapsed() < wait, "a connection outlived its client");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_missed_while_disconnected_is_surfaced_and_the_watch_restored() {
    let (broker, _service) = broker_with_service();
    let proxy = Proxy::start(broker.port).await;
    let watcher = connect(proxy.port, Duration::from_secs(2)).await;
    let writer = connect(broker.port, Duration::from_secs(2)).await;
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    let _watch = watcher.watch(b"lock", queue.clone()).await.unwrap();
    writer
        .set(b"lock", b"a", &SetOptions::default())
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .unwrap();
    assert_eq!(queue.take_all()[0].event, KeyEvent::Set(b"a".to_vec()));

    proxy.cut();
    // Changed while the watcher cannot hear it.
    writer
        .set(b"lock", b"b", &SetOptions::default())
        .await
        .unwrap();
    proxy.restore();

    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .expect("the missed change is surfaced");
    let surfaced = queue.take_all();
    assert_eq!(surfaced.last().unwrap().event, KeyEvent::Set(b"b".to_vec()));
    // And the registration is live again.
    writer.del(b"lock", None).await.unwrap();
    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .expect("live again");
    assert_eq!(queue.take_all().last().unwrap().event, KeyEvent::Delete);
}

/// Someone claiming the watcher's client id sends `KEYNOTIFY … STOP` (a
/// plain broker cannot stop that): the watch goes silent for at most one
/// refresh period, and the change it missed is surfaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_stopped_behind_the_clients_back_is_restored_within_a_refresh() {
    use elector_statestore as ss;
    let (broker, _service) = broker_with_service();
    let options = MqttStoreOptions {
        request_timeout: Duration::from_secs(2),
        watch_refresh: Duration::from_millis(500),
        ..MqttStoreOptions::default()
    };
    let watcher = MqttStore::connect(&broker_args(broker.port).settings().unwrap(), options)
        .await
        .unwrap();
    let writer = connect(broker.port, Duration::from_secs(2)).await;
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    let _watch = watcher.watch(b"lock", queue.clone()).await.unwrap();

    // The spoofer: a raw client that names the watcher's id, and the
    // watcher's own response topic (so no check of the two can tell).
    let victim = watcher.client_id().to_owned();
    let (spoofer, _) = crate::raw::raw_client(broker.port, "spoofer", &[]).await;
    let timestamp = ss::HlcClock::new("spoofer").now(elector_host::store::mqtt::wall_clock_ms());
    let properties = rumqttc::v5::mqttbytes::v5::PublishProperties {
        response_topic: Some(protocol::response_topic(&victim)),
        correlation_data: Some(vec![1; 16].into()),
        user_properties: vec![
            ("__srcId".into(), victim.clone()),
            ("__ts".into(), timestamp.to_string()),
            ("__protVer".into(), "1.0".into()),
        ],
        ..Default::default()
    };
    let stop = ss::resp::encode_request(&ss::Command::KeyNotify {
        key: b"lock".to_vec(),
        stop: true,
    });
    spoofer
        .publish_with_properties(
            ss::protocol::REQUEST_TOPIC,
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            false,
            stop,
            properties,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    writer
        .set(b"lock", b"a", &SetOptions::default())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(3), queue.wait_ready())
        .await
        .expect("the change reaches the watcher within a refresh period");
    assert_eq!(
        queue.take_all().last().unwrap().event,
        KeyEvent::Set(b"a".to_vec())
    );
}
