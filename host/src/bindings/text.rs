//! The words a user reads for the generated types, in one place.
//!
//! `bindgen!` gives the types that appear as errors (`store-error`,
//! `election-error`) a `Display` that repeats their Debug text
//! (`StoreError::Timeout`), and that impl cannot be replaced; the others get
//! none. Every message, log line and printed event therefore goes through
//! [`HumanText::text`], so each of these types reads the same everywhere:
//! `format!("{}", error.text())`.

use std::fmt;

use super::{ElectionError, FencingRefusal, Hlc, Leader, LostReason, StoreError};

/// Displays a generated value as the text a user reads.
pub struct Text<'a, T: ?Sized>(&'a T);

/// Types with human text; see the module docs for why this is not
/// `Display`.
pub trait HumanText {
    fn text(&self) -> Text<'_, Self> {
        Text(self)
    }
}

impl HumanText for Hlc {}
impl HumanText for Leader {}
impl HumanText for LostReason {}
impl HumanText for FencingRefusal {}
impl HumanText for StoreError {}
impl HumanText for ElectionError {}

/// A version, and so a fencing token: the AIO text form
/// `wall-clock-ms:counter:node-id` (zero-padded, so tokens sort as text).
impl fmt::Display for Text<'_, Hlc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        elector_statestore::Hlc::from(self.0).fmt(f)
    }
}

/// The lock value: `name`, or `name:session-id`.
impl fmt::Display for Text<'_, Leader> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.session_id {
            Some(session) => write!(f, "{}:{session}", self.0.name),
            None => f.write_str(&self.0.name),
        }
    }
}

impl fmt::Display for Text<'_, LostReason> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            LostReason::Resigned => "resigned",
            LostReason::LeaseExpired => "lease expired",
            LostReason::TakenOver => "taken over by another candidate",
            LostReason::LinkSilent => {
                "the link to the broker was silent past the release-on-disconnect delay"
            }
        })
    }
}

impl fmt::Display for Text<'_, FencingRefusal> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            FencingRefusal::TokenRequired => "the key needs a fencing token",
            FencingRefusal::LowerVersion => {
                "a newer leader has written the key since (the token is older than the key's)"
            }
            FencingRefusal::TokenTooFarAhead => {
                "the token is more than a minute ahead of the store's clock"
            }
        })
    }
}

/// As the store vocabulary words it (see `elector_statestore::StoreError`).
impl fmt::Display for Text<'_, StoreError> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        elector_statestore::StoreError::from(self.0.clone()).fmt(f)
    }
}

impl fmt::Display for Text<'_, ElectionError> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ElectionError::InvalidArgument(text) => write!(f, "invalid argument: {text}"),
            ElectionError::Cancelled => f.write_str("cancelled"),
            ElectionError::Timeout => f.write_str("timed out"),
            ElectionError::FencingRefused(refusal) => {
                write!(
                    f,
                    "the state store refused the fencing token: {}",
                    refusal.text()
                )
            }
            ElectionError::OutcomeUnknown => {
                f.write_str("the update's write was lost and may or may not have been applied")
            }
            ElectionError::Store(error) => error.text().fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debug text of a generated type names the type (`StoreError::Timeout`,
    /// `Hlc { wall_clock_ms: … }`); none of that may reach a user.
    fn assert_words(text: String) {
        assert!(
            !text.contains("::") && !text.contains('{') && !text.is_empty(),
            "not words: {text:?}"
        );
    }

    #[test]
    fn every_store_error_reads_as_words() {
        let errors = [
            StoreError::TimestampSkew,
            StoreError::FencingTokenRequired,
            StoreError::FencingTokenSkew,
            StoreError::FencingTokenLowerVersion,
            StoreError::QuotaExceeded,
            StoreError::SyntaxError,
            StoreError::NotAuthorized,
            StoreError::UnknownCommand,
            StoreError::WrongNumberOfArguments,
            StoreError::MissingTimestamp,
            StoreError::MalformedTimestamp,
            StoreError::KeyLengthZero,
            StoreError::Service("busy".into()),
            StoreError::Timeout,
            StoreError::Disconnected,
            StoreError::Protocol("a reply without a version".into()),
        ];
        for error in errors {
            assert_words(error.text().to_string());
        }
        assert_eq!(
            StoreError::Timeout.text().to_string(),
            "the state store did not answer in time"
        );
        assert_eq!(
            StoreError::QuotaExceeded.text().to_string(),
            "the state store refused the request: the quota has been exceeded"
        );
    }

    #[test]
    fn every_election_error_reads_as_words() {
        let errors = [
            ElectionError::InvalidArgument("term must be at least 2 ms".into()),
            ElectionError::Cancelled,
            ElectionError::Timeout,
            ElectionError::FencingRefused(FencingRefusal::TokenRequired),
            ElectionError::FencingRefused(FencingRefusal::LowerVersion),
            ElectionError::FencingRefused(FencingRefusal::TokenTooFarAhead),
            ElectionError::OutcomeUnknown,
            ElectionError::Store(StoreError::Disconnected),
        ];
        for error in errors {
            assert_words(error.text().to_string());
        }
        assert_eq!(
            ElectionError::Store(StoreError::Timeout).text().to_string(),
            "the state store did not answer in time"
        );
    }

    #[test]
    fn lost_reasons_leaders_and_tokens_read_as_words() {
        for reason in [
            LostReason::Resigned,
            LostReason::LeaseExpired,
            LostReason::TakenOver,
            LostReason::LinkSilent,
        ] {
            assert_words(reason.text().to_string());
        }
        assert_eq!(LostReason::LeaseExpired.text().to_string(), "lease expired");
        let leader = Leader {
            name: "a".into(),
            session_id: Some("5f3a".into()),
        };
        assert_eq!(leader.text().to_string(), "a:5f3a");
        let token = Hlc {
            wall_clock_ms: 1_795_690_343_609,
            counter: 2,
            node_id: "embedded".into(),
        };
        assert_eq!(token.text().to_string(), "001795690343609:00002:embedded");
    }
}
