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
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
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
