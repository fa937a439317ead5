//! `elector statestore`: an AIO-compatible state-store service for any MQTT
//! 5 broker, for development and tests where no AIO broker is at hand.
//!
//! It subscribes to the state store's request topic and answers as the AIO
//! service does (see `shared/docs/state-store-protocol.md`), running the
//! same state machine as the embedded store: HLC versions in `__ts`,
//! `NX`/`NEX`/`PX`, `VDEL`, fencing, refusal of timestamps more than a minute
//! ahead, expiry with DELETE notifications sent when a key expires, and
//! KEYNOTIFY per client.
//!
//! Behind a plain broker the service cannot see clients disconnect, so it
//! keeps their KEYNOTIFY registrations until they send `KEYNOTIFY … STOP`
//! (the real service drops them on disconnect). Requests with a forbidden
//! response topic (the request topic itself, or under the service's own
//! notification prefix) are dropped and logged; the real broker would
//! disconnect such a client, which a service behind a plain broker cannot.

mod handler;
mod received;

use std::time::Duration;

use anyhow::Context as _;
use elector_statestore as ss;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::StoreClock;
use crate::mqtt::ConnectionSettings;
use handler::{Handler, Outgoing};
use received::Received;

/// How the service runs.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// The HLC node id of the versions it issues.
    pub node_id: String,
    pub limits: ss::Limits,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            node_id: "elector-statestore".into(),
            limits: ss::Limits::default(),
        }
    }
}

/// Serves until `shutdown` fires. Reconnects by itself when the broker goes
/// away; the store's contents live in this process and survive reconnects.
pub async fn serve(
    settings: &ConnectionSettings,
    options: ServiceOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    ss::validate_node_id(&options.node_id)
        .map_err(|e| anyhow::anyhow!("invalid --node-id {:?}: {e}", options.node_id))?;
    let client_id = settings.client_id_or("elector-statestore");
    let mut mqtt = settings.mqtt_options(&client_id);
    mqtt.set_request_channel_capacity(4096);
    let (client, mut event_loop) = AsyncClient::new(mqtt, 4096);
    let (requests, inbox) = mpsc::unbounded_channel();
    let clock = StoreClock::start();
    let worker = tokio::spawn(work(Handler::new(&options, clock), inbox, client.clone()));
    tracing::info!(
        broker = %format!("{}:{}", settings.hostname, settings.port),
        %client_id,
        "state-store service starting"
    );
    let mut connected_once = false;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            event = event_loop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                crate::mqtt::session::forget_parked_publish(&mut event_loop, ack.session_present);
                // Subscribed on every connect: the broker may have lost the
                // session.
                client
                    .subscribe(ss::protocol::REQUEST_TOPIC, QoS::AtLeastOnce)
                    .await
                    .context("subscribing to the request topic")?;
                if !connected_once {
                    tracing::info!("state-store service connected");
                }
                connected_once = true;
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if publish.topic.as_ref() == ss::protocol::REQUEST_TOPIC.as_bytes() {
                    let _ = requests.send(Received::new(publish, clock.now_ms()));
                }
            }
            Ok(_) => {}
            Err(error) => {
                if !connected_once {
                    anyhow::bail!("could not connect to the broker: {error}");
                }
                tracing::warn!(%error, "broker connection lost; reconnecting");
                if let Some(file) = settings.token_file() {
                    crate::mqtt::session::reload_token(&mut event_loop, file);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    drop(requests);
    let _ = worker.await;
    let _ = client.disconnect().await;
    Ok(())
}

/// Answers requests in arrival order (dropping those whose message expiry
/// ran out while they waited) and sends expiry notifications on time. One
/// task owns the store, so no request sees another half-done.
async fn work(
    mut handler: Handler,
    mut inbox: mpsc::UnboundedReceiver<Received>,
    client: AsyncClient,
) {
    loop {
        let next_expiry = handler.time_to_next_expiry();
        let outgoing = tokio::select! {
            request = inbox.recv() => match request {
                Some(request) => handler.handle_received(&request),
                None => return,
            },
            _ = sleep_or_never(next_expiry) => handler.expire(),
        };
        for message in outgoing {
            send(&client, message).await;
        }
    }
}

async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

async fn send(client: &AsyncClient, message: Outgoing) {
    if let Err(error) = client
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
