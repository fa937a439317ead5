//! Reading the store's replies as the results of each operation. Shared by
//! every backend, since all of them speak the store's reply vocabulary
//! (`+OK`, `:-1`, `$-1`, `:N`, `-ERR`).

use elector_statestore as ss;

use crate::bindings::{DeleteOutcome, Hlc, SetResponse, StoreError, VersionedValue};

pub fn hlc_to_wit(hlc: ss::Hlc) -> Hlc {
    Hlc {
        wall_clock_ms: hlc.wall_clock_ms,
        counter: hlc.counter,
        node_id: hlc.node_id,
    }
}

pub fn hlc_from_wit(hlc: &Hlc) -> ss::Hlc {
    ss::Hlc {
        wall_clock_ms: hlc.wall_clock_ms,
        counter: hlc.counter,
        node_id: hlc.node_id.clone(),
    }
}

pub fn error_to_wit(kind: ss::StoreErrorKind) -> StoreError {
    use ss::StoreErrorKind as K;
    match kind {
        K::TimestampSkew => StoreError::TimestampSkew,
        K::FencingTokenRequired => StoreError::FencingTokenRequired,
        K::FencingTokenSkew => StoreError::FencingTokenSkew,
        K::FencingTokenLowerVersion => StoreError::FencingTokenLowerVersion,
        K::QuotaExceeded => StoreError::QuotaExceeded,
        K::SyntaxError => StoreError::SyntaxError,
        K::NotAuthorized => StoreError::NotAuthorized,
        K::UnknownCommand => StoreError::UnknownCommand,
        K::WrongNumberOfArguments => StoreError::WrongNumberOfArguments,
        K::MissingTimestamp => StoreError::MissingTimestamp,
        K::MalformedTimestamp => StoreError::MalformedTimestamp,
        K::KeyLengthZero => StoreError::KeyLengthZero,
        K::Service(text) => StoreError::Service(text),
    }
}

/// The inverse of [`error_to_wit`]: the kind of a refusal, or the error
/// itself when the store did not refuse (no answer, no connection, a broken
/// reply). For callers that speak the plain-Rust vocabulary.
pub fn error_from_wit(error: StoreError) -> Result<ss::StoreErrorKind, StoreError> {
    use ss::StoreErrorKind as K;
    Ok(match error {
        StoreError::TimestampSkew => K::TimestampSkew,
        StoreError::FencingTokenRequired => K::FencingTokenRequired,
        StoreError::FencingTokenSkew => K::FencingTokenSkew,
        StoreError::FencingTokenLowerVersion => K::FencingTokenLowerVersion,
        StoreError::QuotaExceeded => K::QuotaExceeded,
        StoreError::SyntaxError => K::SyntaxError,
        StoreError::NotAuthorized => K::NotAuthorized,
        StoreError::UnknownCommand => K::UnknownCommand,
        StoreError::WrongNumberOfArguments => K::WrongNumberOfArguments,
        StoreError::MissingTimestamp => K::MissingTimestamp,
        StoreError::MalformedTimestamp => K::MalformedTimestamp,
        StoreError::KeyLengthZero => K::KeyLengthZero,
        StoreError::Service(text) => K::Service(text),
        StoreError::Timeout | StoreError::Disconnected | StoreError::Protocol(_) => {
            return Err(error);
        }
    })
}

fn reply_error(error: ss::ReplyError) -> StoreError {
    match error {
        ss::ReplyError::Refused(kind) => error_to_wit(kind),
        ss::ReplyError::Unexpected(reply) => {
            StoreError::Protocol(format!("unexpected reply: {reply:?}"))
        }
    }
}

/// A store's answer as a backend reads it: the reply, and the version that
/// came with it, if any. The embedded store always has one; over MQTT the
/// `__ts` property may be missing (Microsoft's clients treat it as
/// optional), and each operation decides below whether it needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub reply: ss::Reply,
    pub version: Option<ss::Hlc>,
}

impl From<ss::Response> for Answer {
    fn from(response: ss::Response) -> Self {
        Answer {
            reply: response.reply,
            version: Some(response.version),
        }
    }
}

/// A SET's outcome. An applied SET without a version is passed on as
/// such: the election layer refuses it (it has no fencing token to offer),
/// while a SET that did not apply needs none.
pub fn set_result(answer: impl Into<Answer>) -> Result<SetResponse, StoreError> {
    let Answer { reply, version } = answer.into();
    Ok(SetResponse {
        applied: reply.set_applied().map_err(reply_error)?,
        version: version.map(hlc_to_wit),
    })
}

/// A GET's outcome. A miss needs no version. A hit without one is a
/// protocol error: the version is what orders the value against the key's
/// notifications and writes, and one made up here could make a reader
/// take an old holder for a new one, or ignore a real change as stale.
pub fn get_result(answer: impl Into<Answer>) -> Result<Option<VersionedValue>, StoreError> {
    let Answer { reply, version } = answer.into();
    let Some(value) = reply.get_value().map_err(reply_error)? else {
        return Ok(None);
    };
    let version = version.ok_or_else(|| {
        StoreError::Protocol("a GET that found a value carried no version (__ts)".into())
    })?;
    Ok(Some(VersionedValue {
        value,
        version: hlc_to_wit(version),
    }))
}

/// A DEL's or VDEL's outcome; the version is not needed.
pub fn delete_result(answer: impl Into<Answer>) -> Result<DeleteOutcome, StoreError> {
    let answer = answer.into();
    Ok(match answer.reply.delete_outcome().map_err(reply_error)? {
        ss::DeleteOutcome::Deleted => DeleteOutcome::Deleted,
        ss::DeleteOutcome::Absent => DeleteOutcome::Absent,
        ss::DeleteOutcome::ValueMismatch => DeleteOutcome::ValueMismatch,
    })
}

/// A KEYNOTIFY's outcome; the version is not needed.
pub fn keynotify_result(answer: impl Into<Answer>) -> Result<(), StoreError> {
    answer.into().reply.keynotify_outcome().map_err(reply_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(reply: ss::Reply) -> ss::Response {
        ss::Response {
            reply,
            version: ss::Hlc::new(5, 1, "n"),
        }
    }

    #[test]
    fn replies_map_onto_results() {
        assert!(set_result(response(ss::Reply::Ok)).unwrap().applied);
        assert!(!set_result(response(ss::Reply::NotApplied)).unwrap().applied);
        assert_eq!(get_result(response(ss::Reply::Value(None))).unwrap(), None);
        assert_eq!(
            get_result(response(ss::Reply::Value(Some(b"v".to_vec()))))
                .unwrap()
                .unwrap()
                .value,
            b"v"
        );
        assert_eq!(
            delete_result(response(ss::Reply::Count(-1))).unwrap(),
            DeleteOutcome::ValueMismatch
        );
        assert_eq!(
            delete_result(response(ss::Reply::Error(
                ss::StoreErrorKind::FencingTokenLowerVersion
            ))),
            Err(StoreError::FencingTokenLowerVersion)
        );
        assert!(matches!(
            set_result(response(ss::Reply::Count(3))),
            Err(StoreError::Protocol(_))
        ));
    }

    fn unversioned(reply: ss::Reply) -> Answer {
        Answer {
            reply,
            version: None,
        }
    }

    #[test]
    fn answers_without_a_version_are_read_where_none_is_needed() {
        assert_eq!(
            set_result(unversioned(ss::Reply::Ok)),
            Ok(SetResponse {
                applied: true,
                version: None
            }),
            "passed on for the election layer to refuse"
        );
        assert_eq!(
            set_result(unversioned(ss::Reply::NotApplied)),
            Ok(SetResponse {
                applied: false,
                version: None
            })
        );
        assert_eq!(get_result(unversioned(ss::Reply::Value(None))), Ok(None));
        assert!(matches!(
            get_result(unversioned(ss::Reply::Value(Some(b"v".to_vec())))),
            Err(StoreError::Protocol(_))
        ));
        assert_eq!(
            delete_result(unversioned(ss::Reply::Count(1))),
            Ok(DeleteOutcome::Deleted)
        );
        assert_eq!(keynotify_result(unversioned(ss::Reply::Ok)), Ok(()));
        assert_eq!(
            set_result(unversioned(ss::Reply::Error(
                ss::StoreErrorKind::FencingTokenLowerVersion
            ))),
            Err(StoreError::FencingTokenLowerVersion)
        );
    }

    #[test]
    fn refusals_round_trip_and_failures_pass_through() {
        for kind in [
            ss::StoreErrorKind::FencingTokenLowerVersion,
            ss::StoreErrorKind::Service("busy".into()),
        ] {
            assert_eq!(error_from_wit(error_to_wit(kind.clone())), Ok(kind));
        }
        assert_eq!(
            error_from_wit(StoreError::Timeout),
            Err(StoreError::Timeout)
        );
    }

    #[test]
    fn hlc_round_trips() {
        let original = ss::Hlc::new(123, 4, "node");
        assert_eq!(hlc_from_wit(&hlc_to_wit(original.clone())), original);
    }
}
