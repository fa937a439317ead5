//! The host's one crossing between the store vocabulary of
//! `elector-statestore` (what every backend speaks) and the WIT types the
//! sandboxes see. The guest's twin is `guest/src/component/convert.rs`.

use elector_statestore as ss;

use super::{
    DeleteOutcome, Hlc, KeyChange, KeyNotification, SetCondition, SetOptions, SetResponse,
    StoreError, VersionedValue,
};

impl From<ss::Hlc> for Hlc {
    fn from(hlc: ss::Hlc) -> Self {
        Hlc {
            wall_clock_ms: hlc.wall_clock_ms,
            counter: hlc.counter,
            node_id: hlc.node_id,
        }
    }
}

impl From<&Hlc> for ss::Hlc {
    fn from(hlc: &Hlc) -> Self {
        ss::Hlc {
            wall_clock_ms: hlc.wall_clock_ms,
            counter: hlc.counter,
            node_id: hlc.node_id.clone(),
        }
    }
}

impl From<SetOptions> for ss::SetOptions {
    fn from(options: SetOptions) -> Self {
        ss::SetOptions {
            condition: match options.condition {
                SetCondition::Unconditional => ss::SetCondition::Unconditional,
                SetCondition::OnlyIfAbsent => ss::SetCondition::OnlyIfAbsent,
                SetCondition::OnlyIfAbsentOrEqual => ss::SetCondition::OnlyIfAbsentOrEqual,
            },
            expiry_ms: options.expiry_ms,
            fencing_token: options.fencing_token.as_ref().map(ss::Hlc::from),
        }
    }
}

impl From<ss::SetResponse> for SetResponse {
    fn from(response: ss::SetResponse) -> Self {
        SetResponse {
            applied: response.applied,
            version: response.version.map(Hlc::from),
        }
    }
}

impl From<ss::VersionedValue> for VersionedValue {
    fn from(found: ss::VersionedValue) -> Self {
        VersionedValue {
            value: found.value,
            version: found.version.into(),
        }
    }
}

impl From<ss::DeleteOutcome> for DeleteOutcome {
    fn from(outcome: ss::DeleteOutcome) -> Self {
        match outcome {
            ss::DeleteOutcome::Deleted => DeleteOutcome::Deleted,
            ss::DeleteOutcome::Absent => DeleteOutcome::Absent,
            ss::DeleteOutcome::ValueMismatch => DeleteOutcome::ValueMismatch,
        }
    }
}

impl From<ss::KeyNotification> for KeyNotification {
    fn from(notification: ss::KeyNotification) -> Self {
        KeyNotification {
            change: match notification.event {
                ss::KeyEvent::Set(value) => KeyChange::Set(value),
                ss::KeyEvent::Delete => KeyChange::Deleted,
            },
            version: notification.version.into(),
        }
    }
}

impl From<ss::StoreError> for StoreError {
    fn from(error: ss::StoreError) -> Self {
        use ss::StoreErrorKind as K;
        match error {
            ss::StoreError::Refused(kind) => match kind {
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
            },
            ss::StoreError::Timeout => StoreError::Timeout,
            ss::StoreError::Disconnected => StoreError::Disconnected,
            ss::StoreError::Protocol(text) => StoreError::Protocol(text),
        }
    }
}

impl From<StoreError> for ss::StoreError {
    fn from(error: StoreError) -> Self {
        use ss::StoreErrorKind as K;
        let refused = ss::StoreError::Refused;
        match error {
            StoreError::TimestampSkew => refused(K::TimestampSkew),
            StoreError::FencingTokenRequired => refused(K::FencingTokenRequired),
            StoreError::FencingTokenSkew => refused(K::FencingTokenSkew),
            StoreError::FencingTokenLowerVersion => refused(K::FencingTokenLowerVersion),
            StoreError::QuotaExceeded => refused(K::QuotaExceeded),
            StoreError::SyntaxError => refused(K::SyntaxError),
            StoreError::NotAuthorized => refused(K::NotAuthorized),
            StoreError::UnknownCommand => refused(K::UnknownCommand),
            StoreError::WrongNumberOfArguments => refused(K::WrongNumberOfArguments),
            StoreError::MissingTimestamp => refused(K::MissingTimestamp),
            StoreError::MalformedTimestamp => refused(K::MalformedTimestamp),
            StoreError::KeyLengthZero => refused(K::KeyLengthZero),
            StoreError::Service(text) => refused(K::Service(text)),
            StoreError::Timeout => ss::StoreError::Timeout,
            StoreError::Disconnected => ss::StoreError::Disconnected,
            StoreError::Protocol(text) => ss::StoreError::Protocol(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_errors_round_trip() {
        let original = ss::Hlc::new(123, 4, "node");
        assert_eq!(ss::Hlc::from(&Hlc::from(original.clone())), original);
        for error in [
            ss::StoreError::Refused(ss::StoreErrorKind::FencingTokenLowerVersion),
            ss::StoreError::Refused(ss::StoreErrorKind::Service("busy".into())),
            ss::StoreError::Timeout,
            ss::StoreError::Disconnected,
            ss::StoreError::Protocol("bad".into()),
        ] {
            assert_eq!(ss::StoreError::from(StoreError::from(error.clone())), error);
        }
    }
}
