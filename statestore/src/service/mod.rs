//! The AIO state-store *service*, sans IO: one request message in (its
//! payload and MQTT properties), the messages to publish out. The MQTT
//! service (`elector statestore`) only moves bytes between the broker and
//! this; tests and fuzzers drive it directly.
//!
//! It answers as the AIO service does (see
//! `docs/state-store-protocol.md`): the reply payload with `__stat`
//! 200, `__protVer` 1.0 and the version in `__ts`, the correlation data
//! echoed, the requester's own notifications (published before the answer
//! to the change that caused them, so a client that reads the answer and
//! then stops watching has still seen them; see [`answer_first`] for the
//! others'), and the first answer again for a request re-sent with
//! the same correlation data.
//!
//! Behind a plain broker it also has to protect itself and other clients
//! (`docs/security.md`): a request is answered only on a response topic of
//! the client it claims to come from ([`requester`], `identity.rs`); a
//! different request re-using correlation data is refused rather than
//! given an old answer (`replay.rs`); and a driver queues requests per
//! client ([`FairQueue`], `queue.rs`).

mod digest;
mod identity;
mod queue;
mod replay;

use crate::command::{Command, Reply, Request, Response};
use crate::error::StoreErrorKind;
use crate::hlc::Hlc;
use crate::limits::Limits;
use crate::machine::{Changes, Snapshot, StateStore};
use crate::notify::{KeyEvent, Notification};
use crate::{protocol, resp};
pub use digest::DigestKey;
pub use identity::requester;
pub use queue::{FairQueue, Overflow};
pub use replay::{Remembered, ReplayChanges};
use replay::{Replays, Seen};

/// The `-ERR` text for a request whose correlation data its client used for
/// a different request within the replay window (`Limits::replay_window_ms`).
pub const CORRELATION_REUSED: &str =
    "the correlation data was already used for a different request";

/// A request as it arrived: what the service reads of the MQTT message.
#[derive(Clone, Debug, Default)]
pub struct Incoming<'a> {
    /// The MQTT 5 Response Topic property.
    pub response_topic: Option<&'a str>,
    /// The MQTT 5 Correlation Data property, echoed in the answer.
    pub correlation: Option<&'a [u8]>,
    /// `__srcId`, `__ts`, `__ft`, ... in any order.
    pub user_properties: &'a [(String, String)],
    /// The RESP3 request.
    pub payload: &'a [u8],
}

impl Incoming<'_> {
    /// The first user property called `name`.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.user_properties
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A message to publish (QoS 1, content type `application/octet-stream`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Outgoing {
    /// A response topic or a KEYNOTIFY topic.
    pub topic: String,
    /// A RESP3 reply or notification.
    pub payload: Vec<u8>,
    /// The request's correlation data (answers only).
    pub correlation: Option<Vec<u8>>,
    /// `__stat`, `__protVer` and `__ts`, in that order.
    pub user_properties: Vec<(String, String)>,
}

impl Outgoing {
    /// Roughly the bytes the message takes in memory.
    fn bytes(&self) -> usize {
        self.topic.len()
            + self.payload.len()
            + self.correlation.as_ref().map_or(0, Vec::len)
            + self
                .user_properties
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }
}

/// Why a request got no answer at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// No response topic to answer on.
    NoResponseTopic,
    /// A response topic the service must not publish to.
    ForbiddenResponseTopic(String),
    /// A response topic longer than `Limits::max_response_topic_bytes`.
    OversizedResponseTopic(usize),
    /// Correlation data longer than `Limits::max_correlation_bytes`.
    OversizedCorrelation(usize),
    /// A response topic not under `clients/<id>/` for the id the request
    /// claims (`claimed`: its `__srcId`, if any).
    ForeignResponseTopic {
        /// The response topic.
        topic: String,
        /// The request's `__srcId`.
        claimed: Option<String>,
    },
    /// A client id with a `/`, whose topics a broker's per-client ACL
    /// cannot tell from another client's.
    SlashInClientId(String),
}

impl Dropped {
    /// A short name, for logs and counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Dropped::NoResponseTopic => "no-response-topic",
            Dropped::ForbiddenResponseTopic(_) => "forbidden-response-topic",
            Dropped::OversizedResponseTopic(_) => "oversized-response-topic",
            Dropped::OversizedCorrelation(_) => "oversized-correlation",
            Dropped::ForeignResponseTopic { .. } => "foreign-response-topic",
            Dropped::SlashInClientId(_) => "slash-in-client-id",
        }
    }
}

/// What the service holds, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Stored keys.
    pub keys: usize,
    /// What they count against `Limits::max_store_bytes`.
    pub stored_bytes: usize,
    /// KEYNOTIFY registrations.
    pub watches: usize,
    /// Registrations that lapsed since the service started.
    pub lapsed_registrations: u64,
    /// Requests remembered for re-sends.
    pub remembered: usize,
    /// Bytes they take.
    pub remembered_bytes: usize,
    /// Keys that expired since the service started.
    pub expired_keys: u64,
}

/// The service's whole state: the store and the recent requests.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Service {
    store: StateStore<String>,
    recent: Replays<Outgoing>,
    /// Keys the request digests, so nobody can make two requests collide
    /// on purpose.
    digests: DigestKey,
}

/// Everything the service keeps across a restart: the store, the
/// requests a re-send must not run twice, and the key their digests were
/// made with.
#[derive(Clone, Debug)]
pub struct ServiceSnapshot {
    /// The store's keys, registrations and high-water mark.
    pub store: Snapshot<String>,
    /// Requests answered within the replay window.
    pub remembered: Vec<Remembered<Outgoing>>,
    /// The key of their digests.
    pub digest_key: DigestKey,
}

/// What changed since the last [`Service::take_changes`]: what a durable
/// driver writes down before publishing the messages that came with it.
#[derive(Clone, Debug)]
pub struct ServiceChanges {
    /// Keys, registrations and the high-water mark.
    pub store: Changes<String>,
    /// Requests remembered and forgotten.
    pub replays: ReplayChanges<Outgoing>,
}

impl ServiceChanges {
    /// True when there is nothing to write down.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
            && self.replays.remembered.is_empty()
            && self.replays.forgotten.is_empty()
    }
}

impl Service {
    /// An empty store issuing versions as `node_id`.
    pub fn new(node_id: impl Into<String>, limits: Limits) -> Service {
        let recent = Replays::new(limits.replay_window_ms, limits.max_replay_bytes);
        Service {
            store: StateStore::new(node_id, limits),
            recent,
            digests: DigestKey::random(),
        }
    }

    /// An empty store whose request digests use `digest_key`: replicas of
    /// one store must all use the same key.
    pub fn with_digest_key(
        node_id: impl Into<String>,
        limits: Limits,
        digest_key: DigestKey,
    ) -> Service {
        Service {
            digests: digest_key,
            ..Service::new(node_id, limits)
        }
    }

    /// The service `snapshot` describes, at `now_ms` (see
    /// [`StateStore::restore`]): keys that expired meanwhile go at the
    /// first [`Service::expire`], with their notifications.
    pub fn restore(
        node_id: impl Into<String>,
        limits: Limits,
        snapshot: ServiceSnapshot,
        now_ms: u64,
    ) -> Service {
        let mut recent = Replays::new(limits.replay_window_ms, limits.max_replay_bytes);
        let mut remembered = snapshot.remembered;
        remembered.sort_by_key(|entry| entry.at_ms);
        for entry in remembered {
            let kept = entry.answer.map(|answer| {
                let bytes = answer.bytes();
                (answer, bytes)
            });
            recent.remember(
                entry.at_ms,
                &entry.client,
                &entry.correlation,
                entry.digest,
                kept,
            );
        }
        Service {
            store: StateStore::restore(node_id, limits, snapshot.store, now_ms),
            recent,
            digests: snapshot.digest_key,
        }
    }

    /// From now on, remember what changes, for [`Service::take_changes`].
    pub fn track_changes(&mut self) {
        self.store.track_changes();
        self.recent.track_changes();
    }

    /// What changed since the last call.
    pub fn take_changes(&mut self) -> ServiceChanges {
        ServiceChanges {
            store: self.store.take_changes(),
            replays: self.recent.take_changes(),
        }
    }

    /// The key request digests are made with, to keep with the rest.
    pub fn digest_key(&self) -> DigestKey {
        self.digests
    }

    /// See [`StateStore::hold_new_positions_until`].
    pub fn hold_new_positions_until(&mut self, deadline_ms: u64) {
        self.store.hold_new_positions_until(deadline_ms);
    }

    /// When (ms) the next key expires, so a driver can arm one timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.store.next_expiry()
    }

    /// DELETE notifications for every key due to expire by `now_ms`.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Outgoing> {
        self.store
            .expire(now_ms)
            .into_iter()
            .map(notification)
            .collect()
    }

    /// What the service holds now.
    pub fn usage(&self) -> Usage {
        Usage {
            keys: self.store.len(),
            stored_bytes: self.store.stored_bytes(),
            watches: self.store.watch_count(),
            lapsed_registrations: self.store.lapsed_registrations(),
            remembered: self.recent.remembered(),
            remembered_bytes: self.recent.bytes(),
            expired_keys: self.store.expired_keys(),
        }
    }

    /// Answers one request at `now_ms` (the service's wall clock), or
    /// drops it (see [`requester`]).
    ///
    /// A request re-sent with the same correlation data within the replay
    /// window gets its first answer again, if running it again could answer
    /// differently (SET, DEL, VDEL, `KEYNOTIFY … STOP`); a GET, a KEYNOTIFY
    /// or a malformed request is answered afresh, since running it again
    /// changes nothing, so their answers (a GET's may be a whole value) are
    /// not kept. A different request with the same correlation data is
    /// refused with [`CORRELATION_REUSED`] and not run.
    pub fn handle(
        &mut self,
        now_ms: u64,
        incoming: &Incoming<'_>,
    ) -> Result<Vec<Outgoing>, Dropped> {
        let client = requester(incoming, self.store.limits())?;
        self.store.touch(&client, now_ms);
        let digest = self.digests.digest(incoming);
        let seen = match incoming.correlation {
            Some(correlation) => self.recent.check(now_ms, &client, correlation, digest),
            None => Seen::New,
        };
        match seen {
            Seen::Again(Some(answer)) => return Ok(vec![answer]),
            Seen::Different => {
                let refusal = Response {
                    reply: Reply::Error(StoreErrorKind::Service(CORRELATION_REUSED.to_owned())),
                    version: self.store.current_version(),
                };
                return Ok(vec![answer(incoming, &refusal)]);
            }
            Seen::Again(None) | Seen::New => {}
        }
        let (response, notifications, keep) = match parse(incoming) {
            Ok((command, timestamp, fencing_token)) => {
                let keep = reruns_differently(&command);
                let request = Request {
                    client: client.clone(),
                    command,
                    timestamp,
                    fencing_token,
                };
                let (response, notifications) = self.store.handle(now_ms, request);
                (response, notifications, keep)
            }
            Err(kind) => {
                // Keys due by now still expire, on time for everyone else.
                let expired = self.store.expire(now_ms);
                let response = Response {
                    reply: Reply::Error(kind),
                    version: self.store.current_version(),
                };
                (response, expired, false)
            }
        };
        let answer = answer(incoming, &response);
        if let (Some(correlation), Seen::New) = (incoming.correlation, seen) {
            let kept = keep.then(|| (answer.clone(), answer.bytes()));
            self.recent
                .remember(now_ms, &client, correlation, digest, kept);
        }
        Ok(answer_first(&client, notifications, answer))
    }
}

/// The messages one request caused, in the order they are published:
/// first the notifications someone acts on before the answer matters
/// (the requester's own, and every deletion), then the answer, then the
/// other watchers' notifications of a write.
///
/// The requester's notifications precede its answer, so a client that
/// reads the answer and then stops watching has still seen them. A
/// deletion is what waiting candidates act on (a release, an expiry), so
/// its notifications go before the deleter's answer, which nobody waits
/// for. A write is what its writer acts on (the winner of a failover
/// leads once its answer arrives), so its answer goes before the other
/// watchers' notifications, which only tell them who holds the key now:
/// with N watchers it no longer waits behind N messages at the service,
/// the broker and the writer's socket.
///
/// Only messages to different clients trade places: every client receives
/// its own messages in the order the store made them (a request's
/// notifications are the expiries it ran first, all deletions, then at
/// most one change of its own).
fn answer_first(
    requester: &str,
    notifications: Vec<Notification<String>>,
    answer: Outgoing,
) -> Vec<Outgoing> {
    let (before, after): (Vec<_>, Vec<_>) = notifications
        .into_iter()
        .partition(|n| n.client == requester || n.event == KeyEvent::Delete);
    let mut outgoing = Vec::with_capacity(before.len() + 1 + after.len());
    outgoing.extend(before.into_iter().map(notification));
    outgoing.push(answer);
    outgoing.extend(after.into_iter().map(notification));
    outgoing
}

/// True for the commands whose answer may differ when run again: those
/// that change something (a second SET NX finds the key, a second DEL
/// finds none, a second STOP finds no registration).
fn reruns_differently(command: &Command) -> bool {
    !matches!(
        command,
        Command::Get { .. } | Command::KeyNotify { stop: false, .. }
    )
}

/// The answer to `incoming` on its response topic, echoing its
/// correlation data.
fn answer(incoming: &Incoming<'_>, response: &Response) -> Outgoing {
    Outgoing {
        topic: incoming
            .response_topic
            .expect("only requests with a response topic are answered")
            .to_owned(),
        payload: resp::encode_reply(&response.reply),
        correlation: incoming.correlation.map(<[u8]>::to_vec),
        user_properties: reply_properties(&response.version),
    }
}

type Parsed = (Command, Option<Hlc>, Option<Hlc>);

/// The command and its `__ts` and `__ft`, or the error to answer with.
fn parse(incoming: &Incoming<'_>) -> Result<Parsed, StoreErrorKind> {
    let hlc = |name| {
        incoming
            .property(name)
            .map(|text| {
                text.parse::<Hlc>()
                    .map_err(|_| StoreErrorKind::MalformedTimestamp)
            })
            .transpose()
    };
    let timestamp = hlc(protocol::TIMESTAMP)?;
    let fencing_token = hlc(protocol::FENCING_TOKEN)?;
    let command = resp::decode_request(incoming.payload)?;
    Ok((command, timestamp, fencing_token))
}

/// `__stat` 200 (also for `-ERR` answers), `__protVer` 1.0, `__ts`.
pub fn reply_properties(version: &Hlc) -> Vec<(String, String)> {
    vec![
        (protocol::STATUS.to_owned(), protocol::STATUS_OK.to_owned()),
        (
            protocol::PROTOCOL_VERSION.to_owned(),
            protocol::PROTOCOL_VERSION_VALUE.to_owned(),
        ),
        (protocol::TIMESTAMP.to_owned(), version.to_string()),
    ]
}

fn notification(notification: Notification<String>) -> Outgoing {
    Outgoing {
        topic: protocol::notification_topic(&notification.client, &notification.key),
        payload: resp::encode_notification(&notification.event),
        correlation: None,
        user_properties: reply_properties(&notification.version),
    }
}

#[cfg(test)]
mod tests;
