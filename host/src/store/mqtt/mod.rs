//! The AIO state store over MQTT 5: a client that speaks the wire contract
//! (`shared/docs/state-store-protocol.md`) to the AIO broker's distributed
//! state store, or to `elector statestore` on any MQTT 5 broker.
//!
//! - Requests go with QoS 1 to the request topic with a response topic,
//!   16 random bytes of correlation data, `__srcId`, `__ts` (from an HLC that
//!   merges every version it sees and never goes backwards), `__protVer`,
//!   `__ft` when fenced, and a message expiry equal to the request timeout.
//!   Every request has a timeout; none can hang.
//! - One subscription covers all of this client's KEYNOTIFY topics; it is in
//!   place (SUBACK received) before any watch registers.
//! - After every reconnect the client subscribes again, registers every
//!   live watch again, re-reads each watched key and queues a notification
//!   for any change it missed. Requests in flight when the link drops fail
//!   at once with `disconnected` (retryable; they may have been applied).

mod link;
mod pending;
mod watches;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use elector_statestore as ss;
use rumqttc::v5::AsyncClient;
use tokio::sync::watch;

use super::reply::{delete_result, get_result, hlc_from_wit, set_result};
use super::{NotificationQueue, StateStoreBackend, WatchGuard};
use crate::bindings::{
    DeleteOutcome, Hlc, SetCondition, SetOptions, SetResponse, StoreError, VersionedValue,
};
use crate::mqtt::ConnectionSettings;
use link::LinkState;
use pending::Pending;
pub use pending::wall_clock_ms;
use watches::Watches;

/// Tuning of the client.
#[derive(Clone, Debug)]
pub struct MqttStoreOptions {
    /// Longest wait for any answer.
    pub request_timeout: Duration,
    /// Longest wait for the first connection.
    pub connect_timeout: Duration,
    /// Prefix of the generated client id, when none is configured.
    pub client_id_prefix: String,
}

impl Default for MqttStoreOptions {
    fn default() -> Self {
        MqttStoreOptions {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            client_id_prefix: "elector".into(),
        }
    }
}

/// A state-store client over MQTT. Clones share one connection.
#[derive(Clone)]
pub struct MqttStore {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    client: AsyncClient,
    client_id: String,
    response_topic: String,
    request_timeout: Duration,
    /// The client's HLC: stamps `__ts`, merges every `__ts` received.
    clock: std::sync::Mutex<ss::HlcClock>,
    pending: Pending,
    watches: Watches,
    link: watch::Sender<LinkState>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to the broker at {address}: {reason}")]
    Failed { address: String, reason: String },
    #[error("no connection to the broker at {0} within the connect timeout")]
    TimedOut(String),
}

impl MqttStore {
    /// Connects, subscribes and returns once requests can flow.
    pub async fn connect(
        settings: &ConnectionSettings,
        options: MqttStoreOptions,
    ) -> Result<Self, ConnectError> {
        let client_id = settings.client_id_or(&options.client_id_prefix);
        let address = format!("{}:{}", settings.hostname, settings.port);
        let (client, event_loop) = AsyncClient::new(settings.mqtt_options(&client_id), 64);
        let (link, mut link_changes) = watch::channel(LinkState::Connecting);
        let shared = Arc::new(Shared {
            response_topic: ss::protocol::response_topic(&client_id),
            clock: std::sync::Mutex::new(ss::HlcClock::new(hlc_node_id(&client_id))),
            client,
            client_id,
            request_timeout: options.request_timeout,
            pending: Pending::default(),
            watches: Watches::default(),
            link,
        });
        let token_file = settings.token_file().map(std::path::Path::to_path_buf);
        tokio::spawn(link::run(event_loop, Arc::downgrade(&shared), token_file));
        let ready = async {
            loop {
                match &*link_changes.borrow_and_update() {
                    LinkState::Up { .. } => return Ok(()),
                    LinkState::Refused(reason) => {
                        return Err(ConnectError::Failed {
                            address: address.clone(),
                            reason: reason.clone(),
                        });
                    }
                    _ => {}
                }
                if link_changes.changed().await.is_err() {
                    return Err(ConnectError::Failed {
                        address: address.clone(),
                        reason: "the connection task ended".into(),
                    });
                }
            }
        };
        match tokio::time::timeout(options.connect_timeout, ready).await {
            Ok(Ok(())) => Ok(MqttStore { shared }),
            Ok(Err(error)) => {
                let _ = shared.client.try_disconnect();
                Err(error)
            }
            Err(_) => {
                let _ = shared.client.try_disconnect();
                Err(ConnectError::TimedOut(address))
            }
        }
    }

    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// How many times the link has come up (1 after the first connect).
    pub fn connections(&self) -> u64 {
        match &*self.shared.link.borrow() {
            LinkState::Up { generation } => *generation,
            _ => 0,
        }
    }

    /// Closes the connection; later requests fail with `disconnected`.
    pub async fn disconnect(&self) {
        let _ = self.shared.client.disconnect().await;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}

/// HLC node ids cannot contain `:`, MQTT client ids can.
fn hlc_node_id(client_id: &str) -> String {
    let cleaned: String = client_id
        .chars()
        .map(|c| if c == ':' { '_' } else { c })
        .collect();
    if cleaned.is_empty() {
        "elector".into()
    } else {
        cleaned
    }
}

fn condition(condition: SetCondition) -> ss::SetCondition {
    match condition {
        SetCondition::Unconditional => ss::SetCondition::Unconditional,
        SetCondition::OnlyIfAbsent => ss::SetCondition::OnlyIfAbsent,
        SetCondition::OnlyIfAbsentOrEqual => ss::SetCondition::OnlyIfAbsentOrEqual,
    }
}

#[async_trait]
impl StateStoreBackend for MqttStore {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> Result<SetResponse, StoreError> {
        let command = ss::Command::Set {
            key: key.to_vec(),
            value: value.to_vec(),
            condition: condition(options.condition),
            expiry_ms: options.expiry_ms,
        };
        let token = options.fencing_token.as_ref().map(hlc_from_wit);
        set_result(self.shared.request(command, token).await?)
    }

    async fn get(&self, key: &[u8]) -> Result<Option<VersionedValue>, StoreError> {
        let command = ss::Command::Get { key: key.to_vec() };
        get_result(self.shared.request(command, None).await?)
    }

    async fn del(
        &self,
        key: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> Result<DeleteOutcome, StoreError> {
        let command = ss::Command::Del { key: key.to_vec() };
        delete_result(
            self.shared
                .request(command, fencing_token.map(hlc_from_wit))
                .await?,
        )
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> Result<DeleteOutcome, StoreError> {
        let command = ss::Command::VDel {
            key: key.to_vec(),
            value: value.to_vec(),
        };
        delete_result(
            self.shared
                .request(command, fencing_token.map(hlc_from_wit))
                .await?,
        )
    }

    async fn watch(
        &self,
        key: &[u8],
        queue: Arc<NotificationQueue>,
    ) -> Result<WatchGuard, StoreError> {
        watches::register(&self.shared, key, queue).await
    }

    /// Requests carry a message expiry of the timeout rounded up to whole
    /// seconds, after which the broker drops them; one more second covers
    /// the service's own queue. Requests are never re-sent after a
    /// reconnect (see `link.rs`).
    fn request_lifetime(&self) -> Duration {
        Duration::from_secs(self.shared.request_timeout.as_secs_f64().ceil() as u64 + 1)
    }
}
