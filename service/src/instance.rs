//! One `elector statestore` per broker.
//!
//! Two services behind one broker would each hold a store of their own and
//! both answer the same request topic, and the second takes the first's
//! client id, so the broker drops the first: every lock silently resets,
//! which can grant a position twice. So a service announces itself with a
//! retained status message on [`STATUS_TOPIC`], whose Will (retained, empty)
//! clears it the moment the broker loses the service's connection — a
//! `kill -9` included, so a restart needs no manual cleanup. Before it
//! connects, a starting service looks for a status with a probe connection
//! of its own (it must not take the running one's client id to look) and,
//! when one stands, asks the state store a question: it refuses to start
//! if a service answers, and takes over a status nobody answers for (left
//! behind, for example, by a broker that kept it across its own restart
//! while the service was gone).
//!
//! Frontends of the etcd-backed store share a broker by design: each
//! keeps a status of its own under [`FRONTENDS_TOPIC`], cleared by its own
//! Will. A single-node service refuses to start beside them (or beside
//! another single-node one); a frontend refuses to start beside a
//! single-node service, not beside other frontends.
//!
//! Two services started within the same instant can both find no status;
//! the window is the broker's round trip, and the ACL in
//! `docs/security.md` keeps other clients from writing the topic.

use std::time::{Duration, SystemTime};

use anyhow::bail;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};

use elector_host::mqtt::ConnectionSettings;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};

/// Where the running single-node service's status is retained.
pub const STATUS_TOPIC: &str = "elector/statestore/v1/instance";

/// Under which each frontend of the etcd-backed store retains its status
/// (`…/frontends/<client id>`).
pub const FRONTENDS_TOPIC: &str = "elector/statestore/v1/instance/frontends";

/// What a starting service must not run beside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A single-node service: alone on its broker.
    SingleNode,
    /// A frontend of the etcd-backed store: beside other frontends only.
    Frontend,
}

impl Kind {
    /// Where a service of this kind with `client_id` keeps its status.
    pub fn status_topic(self, client_id: &str) -> String {
        match self {
            Kind::SingleNode => STATUS_TOPIC.to_owned(),
            Kind::Frontend => format!("{FRONTENDS_TOPIC}/{client_id}"),
        }
    }

    /// The statuses a starting service of this kind looks for.
    fn watched(self) -> Vec<String> {
        match self {
            Kind::SingleNode => vec![STATUS_TOPIC.to_owned(), format!("{FRONTENDS_TOPIC}/+")],
            Kind::Frontend => vec![STATUS_TOPIC.to_owned()],
        }
    }
}

/// How long after the broker confirms the probe's subscription a retained
/// status may still arrive (brokers send it right after the SUBACK).
const RETAINED_WAIT: Duration = Duration::from_millis(200);

/// How long a standing status may take to clear before this service asks
/// whether anyone still serves: a service killed a moment ago has its Will
/// published once the broker notices the closed connection.
const CLEAR_WAIT: Duration = Duration::from_secs(1);

/// How long a running service has to answer that question.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// What the running service says of itself, for the one refused to read.
pub fn status(client_id: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "an unknown host".into());
    let since = humantime::format_rfc3339_seconds(SystemTime::now());
    format!(
        "client id {client_id:?}, pid {} on {host}, since {since}",
        std::process::id()
    )
}

/// The main connection's Will: clear the status at `topic` when the
/// connection is lost.
pub fn clear_on_loss(options: &mut MqttOptions, topic: &str) {
    options.set_last_will(LastWill::new(
        topic,
        Vec::new(),
        QoS::AtLeastOnce,
        true,
        None,
    ));
}

/// Announces this service at `topic` (once connected; retained).
pub async fn announce(client: &AsyncClient, topic: &str, status: &str) -> anyhow::Result<()> {
    client
        .publish(topic, QoS::AtLeastOnce, true, status.as_bytes().to_vec())
        .await?;
    Ok(())
}

/// Takes the status down on a clean stop (a normal DISCONNECT discards the
/// Will).
pub async fn withdraw(client: &AsyncClient, topic: &str) {
    let _ = client
        .publish(topic, QoS::AtLeastOnce, true, Vec::<u8>::new())
        .await;
}

/// Refuses to go on while the status of a service this `kind` must not
/// run beside stands on the broker and its state store answers.
pub async fn ensure_alone(
    settings: &ConnectionSettings,
    client_id: &str,
    kind: Kind,
) -> anyhow::Result<()> {
    let probe_id = format!("{client_id}-probe-{}", std::process::id());
    let mut options = settings.mqtt_options(&probe_id);
    options
        .set_clean_start(true)
        .set_session_expiry_interval(None);
    let (client, mut event_loop) = AsyncClient::new(options, 4);
    let mut standing: Option<String> = None;
    let mut deadline = None;
    let verdict = loop {
        let wait = deadline.map_or(settings_timeout(settings), |at: tokio::time::Instant| {
            at.saturating_duration_since(tokio::time::Instant::now())
        });
        let event = match tokio::time::timeout(wait, event_loop.poll()).await {
            Err(_) if deadline.is_some() => break standing.clone(),
            Err(_) => bail!("the broker did not answer the instance check in time"),
            Ok(Err(error)) => bail!("could not connect to the broker: {error}"),
            Ok(Ok(event)) => event,
        };
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                for topic in kind.watched() {
                    client.subscribe(topic, QoS::AtLeastOnce).await?;
                }
            }
            Event::Incoming(Packet::SubAck(_)) => {
                deadline.get_or_insert(tokio::time::Instant::now() + RETAINED_WAIT);
            }
            Event::Incoming(Packet::Publish(publish)) => {
                if publish.payload.is_empty() {
                    // Cleared: its service is gone (another may stand).
                    if standing.is_some() && publish.topic.as_ref() == STATUS_TOPIC.as_bytes() {
                        break None;
                    }
                    continue;
                }
                standing = Some(String::from_utf8_lossy(&publish.payload).into_owned());
                deadline = Some(tokio::time::Instant::now() + CLEAR_WAIT);
            }
            _ => {}
        }
    };
    let _ = client.disconnect().await;
    // Let the DISCONNECT go out before the probe's event loop is dropped.
    let _ = tokio::time::timeout(Duration::from_millis(100), event_loop.poll()).await;
    let Some(running) = verdict else {
        return Ok(());
    };
    if !someone_answers(settings, &probe_id).await? {
        tracing::warn!(
            status = %running,
            "a status of another elector statestore stands on the broker, but no state store \
             answers; taking over"
        );
        return Ok(());
    }
    bail!(
        "another elector statestore is serving this broker ({running}); stop it, or point this \
         one at another broker"
    )
}

/// Whether a state store answers on this broker: a read of the empty key,
/// which any store refuses at once.
async fn someone_answers(settings: &ConnectionSettings, probe_id: &str) -> anyhow::Result<bool> {
    let mut settings = settings.clone();
    settings.client_id = Some(format!("{probe_id}-ask"));
    settings.clean_start = true;
    let options = MqttStoreOptions {
        request_timeout: ANSWER_WAIT,
        ..MqttStoreOptions::default()
    };
    let store = MqttStore::connect(&settings, options).await?;
    let answered = store.state_store_answers().await;
    store.disconnect().await;
    Ok(answered)
}

/// How long to wait for the broker itself: its connect timeout and then some.
fn settings_timeout(settings: &ConnectionSettings) -> Duration {
    settings.keep_alive.max(Duration::from_secs(10))
}
