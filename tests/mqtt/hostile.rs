//! Requests a hostile client can send the service through a plain broker:
//! answers aimed at someone else's topics, another client's id, huge
//! correlation data and topics, and correlation data re-used for another
//! request. Each is played by a raw MQTT client against mosquitto and the
//! real `elector statestore` process (`docs/security.md`).

use std::sync::Arc;
use std::time::Duration;

use elector_host::StateStoreBackend;
use elector_host::store::NotificationQueue;
use elector_statestore::protocol;
use elector_statestore::service::CORRELATION_REUSED;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use tokio::sync::Notify;

use crate::raw::{next, publish_request, raw_client, received_within, request_properties, user};
use crate::support::*;

const GET_SECRET: &[u8] = b"*2\r\n$3\r\nGET\r\n$6\r\nsecret\r\n";

/// How long to wait for a message that must not come.
const QUIET: Duration = Duration::from_secs(1);

fn topic(message: &Publish) -> String {
    String::from_utf8_lossy(&message.topic).into_owned()
}

fn without_source_id(mut properties: PublishProperties) -> PublishProperties {
    properties
        .user_properties
        .retain(|(name, _)| name != "__srcId");
    properties
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_go_only_to_the_requesting_clients_own_topics() {
    let (broker, _service) = broker_with_service();
    let (_observer, mut seen) =
        raw_client(broker.port, "observer", &["factory/#", "clients/#"]).await;
    let (mallory, _) = raw_client(broker.port, "mallory", &[]).await;

    // A GET whose answer (the value) would land on a valve's command topic.
    let mut valve = without_source_id(request_properties("mallory", &[1; 16]));
    valve.response_topic = Some("factory/valve/cmd".into());
    publish_request(&mallory, GET_SECRET, valve).await;
    // mallory claims to be itself but names the victim's response topic,
    let mut victims_topic = request_properties("mallory", &[2; 16]);
    victims_topic.response_topic = Some(protocol::response_topic("victim"));
    publish_request(&mallory, GET_SECRET, victims_topic).await;
    // or claims the victim's id with its own response topic.
    let mut victims_id = request_properties("victim", &[3; 16]);
    victims_id.response_topic = Some(protocol::response_topic("mallory"));
    publish_request(&mallory, GET_SECRET, victims_id).await;
    // A well-formed request is answered, on mallory's own topic.
    publish_request(
        &mallory,
        GET_SECRET,
        request_properties("mallory", &[4; 16]),
    )
    .await;

    let messages = received_within(&mut seen, QUIET).await;
    let topics: Vec<String> = messages.iter().map(topic).collect();
    assert_eq!(topics, [protocol::response_topic("mallory")]);
    assert_eq!(
        messages[0]
            .properties
            .as_ref()
            .unwrap()
            .correlation_data
            .as_deref(),
        Some(&[4u8; 16][..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_stop_another_clients_watch_under_its_own_topic() {
    let (broker, _service) = broker_with_service();
    let victim = connect(broker.port, Duration::from_secs(3)).await;
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    let _watch = victim.watch(b"job", queue.clone()).await.unwrap();

    let (mallory, mut answers) = raw_client(
        broker.port,
        "mallory",
        &[&protocol::response_topic("mallory")],
    )
    .await;
    let mut stop = request_properties(victim.client_id(), &[1; 16]);
    stop.response_topic = Some(protocol::response_topic("mallory"));
    publish_request(
        &mallory,
        b"*3\r\n$9\r\nKEYNOTIFY\r\n$3\r\njob\r\n$4\r\nSTOP\r\n",
        stop,
    )
    .await;
    // Answered requests of mallory's after it: the STOP was handled by then.
    let set = b"*3\r\n$3\r\nSET\r\n$3\r\njob\r\n$7\r\nmallory\r\n";
    publish_request(&mallory, set, request_properties("mallory", &[2; 16])).await;
    let answer = next(&mut answers).await;
    assert_eq!(
        &answer.payload[..],
        b"+OK\r\n",
        "the first answer is the SET's"
    );

    tokio::time::timeout(Duration::from_secs(3), queue.wait_ready())
        .await
        .expect("the victim's watch still stands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_correlation_data_and_response_topics_get_no_answer_and_cost_no_memory() {
    let (broker, service) = broker_with_service();
    let (_observer, mut seen) = raw_client(broker.port, "observer", &["clients/#"]).await;
    let (mallory, _) = raw_client(broker.port, "mallory", &[]).await;
    let before = service.peak_rss_mib();

    let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    let long_topic = format!("clients/mallory/{}", "t".repeat(60_000));
    for i in 0..300u32 {
        let mut correlation = vec![0; 60_000];
        correlation[..4].copy_from_slice(&i.to_be_bytes());
        let mut properties = request_properties("mallory", &correlation);
        if i % 2 == 0 {
            properties.response_topic = Some(long_topic.clone());
        }
        publish_request(&mallory, set, properties).await;
    }
    let mut long_topic_only = request_properties("mallory", &[1; 16]);
    long_topic_only.response_topic = Some(long_topic);
    publish_request(&mallory, set, long_topic_only).await;
    publish_request(&mallory, set, request_properties("mallory", &[2; 16])).await;

    let messages = tokio::time::timeout(PATIENCE, async {
        let mut messages = Vec::new();
        while messages.len() < 301 {
            let batch = received_within(&mut seen, QUIET).await;
            if batch.is_empty() {
                break;
            }
            messages.extend(batch);
        }
        messages
    })
    .await
    .unwrap();
    let grown = service.peak_rss_mib().saturating_sub(before);
    let largest = messages
        .iter()
        .filter_map(|m| m.properties.as_ref()?.correlation_data.as_ref())
        .map(|c| c.len())
        .max();
    eprintln!(
        "huge correlation data: {} answers, the largest correlation {largest:?} bytes, \
         peak RSS grew by {grown} MiB",
        messages.len()
    );
    assert_eq!(
        (messages.len(), largest),
        (1, Some(16)),
        "only the well-formed request is answered"
    );
    assert!(grown < 32, "the service's peak RSS grew by {grown} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_data_reused_for_another_request_is_refused_and_a_resend_answered_once() {
    let (broker, _service) = broker_with_service();
    let me = "careful";
    let (client, mut answers) = raw_client(broker.port, me, &[&protocol::response_topic(me)]).await;
    let mut ask = async |payload: &[u8], properties: PublishProperties| {
        publish_request(&client, payload, properties).await;
        let answer = next(&mut answers).await;
        let version = user(answer.properties.as_ref().unwrap(), "__ts");
        (answer.payload.to_vec(), version)
    };
    let set_v1 = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n";
    let get = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

    let first_set = request_properties(me, &[7; 16]);
    let (answer, written) = ask(set_v1, first_set.clone()).await;
    assert_eq!(answer, b"+OK\r\n");
    // The same correlation data for another SET: refused, not replayed.
    let (answer, _) = ask(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv2\r\n",
        request_properties(me, &[7; 16]),
    )
    .await;
    assert_eq!(
        answer,
        format!("-ERR {CORRELATION_REUSED}\r\n").into_bytes()
    );
    let first_get = request_properties(me, &[8; 16]);
    let (answer, _) = ask(get, first_get.clone()).await;
    assert_eq!(answer, b"$2\r\nv1\r\n", "the second SET was not applied");

    // A true re-send (the same message again) gets the first answer.
    let (answer, again) = ask(set_v1, first_set).await;
    assert_eq!((answer, again), (b"+OK\r\n".to_vec(), written));

    // A re-sent GET is answered afresh: its answer is not kept.
    let (answer, _) = ask(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv3\r\n",
        request_properties(me, &[9; 16]),
    )
    .await;
    assert_eq!(answer, b"+OK\r\n");
    let (answer, _) = ask(get, first_get).await;
    assert_eq!(answer, b"$2\r\nv3\r\n");

    // elector's own client still reads and writes.
    let store = connect(broker.port, Duration::from_secs(3)).await;
    set_applied(&store, b"k", b"v4").await;
}
