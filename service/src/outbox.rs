//! The connection answers and notifications leave by: a second MQTT
//! connection, apart from the one requests arrive on.
//!
//! rumqttc's event loop reads and writes one connection in one task, a
//! packet at a time. Sharing it, a storm of notifications (a flood of writes
//! to a key with many watchers) took the loop's time from reading, so
//! requests piled up at the broker in front of the service, FIFO, until
//! mosquitto dropped them (`Outgoing messages are being dropped`), a polite
//! client's among them. On a connection of its own, reading keeps pace
//! while answers wait here; answers and notifications still share one
//! connection, so every client still receives its answers and notifications
//! in the order the service published them.
//!
//! The connection has a clean session: anything in flight when it drops is
//! lost, as a lost session's answers always were; requesters' timeouts
//! cover them.

use std::path::PathBuf;
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::handler::Outgoing;
use elector_host::mqtt::ConnectionSettings;

/// Answers and notifications waiting for the connection. Short, so the
/// worker waits for the connection rather than piling up messages of up to
/// a value's size each, and an answer waits behind few others.
const CAPACITY: usize = 64;

pub struct Outbox {
    client: AsyncClient,
    driver: JoinHandle<()>,
}

impl Outbox {
    /// Connects as `client_id` (the service's own id with `-out`) and keeps
    /// the connection up until `shutdown`.
    pub fn connect(
        settings: &ConnectionSettings,
        client_id: &str,
        shutdown: CancellationToken,
    ) -> Outbox {
        let mut options = settings.mqtt_options(client_id);
        options
            .set_clean_start(true)
            .set_session_expiry_interval(None);
        let (client, event_loop) = AsyncClient::new(options, CAPACITY);
        let token_file = settings.token_file().map(PathBuf::from);
        let driver = tokio::spawn(drive(event_loop, token_file, shutdown));
        Outbox { client, driver }
    }

    /// Publishes `message` (QoS 1), waiting while the connection is behind.
    pub async fn send(&self, message: Outgoing) {
        if let Err(error) = self
            .client
            .publish_with_properties(
                message.topic,
                QoS::AtLeastOnce,
                false,
                message.payload,
                message.properties,
            )
            .await
        {
            tracing::warn!(%error, "could not publish a state-store message");
        }
    }

    /// Disconnects once what was sent before has been handed over.
    pub async fn close(self) {
        let _ = self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.driver).await;
    }
}

/// Polls the connection until `shutdown` or a clean disconnect,
/// reconnecting after errors as the request connection does.
async fn drive(
    mut event_loop: EventLoop,
    token_file: Option<PathBuf>,
    shutdown: CancellationToken,
) {
    while let Some(event) = super::next_event(&mut event_loop, &shutdown).await {
        match event {
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(error) => super::recover(&mut event_loop, token_file.as_deref(), &error).await,
        }
    }
}
