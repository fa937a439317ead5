//! The MQTT connection's life: the event loop, and what happens each time
//! the link comes up (subscribe, re-register watches, catch up on missed
//! changes), goes down (fail what is in flight) or is closed (say goodbye).

use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

use elector_statestore as ss;
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode, DisconnectReasonCode, Packet, SubscribeReasonCode,
};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, StateError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Shared;

/// Longest wait for a DISCONNECT to go out when the client closes.
const GOODBYE: Duration = Duration::from_secs(1);

/// Where the link is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected yet.
    Connecting,
    /// Connected; subscribing and re-registering before requests flow.
    Subscribing { generation: u64 },
    /// Requests flow. `generation` counts connections.
    Up { generation: u64 },
    /// The connection dropped; rumqttc reconnects.
    Down { generation: u64 },
    /// The broker refused the first connection (bad credentials, ...).
    Refused(String),
    /// The client disconnected; it will not connect again.
    Closed,
}

impl LinkState {
    pub fn generation(&self) -> u64 {
        match self {
            LinkState::Connecting | LinkState::Refused(_) | LinkState::Closed => 0,
            LinkState::Subscribing { generation }
            | LinkState::Up { generation }
            | LinkState::Down { generation } => *generation,
        }
    }

    /// Whether this is still the connection of `generation`.
    fn is_connection(&self, generation: u64) -> bool {
        matches!(self, LinkState::Subscribing { generation: g } | LinkState::Up { generation: g } if *g == generation)
    }
}

/// Drives the connection until the client closes (`closing`) or is gone.
/// `client` is the connection's own handle, for the goodbye; `token_file`:
/// a K8S-SAT token file, read again before every reconnect.
pub async fn run(
    mut event_loop: EventLoop,
    client: AsyncClient,
    shared: Weak<Shared>,
    closing: CancellationToken,
    severed: CancellationToken,
    token_file: Option<PathBuf>,
) {
    let mut backoff = Duration::from_millis(50);
    let mut tug_of_war = TugOfWar::default();
    let mut subacks: Option<mpsc::UnboundedSender<bool>> = None;
    let mut connected = false;
    loop {
        let event = tokio::select! {
            biased;
            () = severed.cancelled() => {
                connected = false;
                break;
            }
            () = closing.cancelled() => break,
            event = event_loop.poll() => event,
        };
        let Some(shared) = shared.upgrade() else {
            break;
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::debug!(code = ?ack.code, session_present = ack.session_present, "CONNACK");
                crate::mqtt::session::forget_parked_publish(&mut event_loop, ack.session_present);
                if let Some(release) = &shared.release
                    && ack.code == ConnectReturnCode::Success
                {
                    if shared.link.borrow().generation() > 0 {
                        release.reconnected(ack.session_present);
                    }
                    // Later connects resume the session, so a blip shorter
                    // than the Will's delay does not publish it (a clean
                    // start would end the session, and the Will with it).
                    event_loop.options.set_clean_start(false);
                }
                backoff = Duration::from_millis(50);
                if ack.code != ConnectReturnCode::Success {
                    shared.link_down(super::cause::refused(ack.code));
                    continue;
                }
                connected = true;
                *shared.up_since.lock().unwrap() = Some(std::time::Instant::now());
                let generation = shared.link.borrow().generation() + 1;
                shared
                    .link
                    .send_replace(LinkState::Subscribing { generation });
                let (sender, receiver) = mpsc::unbounded_channel();
                subacks = Some(sender);
                tokio::spawn(come_up(
                    std::sync::Arc::downgrade(&shared),
                    generation,
                    receiver,
                ));
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                tracing::debug!(codes = ?ack.return_codes, "SUBACK");
                let granted = ack
                    .return_codes
                    .iter()
                    .all(|code| matches!(code, SubscribeReasonCode::Success(_)));
                if let Some(subacks) = &subacks {
                    let _ = subacks.send(granted);
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let topic = String::from_utf8_lossy(&publish.topic);
                if topic == shared.response_topic {
                    shared.complete(&publish);
                } else if let Some(release) = &shared.release
                    && topic == super::release::probe_topic(&shared.client_id)
                {
                    release.probe_returned(shared.link.borrow().generation(), &publish.payload);
                } else {
                    shared.notified(&topic, &publish);
                }
            }
            Ok(Event::Incoming(Packet::Disconnect(disconnect))) => {
                connected = false;
                shared.link_down(format!(
                    "the broker closed the connection ({})",
                    super::cause::disconnect_reason(disconnect.reason_code)
                ));
            }
            Ok(_) => {}
            Err(ConnectionError::MqttState(StateError::ServerDisconnect {
                reason_code: DisconnectReasonCode::SessionTakenOver,
                ..
            })) => {
                // Another connection with this client id: reconnecting
                // would only take it back, and the two would take turns
                // for ever. The client stops instead, with the reason.
                shared.stop_for_good(taken_over(&shared.client_id));
                break;
            }
            Err(error) => {
                tracing::debug!(%error, "MQTT event loop error");
                connected = false;
                if shared.client_id_configured && tug_of_war.dropped_soon_after_up(&shared) {
                    shared.stop_for_good(format!(
                        "the broker keeps closing this connection right after it opens ({} \
                         times in {:?}): most likely {}",
                        TugOfWar::DROPS,
                        TugOfWar::WINDOW,
                        taken_over(&shared.client_id)
                    ));
                    break;
                }
                // Requests in flight have failed already (and callers may
                // have moved on); re-sending them after the reconnect would
                // apply them late, so they are dropped. (The request channel
                // is a rendezvous, so no request is left in it to go out
                // after the reconnect either: see `pending.rs`.)
                event_loop
                    .pending
                    .retain(|request| !matches!(request, rumqttc::v5::Request::Publish(_)));
                let first_connection = shared.link.borrow().generation() == 0;
                let reason = super::cause::describe(&error, &shared.address);
                if first_connection && is_refusal(&error) {
                    shared.link.send_replace(LinkState::Refused(reason));
                } else {
                    shared.link_down(reason);
                }
                if let Some(release) = &shared.release {
                    release.link_lost();
                    let stamp = shared.clock.lock().unwrap().now(super::wall_clock_ms());
                    event_loop.options.set_last_will(release.config.will(
                        &shared.client_id,
                        &stamp,
                        shared.request_timeout,
                    ));
                }
                drop(shared);
                if let Some(file) = &token_file {
                    crate::mqtt::session::reload_token(&mut event_loop, file);
                }
                tokio::select! {
                    () = closing.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    if connected {
        say_goodbye(&mut event_loop, &client).await;
    }
    if let Some(shared) = shared.upgrade() {
        shared.link.send_replace(LinkState::Closed);
        shared.pending.fail_all();
    }
}

/// Why the client stops when another connection took its client id.
fn taken_over(client_id: &str) -> String {
    format!(
        "another connection took over the client id {client_id:?}: two processes cannot share \
         one (give each its own, or leave the id to elector)"
    )
}

/// Connections dropped right after they came up. A broker hands a client
/// id to the newest connection; MQTT 5 says it tells the old one so
/// (DISCONNECT, session taken over), but some brokers (mosquitto 2.0)
/// just close it. A configured client id whose connections keep dying
/// within a second of coming up is taken to be shared by two processes.
#[derive(Default)]
struct TugOfWar {
    drops: std::collections::VecDeque<std::time::Instant>,
}

impl TugOfWar {
    const DROPS: usize = 5;
    const WINDOW: Duration = Duration::from_secs(10);
    const SOON: Duration = Duration::from_secs(1);

    /// Records a drop; true once the drops look like a tug of war.
    fn dropped_soon_after_up(&mut self, shared: &Shared) -> bool {
        let now = std::time::Instant::now();
        let soon = shared
            .up_since
            .lock()
            .unwrap()
            .is_some_and(|up| now.duration_since(up) < Self::SOON);
        if !soon {
            self.drops.clear();
            return false;
        }
        self.drops.push_back(now);
        while self
            .drops
            .front()
            .is_some_and(|first| now.duration_since(*first) > Self::WINDOW)
        {
            self.drops.pop_front();
        }
        self.drops.len() >= Self::DROPS
    }
}

/// Sends DISCONNECT, so the broker ends the connection as a normal one,
/// within [`GOODBYE`]. The event loop has to run for the request to go
/// out, so it is driven here until the DISCONNECT is written or fails.
async fn say_goodbye(event_loop: &mut EventLoop, client: &AsyncClient) {
    let goodbye = async {
        let disconnect = client.disconnect();
        tokio::pin!(disconnect);
        let mut handed_over = false;
        loop {
            tokio::select! {
                taken = &mut disconnect, if !handed_over => {
                    handed_over = true;
                    if taken.is_err() {
                        return;
                    }
                }
                event = event_loop.poll() => match event {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                    Ok(_) => {}
                },
            }
        }
    };
    let _ = tokio::time::timeout(GOODBYE, goodbye).await;
}

/// A refusal that retrying will not cure: the broker said no, or TLS
/// failed (bad configuration, or a certificate the CA did not sign).
fn is_refusal(error: &ConnectionError) -> bool {
    match error {
        ConnectionError::ConnectionRefused(_) | ConnectionError::Tls(_) => true,
        ConnectionError::Io(io) => io.kind() == std::io::ErrorKind::InvalidData,
        // With TLS 1.3 a broker that wants a client certificate says so
        // only after the handshake, as an alert on the first read.
        ConnectionError::MqttState(_) => super::cause::tls_alert(error).is_some(),
        _ => false,
    }
}

impl Shared {
    /// Resolves once the connection of `generation` is gone: dropped,
    /// replaced by a newer one, or closed.
    pub async fn connection_lost(&self, generation: u64) {
        let mut link = self.link.subscribe();
        let _ = link
            .wait_for(|state| !state.is_connection(generation))
            .await;
    }

    /// Ends the client: no more reconnects; requests fail at once and
    /// [`MqttStore::stopped`](super::MqttStore::stopped) says why.
    fn stop_for_good(&self, reason: String) {
        tracing::error!(%reason, "state store link stopped");
        *self.stopped.lock().unwrap() = Some(reason);
        self.closing.cancel();
    }

    fn link_down(&self, reason: String) {
        *self.last_failure.lock().unwrap() = Some(reason.clone());
        let generation = self.link.borrow().generation();
        let was_up = matches!(
            &*self.link.borrow(),
            LinkState::Up { .. } | LinkState::Subscribing { .. }
        );
        if was_up {
            tracing::warn!(%reason, client_id = %self.client_id, "state store link down");
        }
        self.link.send_replace(LinkState::Down { generation });
        self.pending.fail_all();
    }
}

/// After a connect: subscribe (and wait for both SUBACKs), register every
/// live watch again, catch up on what changed meanwhile, then let requests
/// flow.
async fn come_up(
    shared: Weak<Shared>,
    generation: u64,
    mut subacks: mpsc::UnboundedReceiver<bool>,
) {
    let Some(this) = shared.upgrade() else { return };
    let filter = ss::protocol::notification_filter(&this.client_id);
    let mut topics = vec![this.response_topic.clone(), filter];
    if this.release.is_some() {
        topics.push(super::release::probe_topic(&this.client_id));
    }
    let subscriptions = topics.len();
    for topic in topics {
        // Handed over only to this connection: one that drops first takes
        // it no more, and the next connection subscribes by itself.
        tokio::select! {
            () = this.connection_lost(generation) => return,
            subscribed = this.client.subscribe(topic, QoS::AtLeastOnce) => {
                if subscribed.is_err() {
                    return;
                }
            }
        }
    }
    for _ in 0..subscriptions {
        match tokio::time::timeout(this.request_timeout, subacks.recv()).await {
            Ok(Some(true)) => {}
            Ok(Some(false)) => {
                tracing::error!(client_id = %this.client_id, "the broker refused a subscription");
                return;
            }
            // Link dropped or no answer: the next connect starts over.
            _ => return,
        }
    }
    // Only the connection this task was started for may be declared up.
    let up = this.link.send_if_modified(|state| {
        if *state == (LinkState::Subscribing { generation }) {
            *state = LinkState::Up { generation };
            true
        } else {
            false
        }
    });
    if !up {
        return;
    }
    tracing::debug!(client_id = %this.client_id, generation, "state store link up");
    // Requests flow again at once (a leader's renewal must not wait); the
    // watches are registered again alongside.
    if generation > 1 {
        this.reregister_watches(generation).await;
    }
}
