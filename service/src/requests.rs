//! The connection requests arrive on, the same for the single-node
//! service and for a frontend of the etcd-backed store: it subscribes on
//! every connect (the broker may have lost the session), files each
//! request in the inbox as it comes, and tells readiness whether requests
//! can reach the service.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use elector_statestore as ss;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use tokio_util::sync::CancellationToken;

use super::inbox::Inbox;
use super::received::Received;
use super::{BROKER, next_event, recover};
use elector_host::clock::StoreClock;

pub struct RequestConnection<'a> {
    pub client: &'a AsyncClient,
    /// The request topic, or a shared subscription to it.
    pub subscription: &'a str,
    pub inbox: &'a Inbox,
    pub clock: StoreClock,
    pub readiness: Option<&'a Arc<elector_ops::Readiness>>,
    pub token_file: Option<&'a Path>,
    /// What the log calls the service ("state-store service", ...).
    pub what: &'static str,
    /// The service's status and its topic (`instance.rs`), announced
    /// again on every connect: a lost connection's Will cleared it.
    pub status: (&'a str, &'a str),
}

impl RequestConnection<'_> {
    /// Runs until `stop` fires, reconnecting as needed. Fails when the
    /// first connection does.
    pub async fn run(
        &self,
        event_loop: &mut EventLoop,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let mut connected_once = false;
        while let Some(event) = next_event(event_loop, stop).await {
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    self.client
                        .subscribe(self.subscription, QoS::AtLeastOnce)
                        .await
                        .context("subscribing to the request topic")?;
                    let (topic, status) = self.status;
                    super::instance::announce(self.client, topic, status).await?;
                    if !connected_once {
                        tracing::info!("{} connected", self.what);
                    }
                    connected_once = true;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    // Requests reach the service from now on.
                    if let Some(readiness) = self.readiness {
                        readiness.set(BROKER, Ok(()));
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if publish.topic.as_ref() == ss::protocol::REQUEST_TOPIC.as_bytes() {
                        self.inbox
                            .admit(Received::new(publish, self.clock.now_ms()));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    if !connected_once {
                        anyhow::bail!("could not connect to the broker: {error}");
                    }
                    if let Some(readiness) = self.readiness {
                        readiness.set(BROKER, Err("broker connection lost; reconnecting".into()));
                    }
                    recover(event_loop, self.token_file, &error).await;
                }
            }
        }
        Ok(())
    }
}
