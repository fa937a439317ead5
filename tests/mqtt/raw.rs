//! A raw MQTT client on the real broker, outside the client under test: to
//! see what reaches the broker, or to play the state store by hand.

use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use tokio::sync::mpsc;

use crate::support::PATIENCE;

/// A raw MQTT client subscribed to `topics` (SUBACKs awaited): what it
/// receives arrives on the returned channel.
pub async fn raw_client(
    port: u16,
    id: &str,
    topics: &[&str],
) -> (AsyncClient, mpsc::UnboundedReceiver<Publish>) {
    raw_client_as(port, id, None, topics).await
}

/// [`raw_client`] with a user name (and no password), for a broker with
/// ACLs by user.
pub async fn raw_client_as(
    port: u16,
    id: &str,
    username: Option<&str>,
    topics: &[&str],
) -> (AsyncClient, mpsc::UnboundedReceiver<Publish>) {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    if let Some(username) = username {
        options.set_credentials(username, "");
    }
    options.set_keep_alive(Duration::from_secs(30));
    // Room for anything the service may send, large values and echoed
    // correlation data included (rumqttc's default is 10 KiB).
    options.set_max_packet_size(Some(elector_host::mqtt::settings::MAX_PACKET_BYTES));
    let (client, mut event_loop): (AsyncClient, EventLoop) = AsyncClient::new(options, 64);
    let (sender, received) = mpsc::unbounded_channel();
    let (subscribed_tx, mut subscribed) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = event_loop.poll().await {
            match event {
                Event::Incoming(Packet::Publish(publish)) => {
                    let _ = sender.send(publish);
                }
                Event::Incoming(Packet::SubAck(_)) => {
                    let _ = subscribed_tx.send(());
                }
                _ => {}
            }
        }
    });
    for topic in topics {
        client.subscribe(*topic, QoS::AtLeastOnce).await.unwrap();
        tokio::time::timeout(PATIENCE, subscribed.recv())
            .await
            .unwrap();
    }
    (client, received)
}

/// The first user property called `name`.
pub fn user(properties: &PublishProperties, name: &str) -> Option<String> {
    properties
        .user_properties
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The next message received, within [`PATIENCE`].
pub async fn next(received: &mut mpsc::UnboundedReceiver<Publish>) -> Publish {
    tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("a message in time")
        .unwrap()
}

/// The properties of a well-formed request from client `id`: its SDK-form
/// response topic, `correlation`, `__srcId` = `id`, `__ts` now and
/// `__protVer`. Tests change them to play a hostile client.
pub fn request_properties(id: &str, correlation: &[u8]) -> PublishProperties {
    PublishProperties {
        response_topic: Some(elector_statestore::protocol::response_topic(id)),
        correlation_data: Some(correlation.to_vec().into()),
        user_properties: vec![
            ("__srcId".into(), id.into()),
            (
                "__ts".into(),
                format!("{}:0:{id}", elector_host::store::mqtt::wall_clock_ms()),
            ),
            ("__protVer".into(), "1.0".into()),
        ],
        ..PublishProperties::default()
    }
}

/// Publishes a request (QoS 1) with these properties.
pub async fn publish_request(client: &AsyncClient, payload: &[u8], properties: PublishProperties) {
    client
        .publish_with_properties(
            elector_statestore::protocol::REQUEST_TOPIC,
            QoS::AtLeastOnce,
            false,
            payload.to_vec(),
            properties,
        )
        .await
        .unwrap();
}

/// The messages received within `wait` (none is an answer, for a test that
/// checks nothing came).
pub async fn received_within(
    received: &mut mpsc::UnboundedReceiver<Publish>,
    wait: Duration,
) -> Vec<Publish> {
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, received.recv()).await {
        messages.push(message);
    }
    messages
}

/// Every answer to every client on the SDK's response topic form.
pub fn all_answers() -> String {
    elector_statestore::protocol::response_topic("+")
}

/// Registers a watch on `key` under each of `count` invented ids, in
/// batches whose answers (on [`all_answers`], which `answers` receives)
/// are awaited; returns how many were accepted (`+OK`), the others having
/// been refused.
pub async fn watch_under_invented_ids(
    mallory: &AsyncClient,
    answers: &mut mpsc::UnboundedReceiver<Publish>,
    key: &str,
    count: usize,
) -> usize {
    let payload = format!("*2\r\n$9\r\nKEYNOTIFY\r\n${}\r\n{key}\r\n", key.len());
    let mut accepted = 0;
    for batch in (0..count).collect::<Vec<_>>().chunks(500) {
        for i in batch {
            let id = format!("invented-{i}");
            publish_request(
                mallory,
                payload.as_bytes(),
                request_properties(&id, &[1; 16]),
            )
            .await;
        }
        for _ in batch {
            if next(answers).await.payload[..] == b"+OK\r\n"[..] {
                accepted += 1;
            }
        }
    }
    accepted
}
