//! The state store's error answers (`-ERR <text>`).
//!
//! Clients recognise errors by their exact text, so each kind maps to the
//! text the real AIO service sends, byte for byte, and back. Texts nobody
//! knows yet survive verbatim as [`StoreErrorKind::Service`].

const TIMESTAMP_SKEW: &str = "the request timestamp is too far in the future; ensure that the client and broker system clocks are synchronized";
const FENCING_TOKEN_REQUIRED: &str = "a fencing token is required for this request";
const FENCING_TOKEN_SKEW: &str = "the request fencing token timestamp is too far in the future; ensure that the client and broker system clocks are synchronized";
const FENCING_TOKEN_LOWER_VERSION: &str =
    "the request fencing token is a lower version than the fencing token protecting the resource";
/// The spelling in Microsoft's protocol article; accepted, never sent.
const FENCING_TOKEN_LOWER_VERSION_ARTICLE: &str =
    "the request fencing token is a lower version that the fencing token protecting the resource";
const QUOTA_EXCEEDED: &str = "the quota has been exceeded";
const SYNTAX_ERROR: &str = "syntax error";
const NOT_AUTHORIZED: &str = "not authorized";
const UNKNOWN_COMMAND: &str = "unknown command";
const WRONG_NUMBER_OF_ARGUMENTS: &str = "wrong number of arguments";
const MISSING_TIMESTAMP: &str = "missing timestamp";
const MALFORMED_TIMESTAMP: &str = "malformed timestamp";
const KEY_LENGTH_ZERO: &str = "the key length is zero";

/// Why the state store refused a request: one variant per AIO error text.
///
/// `Display` (and [`StoreErrorKind::text`]) give the exact wire text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum StoreErrorKind {
    /// The request's `__ts` is more than a minute ahead of the store clock.
    #[error("{}", TIMESTAMP_SKEW)]
    TimestampSkew,
    /// The key holds a fencing token and the write carried none.
    #[error("{}", FENCING_TOKEN_REQUIRED)]
    FencingTokenRequired,
    /// The request's `__ft` is more than a minute ahead of the store clock.
    #[error("{}", FENCING_TOKEN_SKEW)]
    FencingTokenSkew,
    /// The write's `__ft` is older than the key's token: a newer holder has
    /// written since.
    #[error("{}", FENCING_TOKEN_LOWER_VERSION)]
    FencingTokenLowerVersion,
    /// The write would exceed a size or count limit of the store.
    #[error("{}", QUOTA_EXCEEDED)]
    QuotaExceeded,
    /// The request is malformed (for example `PX 0`).
    #[error("{}", SYNTAX_ERROR)]
    SyntaxError,
    /// The client may not perform this request.
    #[error("{}", NOT_AUTHORIZED)]
    NotAuthorized,
    /// The verb is not a state-store command.
    #[error("{}", UNKNOWN_COMMAND)]
    UnknownCommand,
    /// The command has too few or too many arguments.
    #[error("{}", WRONG_NUMBER_OF_ARGUMENTS)]
    WrongNumberOfArguments,
    /// A SET arrived without `__ts`.
    #[error("{}", MISSING_TIMESTAMP)]
    MissingTimestamp,
    /// A `__ts` or `__ft` is not a valid HLC.
    #[error("{}", MALFORMED_TIMESTAMP)]
    MalformedTimestamp,
    /// The key is empty.
    #[error("{}", KEY_LENGTH_ZERO)]
    KeyLengthZero,
    /// An error text this crate does not know, kept verbatim.
    #[error("{0}")]
    Service(String),
}

impl StoreErrorKind {
    /// The exact text the AIO service sends after `-ERR `.
    pub fn text(&self) -> &str {
        match self {
            Self::TimestampSkew => TIMESTAMP_SKEW,
            Self::FencingTokenRequired => FENCING_TOKEN_REQUIRED,
            Self::FencingTokenSkew => FENCING_TOKEN_SKEW,
            Self::FencingTokenLowerVersion => FENCING_TOKEN_LOWER_VERSION,
            Self::QuotaExceeded => QUOTA_EXCEEDED,
            Self::SyntaxError => SYNTAX_ERROR,
            Self::NotAuthorized => NOT_AUTHORIZED,
            Self::UnknownCommand => UNKNOWN_COMMAND,
            Self::WrongNumberOfArguments => WRONG_NUMBER_OF_ARGUMENTS,
            Self::MissingTimestamp => MISSING_TIMESTAMP,
            Self::MalformedTimestamp => MALFORMED_TIMESTAMP,
            Self::KeyLengthZero => KEY_LENGTH_ZERO,
            Self::Service(text) => text,
        }
    }

    /// Recognises an error text exactly (no trimming, case-sensitive), as the
    /// SDKs do. The article's "lower version that" spelling is accepted as
    /// well; anything else becomes [`StoreErrorKind::Service`].
    pub fn from_text(text: &str) -> StoreErrorKind {
        match text {
            TIMESTAMP_SKEW => Self::TimestampSkew,
            FENCING_TOKEN_REQUIRED => Self::FencingTokenRequired,
            FENCING_TOKEN_SKEW => Self::FencingTokenSkew,
            FENCING_TOKEN_LOWER_VERSION | FENCING_TOKEN_LOWER_VERSION_ARTICLE => {
                Self::FencingTokenLowerVersion
            }
            QUOTA_EXCEEDED => Self::QuotaExceeded,
            SYNTAX_ERROR => Self::SyntaxError,
            NOT_AUTHORIZED => Self::NotAuthorized,
            UNKNOWN_COMMAND => Self::UnknownCommand,
            WRONG_NUMBER_OF_ARGUMENTS => Self::WrongNumberOfArguments,
            MISSING_TIMESTAMP => Self::MissingTimestamp,
            MALFORMED_TIMESTAMP => Self::MalformedTimestamp,
            KEY_LENGTH_ZERO => Self::KeyLengthZero,
            other => Self::Service(other.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [StoreErrorKind; 12] = [
        StoreErrorKind::TimestampSkew,
        StoreErrorKind::FencingTokenRequired,
        StoreErrorKind::FencingTokenSkew,
        StoreErrorKind::FencingTokenLowerVersion,
        StoreErrorKind::QuotaExceeded,
        StoreErrorKind::SyntaxError,
        StoreErrorKind::NotAuthorized,
        StoreErrorKind::UnknownCommand,
        StoreErrorKind::WrongNumberOfArguments,
        StoreErrorKind::MissingTimestamp,
        StoreErrorKind::MalformedTimestamp,
        StoreErrorKind::KeyLengthZero,
    ];

    #[test]
    fn texts_are_the_exact_aio_texts() {
        let expected = [
            "the request timestamp is too far in the future; ensure that the client and broker system clocks are synchronized",
            "a fencing token is required for this request",
            "the request fencing token timestamp is too far in the future; ensure that the client and broker system clocks are synchronized",
            "the request fencing token is a lower version than the fencing token protecting the resource",
            "the quota has been exceeded",
            "syntax error",
            "not authorized",
            "unknown command",
            "wrong number of arguments",
            "missing timestamp",
            "malformed timestamp",
            "the key length is zero",
        ];
        for (kind, text) in KNOWN.iter().zip(expected) {
            assert_eq!(kind.text(), text);
        }
    }

    #[test]
    fn every_known_text_round_trips() {
        for kind in KNOWN {
            assert_eq!(StoreErrorKind::from_text(kind.text()), kind);
        }
    }

    #[test]
    fn display_is_the_text() {
        for kind in KNOWN {
            assert_eq!(kind.to_string(), kind.text());
        }
        let unknown = StoreErrorKind::Service("disk on fire".into());
        assert_eq!(unknown.to_string(), "disk on fire");
        assert_eq!(unknown.text(), "disk on fire");
    }

    #[test]
    fn article_spelling_of_lower_version_is_accepted() {
        assert_eq!(
            StoreErrorKind::from_text(
                "the request fencing token is a lower version that the fencing token protecting the resource"
            ),
            StoreErrorKind::FencingTokenLowerVersion
        );
    }

    #[test]
    fn unknown_or_inexact_texts_become_service_errors() {
        for text in [
            "",
            "Syntax error",
            "syntax error ",
            "-ERR syntax error",
            "boom",
        ] {
            assert_eq!(
                StoreErrorKind::from_text(text),
                StoreErrorKind::Service(text.to_owned())
            );
        }
    }
}
