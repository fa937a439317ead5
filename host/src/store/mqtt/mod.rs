//! The AIO state store over MQTT 5: a client that speaks the wire contract
//! (`docs/state-store-protocol.md`) to the AIO broker's distributed
//! state store, or to `elector statestore` on any MQTT 5 broker.
//!
//! - Requests go with QoS 1 to the request topic with a response topic,
//!   16 random bytes of correlation data, `__srcId`, `__ts` (from an HLC that
//!   merges every version it sees and never goes backwards), `__protVer`,
//!   `__ft` when fenced, and a message expiry of the time left until the
//!   request's deadline. Every request has one deadline, fixed when the
//!   call begins, that bounds the wait for the link, the hand-over to the
//!   connection and the wait for the answer; none can hang, and none can
//!   land later than `request_lifetime()` after the call (see
//!   `handover.rs`).
//! - The connection takes requests through a rendezvous channel: a request
//!   is written to the socket or not sent at all, so none waits in a queue
//!   across a reconnect.
//! - One subscription covers all of this client's KEYNOTIFY topics; it is in
//!   place (SUBACK received) before any watch registers.
//! - After every reconnect the client subscribes again, registers every
//!   live watch again, re-reads each watched key and queues a notification
//!   for any change it missed. Requests in flight when the link drops fail
//!   at once with `disconnected` (retryable; they may have been applied).

mod cause;
mod handover;
mod link;
mod pending;
pub mod release;
mod watches;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use elector_statestore as ss;
use rumqttc::v5::AsyncClient;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{NotificationQueue, StateStoreBackend, WatchGuard};
use crate::mqtt::ConnectionSettings;
use link::LinkState;
use pending::Pending;
pub use pending::wall_clock_ms;
use ss::client::{delete_result, get_result, set_result};
use ss::{DeleteOutcome, Hlc, SetOptions, SetResponse, StoreResult, VersionedValue};
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
    /// How often every watch is registered again and its key re-read, so a
    /// registration the store lost (a restart, a lapsed lease, a `STOP`
    /// sent by someone claiming this client's id) is repaired, and a change
    /// missed meanwhile is surfaced, within this period.
    pub watch_refresh: Duration,
    /// The position this connection releases when the broker loses it
    /// (its MQTT Will); `None` for a connection without one.
    pub release_on_disconnect: Option<release::ReleaseOnDisconnect>,
}

impl Default for MqttStoreOptions {
    fn default() -> Self {
        MqttStoreOptions {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            client_id_prefix: "elector".into(),
            watch_refresh: Duration::from_secs(60),
            release_on_disconnect: None,
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
    /// Ends the connection: on `disconnect()`, or when the last clone of
    /// the client is dropped.
    closing: CancellationToken,
    /// Ends the connection without a DISCONNECT (see [`MqttStore::sever`]).
    severed: CancellationToken,
    /// `host:port`, for messages.
    address: String,
    /// Why the link is not up, in words, as last seen.
    last_failure: std::sync::Mutex<Option<String>>,
    /// Why the client stopped for good on its own, once it has.
    stopped: std::sync::Mutex<Option<String>>,
    /// The client id came from the configuration (so another process may
    /// use it too), not from this client.
    client_id_configured: bool,
    /// When the current connection was accepted.
    up_since: std::sync::Mutex<Option<std::time::Instant>>,
    /// Release on disconnect, when this connection carries the Will.
    release: Option<release::Release>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to the broker at {address}: {reason}")]
    Failed { address: String, reason: String },
    #[error("no connection to the broker at {address} within {after:?}: {cause}")]
    TimedOut {
        address: String,
        after: Duration,
        /// The last attempt's failure, or that the broker took the
        /// connection but never finished setting it up.
        cause: String,
    },
}

impl MqttStore {
    /// Connects, subscribes and returns once requests can flow.
    pub async fn connect(
        settings: &ConnectionSettings,
        options: MqttStoreOptions,
    ) -> Result<Self, ConnectError> {
        let client_id = settings.client_id_or(&options.client_id_prefix);
        let address = format!("{}:{}", settings.hostname, settings.port);
        // Capacity 0: a rendezvous, so a request is taken by the event loop
        // (and written to the socket) or not sent at all. With a queue, a
        // request could wait in it while the link is down and go out after
        // the reconnect, after its caller was told it failed.
        let release = options
            .release_on_disconnect
            .map(|config| release::Release::new(config, options.request_timeout));
        let mut clock = ss::HlcClock::new(hlc_node_id(&client_id));
        let mut mqtt_options = settings.mqtt_options(&client_id);
        if let Some(release) = &release {
            let stamp = clock.now(wall_clock_ms());
            mqtt_options
                .set_last_will(
                    release
                        .config
                        .will(&client_id, &stamp, options.request_timeout),
                )
                .set_session_expiry_interval(Some(
                    u32::try_from(
                        release
                            .config
                            .session_expiry(settings.session_expiry)
                            .as_secs(),
                    )
                    .unwrap_or(u32::MAX),
                ));
        }
        let (client, event_loop) = AsyncClient::new(mqtt_options, 0);
        let (link, mut link_changes) = watch::channel(LinkState::Connecting);
        let shared = Arc::new(Shared {
            release,
            address: address.clone(),
            last_failure: std::sync::Mutex::new(None),
            stopped: std::sync::Mutex::new(None),
            client_id_configured: settings.client_id.is_some(),
            up_since: std::sync::Mutex::new(None),
            response_topic: ss::protocol::response_topic(&client_id),
            clock: std::sync::Mutex::new(clock),
            client,
            client_id,
            request_timeout: options.request_timeout,
            pending: Pending::default(),
            watches: Watches::default(),
            link,
            closing: CancellationToken::new(),
            severed: CancellationToken::new(),
        });
        let token_file = settings.token_file().map(std::path::Path::to_path_buf);
        tokio::spawn(link::run(
            event_loop,
            shared.client.clone(),
            Arc::downgrade(&shared),
            shared.closing.clone(),
            shared.severed.clone(),
            token_file,
        ));
        tokio::spawn(watches::refresh(
            Arc::downgrade(&shared),
            options.watch_refresh,
        ));
        if shared.release.is_some() {
            tokio::spawn(release::probe(Arc::downgrade(&shared)));
        }
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
        // On failure `shared` is dropped, which ends the connection task.
        match tokio::time::timeout(options.connect_timeout, ready).await {
            Ok(Ok(())) => Ok(MqttStore { shared }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ConnectError::TimedOut {
                address: address.clone(),
                after: options.connect_timeout,
                cause: shared.last_failure.lock().unwrap().clone().unwrap_or_else(
                    || match &*shared.link.borrow() {
                        LinkState::Subscribing { .. } => {
                            "the broker accepted the connection but never confirmed its \
                             subscriptions"
                                .into()
                        }
                        _ => format!(
                            "no answer to the MQTT connect from {address} (is it an MQTT 5 \
                             broker, and reachable?)"
                        ),
                    },
                ),
            }),
        }
    }

    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// Resolves when the client stopped for good on its own, with why: for
    /// now, when another connection took over its client id. A process
    /// that cannot go on without the store should end then, with that
    /// reason, rather than believe the link will come back.
    pub async fn stopped(&self) -> String {
        let mut link = self.shared.link.subscribe();
        loop {
            if let Some(reason) = self.shared.stopped.lock().unwrap().clone() {
                return reason;
            }
            if link.changed().await.is_err() {
                return "the connection task ended".into();
            }
        }
    }

    /// Whether a state store answers behind the broker: one request any
    /// store refuses at once (a read of the empty key). A broker with no
    /// store behind it answers nothing, and the request times out.
    pub async fn state_store_answers(&self) -> bool {
        !matches!(self.get(b"").await, Err(ss::StoreError::Timeout))
    }

    /// How many times the link has come up (1 after the first connect).
    pub fn connections(&self) -> u64 {
        match &*self.shared.link.borrow() {
            LinkState::Up { generation } => *generation,
            _ => 0,
        }
    }

    /// Drops the connection as a crash would: the socket closes without a
    /// DISCONNECT, so the broker publishes the connection's Will (after
    /// its delay), and the client does not connect again. For benchmarks
    /// and tests that crash a candidate without ending their process.
    pub fn sever(&self) {
        self.shared.severed.cancel();
    }

    /// Closes the connection (with a DISCONNECT if the link is up, waiting
    /// at most a second for it to go out); requests in flight and later
    /// ones fail at once with `disconnected`.
    pub async fn disconnect(&self) {
        // Watches given up just before (a process stopping) unregister
        // first, so the store does not keep notifying nobody.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.shared.watches.settled()).await;
        self.shared.closing.cancel();
        let mut link = self.shared.link.subscribe();
        let closed = link.wait_for(|state| *state == LinkState::Closed);
        let _ = tokio::time::timeout(Duration::from_secs(2), closed).await;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.closing.cancel();
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

#[async_trait]
impl StateStoreBackend for MqttStore {
    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        let command = options.command(key, value);
        let token = options.fencing_token.clone();
        set_result(self.shared.request(command, token).await?)
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        get_result(
            self.shared
                .request(ss::client::get_command(key), None)
                .await?,
        )
    }

    async fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        let command = ss::client::del_command(key);
        delete_result(self.shared.request(command, fencing_token.cloned()).await?)
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        let command = ss::client::vdel_command(key, value);
        delete_result(self.shared.request(command, fencing_token.cloned()).await?)
    }

    async fn watch(&self, key: &[u8], queue: Arc<NotificationQueue>) -> StoreResult<WatchGuard> {
        watches::register(&self.shared, key, queue).await
    }

    async fn close(&self) {
        self.disconnect().await;
    }

    /// The timeout, plus a second of expiry rounding, plus the transit the
    /// protocol assumes: every request is handed over before its deadline
    /// with an expiry that ends at most a second after it (`handover.rs`),
    /// the broker and the store drop it once that expiry has passed, and it
    /// is never re-sent after a reconnect (`link.rs`).
    fn release_trust(&self) -> Option<ss::release::Trust> {
        self.shared.release.as_ref().map(release::Release::trust)
    }

    fn request_lifetime(&self) -> Duration {
        ss::protocol::request_lifetime(self.shared.request_timeout, ss::protocol::TRANSIT_BOUND)
    }
}
