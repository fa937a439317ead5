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

pub fn set_result(response: ss::Response) -> Result<SetResponse, StoreError> {
    let (applied, version) = response.set_outcome().map_err(reply_error)?;
    Ok(SetResponse {
        applied,
        version: Some(hlc_to_wit(version)),
    })
}

pub fn get_result(response: ss::Response) -> Result<Option<VersionedValue>, StoreError> {
    let found = response.get_outcome().map_err(reply_error)?;
    Ok(found.map(|(value, version)| VersionedValue {
        value,
        version: hlc_to_wit(version),
    }))
}

pub fn delete_result(response: ss::Response) -> Result<DeleteOutcome, StoreError> {
    Ok(match response.delete_outcome().map_err(reply_error)? {
        ss::DeleteOutcome::Deleted => DeleteOutcome::Deleted,
        ss::DeleteOutcome::Absent => DeleteOutcome::Absent,
        ss::DeleteOutcome::ValueMismatch => DeleteOutcome::ValueMismatch,
    })
}

pub fn keynotify_result(response: ss::Response) -> Result<(), StoreError> {
    response.keynotify_outcome().map_err(reply_error)
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
