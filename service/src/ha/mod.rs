//! `elector statestore --etcd`: one of any number of stateless frontends
//! over an etcd cluster, by state-machine replication.
//!
//! Every frontend holds a replica of the one deterministic state machine
//! (`replica.rs`) and applies the same log of entries (`entry.rs`) in the
//! order etcd's Raft log gives them (`crate::etcd`). So no two frontends
//! can ever disagree about who holds a position: a request is decided when
//! its entry is applied, by every replica alike, after every entry before
//! it. The frontend that appended an entry publishes what it produced.
//!
//! - Each request reaches one frontend (an MQTT shared subscription); a
//!   copy re-sent to another frontend is appended again and answered from
//!   the replicated replay cache, so it is applied once.
//! - Versions and tokens stay monotone: the replicas' one HLC runs at the
//!   greatest time any entry carried.
//! - One frontend at a time is the expirer (etcd's lease-based election):
//!   it appends "expire now" when a key is due, fenced by its lease, and
//!   writes snapshots. Until a dead expirer is replaced, a request still
//!   finds an expired key absent (every request expires what is due
//!   first), so no lease outlives its PX.
//! - KEYNOTIFY registrations are part of the replicated state.
//! - Without etcd quorum nothing is appended, so nothing is applied or
//!   answered: the client's request times out, a retryable failure.

mod entry;
mod replica;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use elector_statestore as ss;
use rumqttc::v5::AsyncClient;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::drops::Drops;
use super::etcd::{EtcdError, EtcdLog, ExpirerRole};
use super::handler::Outgoing;
use super::inbox::Inbox;
use super::outbox::Outbox;
use super::{REQUEST_CONNECTION_CAPACITY, ServiceOptions};
use elector_host::clock::StoreClock;
use elector_host::mqtt::ConnectionSettings;
pub use entry::{EntryKind, LogEntry};
pub use replica::Replica;

/// Every key of the store in etcd is under this.
pub const PREFIX: &str = "elector/statestore/v1/";

/// The share group of the request subscription: all frontends are in it,
/// so the broker hands each request to one of them.
pub const SHARE_GROUP: &str = "elector-statestore";

/// Most appends one frontend has in flight at once.
const MAX_APPENDS_IN_FLIGHT: usize = 64;

/// The expirer writes a snapshot (and compacts the log up to it) once
/// this many revisions have passed since the last one.
const SNAPSHOT_EVERY: i64 = 10_000;

/// How the frontend reaches etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdOptions {
    /// `http://HOST:PORT` of any members of the cluster.
    pub endpoints: Vec<String>,
    /// Longest wait for one etcd request.
    pub timeout: Duration,
    /// The lock-delay of a cluster whose log is new.
    pub lock_delay_if_new: Duration,
}

/// The replica and the revision it has applied, shared by the frontend's
/// tasks.
struct Shared {
    replica: Mutex<Replica>,
    applied: watch::Sender<i64>,
    origin: String,
}

/// Serves as one frontend until `shutdown` fires.
pub async fn serve(
    settings: &ConnectionSettings,
    options: ServiceOptions,
    etcd: EtcdOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client_id = settings.client_id_or(&default_client_id());
    let kind = super::instance::Kind::Frontend;
    super::instance::ensure_alone(settings, &client_id, kind).await?;
    let status_topic = kind.status_topic(&client_id);
    let status = super::instance::status(&client_id);
    let stop = shutdown.child_token();
    let endpoints = etcd.endpoints.join(",");
    let log = while_unavailable(&stop, &format!("connecting to etcd at {endpoints}"), || {
        EtcdLog::connect(&etcd.endpoints, PREFIX, etcd.timeout)
    })
    .await?;
    let clock = StoreClock::start();
    let snapshot = while_unavailable(&stop, "loading the snapshot", || log.load_snapshot()).await?;
    let replica = match snapshot {
        Some((revision, bytes)) => {
            let replica = Replica::decode(&bytes).context("reading the etcd snapshot")?;
            tracing::info!(revision, "state-store replica loaded from the snapshot");
            replica
        }
        None => Replica::empty(),
    };
    let (applied, _) = watch::channel(replica.applied());
    let shared = Arc::new(Shared {
        replica: Mutex::new(replica),
        applied,
        origin: client_id.clone(),
    });
    let (publish, published) = mpsc::unbounded_channel();
    let follower = tokio::spawn(follow(log.clone(), shared.clone(), publish, stop.clone()));
    let head = while_unavailable(&stop, "reading the log's head", || log.head()).await?;
    wait_applied(&shared, head).await;
    while !shared.replica.lock().unwrap().has_begun() {
        let began = begin_if_new(&log, &shared, &options, &etcd, &clock).await;
        if let Err(error) = began {
            tracing::warn!(error = %format!("{error:#}"), "beginning the store; trying again");
            pause_or_stop(&stop).await?;
        }
    }
    tracing::info!(
        %client_id,
        applied = *shared.applied.borrow(),
        "state-store frontend caught up with the etcd log"
    );

    let outbox = Outbox::connect(settings, &format!("{client_id}-out"), stop.clone());
    let drops = Arc::new(Drops::reporting_to(None));
    let inbox = Arc::new(Inbox::new(&options.limits, drops.clone()));
    let publisher = tokio::spawn(publish_all(published, outbox));
    let appender = tokio::spawn(append_all(
        log.clone(),
        shared.clone(),
        inbox.clone(),
        clock,
        drops,
    ));
    let expirer = tokio::spawn(expire(log.clone(), shared.clone(), clock, stop.clone()));

    let mut mqtt = settings.mqtt_options(&client_id);
    // A session that ends with the connection: a frontend that is gone
    // must leave the share group at once, or the broker would go on
    // queueing a share of the requests for it.
    mqtt.set_clean_start(true);
    mqtt.set_session_expiry_interval(None);
    super::instance::clear_on_loss(&mut mqtt, &status_topic);
    let (client, mut event_loop) = AsyncClient::new(mqtt, REQUEST_CONNECTION_CAPACITY);
    let subscription = format!("$share/{SHARE_GROUP}/{}", ss::protocol::REQUEST_TOPIC);
    let connection = super::requests::RequestConnection {
        client: &client,
        subscription: &subscription,
        inbox: &inbox,
        clock,
        readiness: options.readiness.as_ref(),
        token_file: settings.token_file(),
        what: "state-store frontend",
        status: (&status_topic, &status),
    };
    let connected = connection.run(&mut event_loop, &stop).await;
    stop.cancel();
    inbox.close();
    let _ = appender.await;
    let _ = expirer.await;
    let _ = follower.await;
    let _ = publisher.await;
    super::instance::withdraw(&client, &status_topic).await;
    let _ = client.disconnect().await;
    connected
}

/// A client id no other frontend has: frontends share the broker.
fn default_client_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let salt = RandomState::new().hash_one(std::process::id()) & 0xff_ffff;
    format!("elector-statestore-{salt:06x}")
}

/// Runs `attempt` until it does not fail with [`EtcdError::Unavailable`]
/// (a frontend starting while etcd elects a leader, or while a member or
/// the link to it is down, waits for it instead of exiting), or until
/// `stop` fires. Other errors end it.
async fn while_unavailable<T, F>(
    stop: &CancellationToken,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> anyhow::Result<T>
where
    F: Future<Output = Result<T, EtcdError>>,
{
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(EtcdError::Unavailable(error)) => {
                tracing::warn!(%error, "{what}: etcd unavailable; trying again");
                pause_or_stop(stop).await?;
            }
            Err(error) => return Err(anyhow::Error::new(error).context(what.to_owned())),
        }
    }
}

/// A pause before trying again, or an error once `stop` fires.
async fn pause_or_stop(stop: &CancellationToken) -> anyhow::Result<()> {
    tokio::select! {
        () = stop.cancelled() => anyhow::bail!("stopped before etcd was reachable"),
        () = tokio::time::sleep(Duration::from_millis(500)) => Ok(()),
    }
}

async fn wait_applied(shared: &Shared, revision: i64) {
    let mut applied = shared.applied.subscribe();
    let _ = applied.wait_for(|applied| *applied >= revision).await;
}

/// Appends the genesis entry (the log has none yet: a new cluster) and
/// waits until one (this or another frontend's) is applied.
async fn begin_if_new(
    log: &EtcdLog,
    shared: &Shared,
    options: &ServiceOptions,
    etcd: &EtcdOptions,
    clock: &StoreClock,
) -> anyhow::Result<()> {
    // (`serve` checked the node id before choosing this mode.)
    let now_ms = clock.now_ms();
    let lock_delay_ms = u64::try_from(etcd.lock_delay_if_new.as_millis()).unwrap_or(u64::MAX);
    let genesis = LogEntry {
        origin: shared.origin.clone(),
        now_ms,
        kind: EntryKind::Genesis {
            node_id: options.node_id.clone(),
            limits: options.limits.clone(),
            digest_key: ss::service::DigestKey::random().0,
            hold_until_ms: now_ms.saturating_add(lock_delay_ms),
        },
    };
    let revision = log.append(&genesis.encode()).await?;
    wait_applied(shared, revision).await;
    tracing::info!(revision, "new etcd-backed state store begun");
    Ok(())
}

/// Applies the log as it commits; publishes what this frontend's own
/// entries produce. Reloads the snapshot when its place in the log was
/// compacted away.
async fn follow(
    log: EtcdLog,
    shared: Arc<Shared>,
    publish: mpsc::UnboundedSender<Outgoing>,
    stop: CancellationToken,
) {
    loop {
        let after = shared.replica.lock().unwrap().applied();
        let mut entries = log.follow(after);
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => return,
                next = entries.next_entry() => next,
            };
            match next {
                Some(Ok((revision, bytes))) => {
                    let entry = match LogEntry::decode(&bytes) {
                        Ok(entry) => entry,
                        Err(error) => {
                            tracing::error!(revision, %error, "unreadable log entry skipped");
                            continue;
                        }
                    };
                    let applied = shared.replica.lock().unwrap().apply(revision, &entry);
                    shared.applied.send_replace(revision);
                    if entry.origin == shared.origin {
                        for message in applied.outgoing {
                            let _ = publish.send(message.into());
                        }
                    }
                }
                Some(Err(EtcdError::Compacted(at))) => {
                    tracing::warn!(
                        at,
                        "the log was compacted past this replica; reloading the snapshot"
                    );
                    reload(&log, &shared).await;
                    break;
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "following the etcd log");
                    break;
                }
                None => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reload(log: &EtcdLog, shared: &Shared) {
    match log.load_snapshot().await {
        Ok(Some((revision, bytes))) => match Replica::decode(&bytes) {
            Ok(replica) if revision > shared.replica.lock().unwrap().applied() => {
                *shared.replica.lock().unwrap() = replica;
                shared.applied.send_replace(revision);
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "unreadable snapshot"),
        },
        Ok(None) => tracing::error!("the log was compacted but there is no snapshot"),
        Err(error) => tracing::warn!(%error, "loading the snapshot"),
    }
}

async fn publish_all(mut messages: mpsc::UnboundedReceiver<Outgoing>, outbox: Outbox) {
    while let Some(message) = messages.recv().await {
        outbox.send(message).await;
    }
    outbox.close().await;
}

/// Appends each request the inbox hands out, up to
/// [`MAX_APPENDS_IN_FLIGHT`] at once. A request whose message expiry ran
/// out in the queue, or whose append fails, is left unanswered: its client
/// retries.
async fn append_all(
    log: EtcdLog,
    shared: Arc<Shared>,
    inbox: Arc<Inbox>,
    clock: StoreClock,
    drops: Arc<Drops>,
) {
    let in_flight = Arc::new(Semaphore::new(MAX_APPENDS_IN_FLIGHT));
    while let Some(request) = inbox.next().await {
        let now_ms = clock.now_ms();
        if request.has_expired(now_ms) {
            drops.count(super::drops::EXPIRED_IN_QUEUE);
            continue;
        }
        let incoming = request.incoming();
        let entry = LogEntry {
            origin: shared.origin.clone(),
            now_ms,
            kind: EntryKind::Request {
                response_topic: incoming.response_topic.map(str::to_owned),
                correlation: incoming.correlation.map(<[u8]>::to_vec),
                user_properties: incoming.user_properties.to_vec(),
                payload: incoming.payload.to_vec(),
                deadline_ms: request.expires_at_ms(),
            },
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let log = log.clone();
        let give_up_at = request
            .expires_at_ms()
            .unwrap_or(now_ms + NO_EXPIRY_RETRY_MS);
        tokio::spawn(async move {
            append_until(&log, &entry.encode(), give_up_at, clock).await;
            drop(permit);
        });
    }
}

/// How long the append of a request without a message expiry is retried.
const NO_EXPIRY_RETRY_MS: u64 = 5_000;

/// Appends `bytes`, again and again while etcd is unavailable (a leader
/// election, a member down) until `give_up_at` (ms): the client waits that
/// long anyway. An entry appended twice (a try that timed out but
/// committed) is a re-send to every replica, answered from the replay
/// cache, so it is applied once.
async fn append_until(log: &EtcdLog, bytes: &[u8], give_up_at: u64, clock: StoreClock) {
    loop {
        match log.append(bytes).await {
            Ok(_) => return,
            Err(EtcdError::Unavailable(error)) if clock.now_ms() < give_up_at => {
                tracing::debug!(%error, "etcd unavailable; appending again");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => {
                tracing::warn!(%error, "request not appended to the etcd log; its client will retry");
                return;
            }
        }
    }
}

/// Campaigns for the expirer role; while holding it, appends "expire
/// now" whenever a key is due (fenced by the role's lease) and writes a
/// snapshot now and then.
async fn expire(log: EtcdLog, shared: Arc<Shared>, clock: StoreClock, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let role = tokio::select! {
            () = stop.cancelled() => return,
            role = log.campaign_expirer(&shared.origin) => role,
        };
        match role {
            Ok(role) => {
                tracing::info!("this frontend is the expirer");
                tokio::select! {
                    () = stop.cancelled() => {
                        let _ = role.resign().await;
                        return;
                    }
                    () = role.lost() => tracing::warn!("this frontend lost the expirer role"),
                    () = run_expirer(&log, &shared, &role, clock) => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "campaigning for the expirer role");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn run_expirer(log: &EtcdLog, shared: &Shared, role: &ExpirerRole, clock: StoreClock) {
    let mut last_snapshot = shared.replica.lock().unwrap().applied();
    loop {
        let (next, applied) = {
            let replica = shared.replica.lock().unwrap();
            (replica.next_expiry(), replica.applied())
        };
        let now_ms = clock.now_ms();
        if next.is_some_and(|at| at <= now_ms) {
            let entry = LogEntry {
                origin: shared.origin.clone(),
                now_ms,
                kind: EntryKind::Expire,
            };
            match log.append_as(role, &entry.encode()).await {
                Ok(Some(revision)) => wait_applied(shared, revision).await,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "expiry not appended");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            continue;
        }
        if applied - last_snapshot >= SNAPSHOT_EVERY {
            // The bytes and the revision they cover, taken together.
            let (applied, bytes) = {
                let replica = shared.replica.lock().unwrap();
                (replica.applied(), replica.encode())
            };
            match log.store_snapshot(applied, &bytes).await {
                Ok(_) => {
                    last_snapshot = applied;
                    if let Err(error) = log.compact(applied).await {
                        tracing::warn!(%error, "compacting the etcd log");
                    }
                }
                Err(error) => tracing::warn!(%error, "storing a snapshot"),
            }
        }
        // Woken by a new entry (it may have set an earlier expiry) or by
        // the next expiry, whichever comes first.
        let wait = next.map_or(Duration::from_secs(1), |at| {
            Duration::from_millis(at.saturating_sub(now_ms)).min(Duration::from_secs(1))
        });
        let mut applied_rx = shared.applied.subscribe();
        let _ = tokio::time::timeout(wait, applied_rx.changed()).await;
    }
}
