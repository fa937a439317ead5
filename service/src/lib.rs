//! `elector statestore`: an AIO-compatible state-store service for any MQTT
//! 5 broker, for development and tests where no AIO broker is at hand.
//!
//! It subscribes to the state store's request topic and answers as the AIO
//! service does (see `docs/state-store-protocol.md`), running the
//! same state machine as the embedded store: HLC versions in `__ts`,
//! `NX`/`NEX`/`PX`, `VDEL`, fencing, refusal of timestamps more than a minute
//! ahead, expiry with DELETE notifications sent when a key expires, and
//! KEYNOTIFY per client.
//!
//! Behind a plain broker the service cannot see who published a request
//! nor a client disconnect (`docs/security.md`). So it answers a request
//! only on a response topic under `clients/<id>/` of the client it claims
//! to be, drops other requests unanswered (counted, logged at debug, and
//! summed up in a log line every minute), holds every resource to a bound
//! (`elector_statestore::Limits`), lets KEYNOTIFY registrations lapse once
//! their client has been silent for a lease (24 h by default; the real
//! service drops them on disconnect), and serves clients in turn from
//! per-client queues, so one client's flood delays another's request by at
//! most one request of each client with requests waiting. Answers and
//! notifications leave by a connection of their own (`outbox.rs`), so
//! however many there are, requests are still read as they come.
//!
//! Its state is durable by default (`storage.rs`, `disk.rs`): every
//! change is in a redb database on disk before the answer or notification
//! it caused is published, requests that arrive together are written in
//! one transaction, and a restart (a `kill -9` included) restores keys
//! with their expiry and fencing tokens, registrations, the answers a
//! re-send must get, and the clock's high-water mark. In memory, a
//! restart loses everything, so no absent key is granted for a lock-delay
//! after a start.
//!
//! It is a crate of its own, apart from the `elector-host` library (whose
//! MQTT settings, TLS and session guards it shares) and the `elector` CLI
//! (which only parses its flags and runs it): an embedder of the library
//! never needs a state-store service, and the service is about to grow
//! durable and etcd-backed modes with dependencies of their own.

pub mod disk;
mod drops;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(feature = "etcd")]
pub mod ha;
mod handler;
mod inbox;
pub mod instance;
pub mod metrics;
mod outbox;
mod received;
mod requests;
pub mod storage;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use elector_statestore as ss;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop};
use tokio_util::sync::CancellationToken;

use drops::Drops;
use elector_host::clock::StoreClock;
use elector_host::mqtt::ConnectionSettings;
use handler::Handler;
use inbox::Inbox;
use outbox::Outbox;
pub use storage::{DEFAULT_LOCK_DELAY, Storage};

/// Requests to the request connection: its subscription, and its
/// disconnect. (Answers leave by the [`Outbox`].)
const REQUEST_CONNECTION_CAPACITY: usize = 8;

/// Most requests answered between two disk writes: a batch waits for
/// one fsync, however many requests it holds.
const MAX_BATCH: usize = 256;

/// A batch takes no more requests once it has this many messages to
/// publish: every answer in a batch waits for all of the batch's
/// messages, so a client whose writes each fan out to many watchers must
/// not make another client's answer wait behind hundreds of them.
const MAX_BATCH_MESSAGES: usize = 512;

/// How often what was dropped is summed up in the log.
const DROP_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// How the service runs.
#[derive(Clone)]
pub struct ServiceOptions {
    /// The HLC node id of the versions it issues.
    pub node_id: String,
    /// Every bound the service holds requests, clients and the store to
    /// (`Limits::default` is sized for leader election on a small device).
    pub limits: ss::Limits,
    /// Where requests, latencies, what the store holds and drops are
    /// counted, when metrics are served.
    pub metrics: Option<Arc<metrics::ServiceMetrics>>,
    /// Told when the broker link is up ([`BROKER`]), when a readiness
    /// endpoint is served.
    pub readiness: Option<Arc<elector_ops::Readiness>>,
    /// Durable in a directory, or in memory with a lock-delay.
    pub storage: Storage,
}

/// Readiness names the service's broker link by this.
pub const BROKER: &str = "broker";

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            node_id: "elector-statestore".into(),
            limits: ss::Limits::default(),
            metrics: None,
            readiness: None,
            storage: Storage::default(),
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
    if let Storage::Etcd {
        endpoints,
        lock_delay_if_new,
    } = &options.storage
    {
        return serve_on_etcd(settings, &options, endpoints, *lock_delay_if_new, shutdown).await;
    }
    let client_id = settings.client_id_or("elector-statestore");
    instance::ensure_alone(settings, &client_id, instance::Kind::SingleNode).await?;
    let clock = StoreClock::start();
    // Opened (and restored) before connecting: a service whose state
    // cannot be read must not answer anyone.
    let (service, disk) =
        storage::open(&options.storage, &options.node_id, &options.limits, &clock)?;
    let status = instance::status(&client_id);
    let mut mqtt = settings.mqtt_options(&client_id);
    instance::clear_on_loss(&mut mqtt, instance::STATUS_TOPIC);
    let (client, mut event_loop) = AsyncClient::new(mqtt, REQUEST_CONNECTION_CAPACITY);
    let outbox = Outbox::connect(settings, &format!("{client_id}-out"), shutdown.clone());
    let on_drop = options
        .metrics
        .clone()
        .map(|metrics| -> drops::OnDrop { Box::new(move |reason| metrics.dropped(reason)) });
    let drops = Arc::new(Drops::reporting_to(on_drop));
    let inbox = Arc::new(Inbox::new(&options.limits, drops.clone()));
    // Fires when the worker fails (a disk write), and stops the service.
    let stop = shutdown.child_token();
    let handler = Handler::new(service, disk, clock, drops, options.metrics.clone());
    let worker = tokio::spawn(work(handler, inbox.clone(), outbox, stop.clone()));
    tracing::info!(
        broker = %format!("{}:{}", settings.hostname, settings.port),
        %client_id,
        "state-store service starting"
    );
    let connection = requests::RequestConnection {
        client: &client,
        subscription: ss::protocol::REQUEST_TOPIC,
        inbox: &inbox,
        clock,
        readiness: options.readiness.as_ref(),
        token_file: settings.token_file(),
        what: "state-store service",
        status: (instance::STATUS_TOPIC, &status),
    };
    let connected = connection.run(&mut event_loop, &stop).await;
    inbox.close();
    let worked = worker.await.context("the service's worker panicked")?;
    connected?;
    instance::withdraw(&client, instance::STATUS_TOPIC).await;
    let _ = client.disconnect().await;
    // Sends both before the connection is dropped (were they lost, the Will
    // would clear the status all the same).
    let flushed = async { while event_loop.poll().await.is_ok() {} };
    let _ = tokio::time::timeout(Duration::from_millis(500), flushed).await;
    worked
}

/// One frontend of the etcd-backed store (`ha/`).
#[cfg(feature = "etcd")]
async fn serve_on_etcd(
    settings: &ConnectionSettings,
    options: &ServiceOptions,
    endpoints: &[String],
    lock_delay_if_new: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let etcd = ha::EtcdOptions {
        endpoints: endpoints.to_vec(),
        timeout: Duration::from_secs(2),
        lock_delay_if_new,
    };
    ha::serve(settings, options.clone(), etcd, shutdown).await
}

#[cfg(not(feature = "etcd"))]
async fn serve_on_etcd(
    _: &ConnectionSettings,
    _: &ServiceOptions,
    _: &[String],
    _: Duration,
    _: CancellationToken,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "this elector was built without etcd support; build it with `cargo build --release \
         --features etcd` (needs protoc: apt-get install -y protobuf-compiler)"
    )
}

/// The connection's next event, or `None` once `shutdown` fires. Every
/// CONNACK first goes through
/// [`forget_parked_publish`](elector_host::mqtt::session::forget_parked_publish),
/// so a new session takes requests again.
async fn next_event(
    event_loop: &mut EventLoop,
    shutdown: &CancellationToken,
) -> Option<Result<Event, ConnectionError>> {
    let event = tokio::select! {
        _ = shutdown.cancelled() => return None,
        event = event_loop.poll() => event,
    };
    if let Ok(Event::Incoming(Packet::ConnAck(ack))) = &event {
        elector_host::mqtt::session::forget_parked_publish(event_loop, ack.session_present);
    }
    Some(event)
}

/// After a connection error: says so, puts the service account token's
/// current contents (if any) in the next CONNECT, and pauses before the
/// event loop reconnects.
async fn recover(event_loop: &mut EventLoop, token_file: Option<&Path>, error: &ConnectionError) {
    tracing::warn!(%error, "broker connection lost; reconnecting");
    if let Some(file) = token_file {
        elector_host::mqtt::session::reload_token(event_loop, file);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Answers requests as the inbox hands them out, client by client
/// (dropping those whose message expiry ran out while they waited), sends
/// expiry notifications on time, and sums up what was dropped now and then.
/// One task owns the store, so no request sees another half-done.
///
/// Requests waiting together are handled as one batch (up to
/// [`MAX_BATCH`] requests, or until [`MAX_BATCH_MESSAGES`]), whose changes are written down in one disk write
/// before any of its answers or notifications is published. A failed
/// write stops the service (`stop`) with nothing of the batch published.
async fn work(
    mut handler: Handler,
    inbox: Arc<Inbox>,
    outbox: Outbox,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut summary = tokio::time::interval(DROP_SUMMARY_EVERY);
    summary.tick().await;
    let result = loop {
        let next_expiry = handler.time_to_next_expiry();
        let outgoing = tokio::select! {
            request = inbox.next() => match request {
                Some(request) => {
                    let mut outgoing = handler.handle_received(&request);
                    for _ in 1..MAX_BATCH {
                        if outgoing.len() >= MAX_BATCH_MESSAGES {
                            break;
                        }
                        let Some(request) = inbox.try_next() else { break };
                        outgoing.extend(handler.handle_received(&request));
                    }
                    outgoing
                }
                None => break Ok(()),
            },
            _ = sleep_or_never(next_expiry) => handler.expire(),
            _ = summary.tick() => {
                handler.log_summary();
                continue;
            }
        };
        if let Err(error) = handler.write_down().await {
            tracing::error!(
                error = %format!("{error:#}"),
                "could not write the state store's changes to disk; stopping without \
                 answering the requests that made them"
            );
            stop.cancel();
            break Err(error.context("writing the state store's changes to disk"));
        }
        for message in outgoing {
            outbox.send(message).await;
        }
    };
    outbox.close().await;
    result
}

async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
