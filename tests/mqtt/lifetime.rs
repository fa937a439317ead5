//! A request is in doubt for its lifetime (`request_lifetime()`: the
//! timeout plus 1 s plus transit) and not a moment longer: whatever happens
//! to the link, nothing the client was asked to send lands after that. A
//! candidate relies on it before it wins again after a resignation whose
//! answer was lost.

use std::time::Duration;

use elector_host::StateStoreBackend;
use elector_host::store::mqtt::MqttStore;
use elector_statestore::protocol;
use elector_statestore::{SetOptions, StoreError};
use tokio::time::Instant;

use crate::raw::{next, raw_client};
use crate::support::*;

/// Reads `key` until the store answers (the service may still be coming
/// back).
async fn read_when_served(store: &MqttStore, key: &[u8]) -> Option<Vec<u8>> {
    let started = Instant::now();
    loop {
        match store.get(key).await {
            Ok(found) => return found.map(|v| v.value),
            Err(error) => assert!(
                started.elapsed() < PATIENCE,
                "the store never answered: {error:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_issued_while_the_link_is_down_never_lands_after_its_lifetime() {
    let broker = Broker::start();
    let service_link = Proxy::start(broker.port).await;
    let _service = Service::start_via(&broker, service_link.port);
    let (_sniffer, mut at_the_broker) =
        raw_client(broker.port, "sniffer", &[protocol::REQUEST_TOPIC]).await;
    let link = Proxy::start(broker.port).await;
    let timeout = Duration::from_secs(5);
    let store = connect(link.port, timeout).await;
    let lifetime = store.request_lifetime();
    assert_eq!(
        lifetime,
        protocol::request_lifetime(timeout, protocol::TRANSIT_BOUND)
    );

    // The service is away, so requests wait at the broker for as long as
    // their message expiry lets them; and the client's link is down.
    service_link.cut();
    link.cut();
    let cut = Instant::now();
    while store.connections() != 0 {
        assert!(cut.elapsed() < PATIENCE, "the client never saw the cut");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let issued = Instant::now();
    let deadline = issued + timeout;
    let writer = tokio::spawn({
        let store = store.clone();
        async move { store.set(b"k", b"late", &SetOptions::default()).await }
    });
    // The link comes back late in the request's timeout (the client
    // retries after 50, 100, 200, ... 1600 ms: about 3.2 s after the cut),
    // so the request goes out with little of its timeout left.
    tokio::time::sleep(Duration::from_secs(2)).await;
    link.restore();
    let sent = tokio::time::timeout_at(deadline, next(&mut at_the_broker))
        .await
        .expect("the request goes out once the link is back, within its timeout");
    let reached_broker = Instant::now();
    let expiry = sent
        .properties
        .as_ref()
        .and_then(|p| p.message_expiry_interval)
        .expect("a message expiry");
    assert!(
        reached_broker + Duration::from_secs(expiry.into())
            <= deadline + Duration::from_millis(1250),
        "the broker keeps it {expiry} s from {:?} after the call: past the deadline + 1 s",
        reached_broker - issued
    );
    let result = writer.await.unwrap();
    assert_eq!(result, Err(StoreError::Timeout));
    assert!(issued.elapsed() < timeout + Duration::from_millis(500));

    // The service comes back once the request's lifetime is over: nothing
    // of it may land now.
    tokio::time::sleep_until(issued + lifetime).await;
    service_link.restore();
    let reader = connect(broker.port, Duration::from_secs(2)).await;
    assert_eq!(read_when_served(&reader, b"k").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_connection_could_not_take_in_time_is_never_sent() {
    let (broker, _service) = broker_with_service();
    let link = Proxy::start(broker.port).await;
    let timeout = Duration::from_millis(1500);
    let store = connect(link.port, timeout).await;

    // The link stalls with the connection's socket full: the connection
    // takes no more requests until it has written what it holds.
    link.stall();
    let fillers: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("filler-{i}");
                let value = vec![b'x'; 1_000_000];
                let _ = store
                    .set(key.as_bytes(), &value, &SetOptions::default())
                    .await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let issued = Instant::now();
    let result = store.set(b"k", b"late", &SetOptions::default()).await;
    assert_eq!(result, Err(StoreError::Timeout));
    assert!(issued.elapsed() < timeout + Duration::from_millis(500));

    // The link recovers after the request's lifetime. What was already in
    // the socket goes out now; the request the connection never took must
    // not (the read below goes out after anything still queued).
    tokio::time::sleep_until(issued + store.request_lifetime()).await;
    link.restore();
    assert_eq!(read_when_served(&store, b"k").await, None);
    for filler in fillers {
        filler.await.unwrap();
    }
}
