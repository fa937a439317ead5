//! The store as its clients see it: the operations' options and results,
//! and the failures a request can meet on its way.
//!
//! Every client of the store speaks this one vocabulary: the election core
//! inside the component, the host's backends (embedded and over MQTT), the
//! simulator and the examples. Each side of the sandbox converts it to and
//! from the WIT types in exactly one module, so a condition or an error is
//! never mapped twice.
//!
//! The readings ([`set_result`], [`get_result`], [`delete_result`],
//! [`keynotify_result`]) turn a store's [`Answer`] into these results, and
//! [`SetOptions::command`] and friends build the [`Command`] of each
//! operation, once for every client.

use core::fmt;

use crate::command::{Command, Reply, Response, SetCondition};
use crate::error::StoreErrorKind;
use crate::hlc::Hlc;
use crate::notify::{KeyEvent, Notification};
use crate::outcome::{DeleteOutcome, ReplyError};

/// How a SET applies: its condition, its expiry and the fencing token it
/// presents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// `NX`, `NEX` or always.
    pub condition: SetCondition,
    /// `PX`: the key expires this many milliseconds after the write.
    pub expiry_ms: Option<u64>,
    /// `__ft`: the token the write presents to a fenced key.
    pub fencing_token: Option<Hlc>,
}

impl SetOptions {
    /// The SET command that writes `value` to `key` with these options (the
    /// fencing token travels beside the command, as `__ft`).
    pub fn command(&self, key: &[u8], value: &[u8]) -> Command {
        Command::Set {
            key: key.to_vec(),
            value: value.to_vec(),
            condition: self.condition,
            expiry_ms: self.expiry_ms,
        }
    }
}

/// What a SET did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetResponse {
    /// Whether the write happened (`+OK`), or its condition kept it out
    /// (`:-1`).
    pub applied: bool,
    /// The version the store reported: the write's own when it applied.
    /// `None` only from a store whose answer carried no version; the
    /// election refuses such a write, as it has no fencing token to offer.
    pub version: Option<Hlc>,
}

/// A stored value and the version of the write that stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedValue {
    /// The value.
    pub value: Vec<u8>,
    /// The version of the write that stored it.
    pub version: Hlc,
}

/// A change to a watched key, as its watcher hears it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyNotification {
    /// What happened to the key.
    pub event: KeyEvent,
    /// The version of the change.
    pub version: Hlc,
}

impl<C> From<Notification<C>> for KeyNotification {
    fn from(notification: Notification<C>) -> Self {
        KeyNotification {
            event: notification.event,
            version: notification.version,
        }
    }
}

/// What a store request gives: its result, or how it failed.
pub type StoreResult<T> = Result<T, StoreError>;

/// A failed store request: refused by the store, or lost on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The store answered `-ERR`.
    Refused(StoreErrorKind),
    /// No answer in time; the request may have been applied.
    Timeout,
    /// No connection, or it dropped with the request in flight (which may
    /// then have been applied).
    Disconnected,
    /// An answer that breaks the protocol.
    Protocol(String),
}

impl StoreError {
    /// Failures worth retrying after a pause: the store may answer later.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Timeout | StoreError::Disconnected)
    }
}

/// The words a user reads: a refusal shows the store's own text; a
/// transport failure says what happened to the request.
impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Refused(kind) => write!(f, "the state store refused the request: {kind}"),
            StoreError::Timeout => f.write_str("the state store did not answer in time"),
            StoreError::Disconnected => f.write_str("not connected to the state store"),
            StoreError::Protocol(text) => {
                write!(f, "the state store's answer broke the protocol: {text}")
            }
        }
    }
}

impl std::error::Error for StoreError {}

impl From<ReplyError> for StoreError {
    fn from(error: ReplyError) -> Self {
        match error {
            ReplyError::Refused(kind) => StoreError::Refused(kind),
            ReplyError::Unexpected(reply) => {
                StoreError::Protocol(format!("unexpected reply: {reply:?}"))
            }
        }
    }
}

/// The GET command for `key`.
pub fn get_command(key: &[u8]) -> Command {
    Command::Get { key: key.to_vec() }
}

/// The DEL command for `key`.
pub fn del_command(key: &[u8]) -> Command {
    Command::Del { key: key.to_vec() }
}

/// The VDEL command: delete `key` only while it holds `value`.
pub fn vdel_command(key: &[u8], value: &[u8]) -> Command {
    Command::VDel {
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

/// The KEYNOTIFY command that starts (or, with `stop`, ends) a watch.
pub fn keynotify_command(key: &[u8], stop: bool) -> Command {
    Command::KeyNotify {
        key: key.to_vec(),
        stop,
    }
}

/// A store's answer as a client reads it: the reply, and the version that
/// came with it, if any. An in-process store always has one; over MQTT the
/// `__ts` property may be missing (Microsoft's clients treat it as
/// optional), and each operation decides below whether it needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The RESP3 reply.
    pub reply: Reply,
    /// The version beside it (`__ts`).
    pub version: Option<Hlc>,
}

impl From<Response> for Answer {
    fn from(response: Response) -> Self {
        Answer {
            reply: response.reply,
            version: Some(response.version),
        }
    }
}

/// A SET's outcome. An applied SET without a version is passed on as such
/// (see [`SetResponse::version`]); a SET that did not apply needs none.
pub fn set_result(answer: impl Into<Answer>) -> StoreResult<SetResponse> {
    let Answer { reply, version } = answer.into();
    Ok(SetResponse {
        applied: reply.set_applied()?,
        version,
    })
}

/// A GET's outcome. A miss needs no version. A hit without one is a
/// protocol error: the version is what orders the value against the key's
/// notifications and writes, and one made up here could make a reader take
/// an old holder for a new one, or ignore a real change as stale.
pub fn get_result(answer: impl Into<Answer>) -> StoreResult<Option<VersionedValue>> {
    let Answer { reply, version } = answer.into();
    let Some(value) = reply.get_value()? else {
        return Ok(None);
    };
    let version = version.ok_or_else(|| {
        StoreError::Protocol("a GET that found a value carried no version (__ts)".into())
    })?;
    Ok(Some(VersionedValue { value, version }))
}

/// A DEL's or VDEL's outcome; the version is not needed.
pub fn delete_result(answer: impl Into<Answer>) -> StoreResult<DeleteOutcome> {
    Ok(answer.into().reply.delete_outcome()?)
}

/// A KEYNOTIFY's outcome; the version is not needed.
pub fn keynotify_result(answer: impl Into<Answer>) -> StoreResult<()> {
    Ok(answer.into().reply.keynotify_outcome()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(reply: Reply) -> Response {
        Response {
            reply,
            version: Hlc::new(5, 1, "n"),
        }
    }

    fn unversioned(reply: Reply) -> Answer {
        Answer {
            reply,
            version: None,
        }
    }

    #[test]
    fn replies_read_as_results() {
        assert!(set_result(response(Reply::Ok)).unwrap().applied);
        assert!(!set_result(response(Reply::NotApplied)).unwrap().applied);
        assert_eq!(get_result(response(Reply::Value(None))).unwrap(), None);
        let found = get_result(response(Reply::Value(Some(b"v".to_vec()))));
        assert_eq!(found.unwrap().unwrap().value, b"v");
        assert_eq!(
            delete_result(response(Reply::Count(-1))),
            Ok(DeleteOutcome::ValueMismatch)
        );
        assert_eq!(
            delete_result(response(Reply::Error(
                StoreErrorKind::FencingTokenLowerVersion
            ))),
            Err(StoreError::Refused(
                StoreErrorKind::FencingTokenLowerVersion
            ))
        );
        assert!(matches!(
            set_result(response(Reply::Count(3))),
            Err(StoreError::Protocol(_))
        ));
    }

    #[test]
    fn answers_without_a_version_are_read_where_none_is_needed() {
        let applied = set_result(unversioned(Reply::Ok)).unwrap();
        assert!(applied.applied && applied.version.is_none());
        assert!(!set_result(unversioned(Reply::NotApplied)).unwrap().applied);
        assert_eq!(get_result(unversioned(Reply::Value(None))), Ok(None));
        assert!(matches!(
            get_result(unversioned(Reply::Value(Some(b"v".to_vec())))),
            Err(StoreError::Protocol(_))
        ));
        assert_eq!(
            delete_result(unversioned(Reply::Count(1))),
            Ok(DeleteOutcome::Deleted)
        );
        assert_eq!(keynotify_result(unversioned(Reply::Ok)), Ok(()));
    }

    #[test]
    fn only_lost_answers_are_transient() {
        assert!(StoreError::Timeout.is_transient());
        assert!(StoreError::Disconnected.is_transient());
        assert!(!StoreError::Refused(StoreErrorKind::QuotaExceeded).is_transient());
        assert!(!StoreError::Protocol("x".into()).is_transient());
    }
}
