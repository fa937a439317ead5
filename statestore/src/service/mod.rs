//! The AIO state-store *service*, sans IO: one request message in (its
//! payload and MQTT properties), the messages to publish out. The MQTT
//! service (`elector statestore`) only moves bytes between the broker and
//! this; tests and fuzzers drive it directly.
//!
//! It answers as the AIO service does (see
//! `docs/state-store-protocol.md`): the reply payload with `__stat`
//! 200, `__protVer` 1.0 and the version in `__ts`, the correlation data
//! echoed, notifications (published before the answer to the change that
//! caused them, so a client that reads the answer and then stops watching has
//! still seen them), and the first answer again for a request re-sent with
//! the same correlation data.

mod dedupe;

use crate::command::{Reply, Request, Response};
use crate::error::StoreErrorKind;
use crate::hlc::Hlc;
use crate::limits::Limits;
use crate::machine::StateStore;
use crate::notify::Notification;
use crate::{protocol, resp};
use dedupe::Dedupe;

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

/// A message to publish (QoS 1, content type `application/octet-stream`).
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Why a request got no answer at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// No response topic to answer on.
    NoResponseTopic,
    /// A response topic the service must not publish to.
    ForbiddenResponseTopic(String),
}

/// The service's whole state: the store and the recent answers.
pub struct Service {
    store: StateStore<String>,
    recent: Dedupe<Outgoing>,
}

impl Service {
    /// An empty store issuing versions as `node_id`.
    pub fn new(node_id: impl Into<String>, limits: Limits) -> Service {
        Service {
            store: StateStore::new(node_id, limits),
            recent: Dedupe::default(),
        }
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

    /// Answers one request at `now_ms` (the service's wall clock).
    pub fn handle(
        &mut self,
        now_ms: u64,
        incoming: &Incoming<'_>,
    ) -> Result<Vec<Outgoing>, Dropped> {
        let response_topic = incoming.response_topic.ok_or(Dropped::NoResponseTopic)?;
        if protocol::is_forbidden_response_topic(response_topic) {
            return Err(Dropped::ForbiddenResponseTopic(response_topic.to_owned()));
        }
        let client = property(incoming, protocol::SOURCE_ID)
            .map(str::to_owned)
            .or_else(|| protocol::client_id_from_response_topic(response_topic))
            .unwrap_or_else(|| response_topic.to_owned());
        if let Some(correlation) = incoming.correlation
            && let Some(answer) = self.recent.get(&client, correlation)
        {
            return Ok(vec![answer]);
        }
        let (response, notifications) = match parse(incoming) {
            Ok((command, timestamp, fencing_token)) => {
                let request = Request {
                    client: client.clone(),
                    command,
                    timestamp,
                    fencing_token,
                };
                self.store.handle(now_ms, request)
            }
            Err(kind) => {
                // Keys due by now still expire, on time for everyone else.
                let expired = self.store.expire(now_ms);
                let response = Response {
                    reply: Reply::Error(kind),
                    version: self.store.current_version(),
                };
                (response, expired)
            }
        };
        let answer = Outgoing {
            topic: response_topic.to_owned(),
            payload: resp::encode_reply(&response.reply),
            correlation: incoming.correlation.map(<[u8]>::to_vec),
            user_properties: reply_properties(&response.version),
        };
        if let Some(correlation) = incoming.correlation {
            self.recent
                .remember(&client, correlation.to_vec(), answer.clone());
        }
        let mut outgoing: Vec<Outgoing> = notifications.into_iter().map(notification).collect();
        outgoing.push(answer);
        Ok(outgoing)
    }
}

fn property<'a>(incoming: &'a Incoming<'_>, name: &str) -> Option<&'a str> {
    incoming
        .user_properties
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

type Parsed = (crate::command::Command, Option<Hlc>, Option<Hlc>);

/// The command and its `__ts` and `__ft`, or the error to answer with.
fn parse(incoming: &Incoming<'_>) -> Result<Parsed, StoreErrorKind> {
    let hlc = |name| {
        property(incoming, name)
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
