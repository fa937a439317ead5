//! The election's vocabulary, in plain Rust. The component adapter maps these
//! one to one onto the WIT types of `elector:election`.

use core::fmt;
use core::time::Duration;

pub use elector_statestore::{
    DeleteOutcome, Hlc, KeyEvent, KeyNotification, SetCondition, SetOptions, SetResponse,
    StoreError, StoreErrorKind, StoreResult, VersionedValue,
};

/// A point on the candidate's monotonic clock, in nanoseconds from an
/// arbitrary origin (the same unit as `wasi:clocks/monotonic-clock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

impl Instant {
    /// Later than every instant a clock reaches.
    pub const NEVER: Instant = Instant(u64::MAX);

    pub fn saturating_add(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// A leader as the store records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    pub name: String,
    pub session_id: Option<String>,
}

impl Leader {
    /// Reads a lock value `name` or `name:session-id`.
    pub fn from_lock_value(value: &[u8]) -> Leader {
        let text = String::from_utf8_lossy(value);
        match text.split_once(':') {
            Some((name, session)) => Leader {
                name: name.to_owned(),
                session_id: Some(session.to_owned()),
            },
            None => Leader {
                name: text.into_owned(),
                session_id: None,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignResponse {
    pub is_leader: bool,
    pub fencing_token: Option<Hlc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResignationResponse {
    pub success: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalOptions {
    pub term_ms: u64,
    pub period_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PositionState {
    LeaderElected,
    NoLeader,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadershipChange {
    pub new_state: PositionState,
    pub new_leader: Option<Leader>,
    /// Milliseconds since the Unix epoch when the store made the change.
    pub timestamp_ms: u64,
    pub version: Hlc,
}

/// A lease this candidate holds: act as leader only before `valid_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub fencing_token: Hlc,
    pub valid_until: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostReason {
    Resigned,
    LeaseExpired,
    TakenOver,
    /// The store's connection was silent for so long that its
    /// release-on-disconnect Will may delete the position (see
    /// [`ReleaseGuard`]).
    LinkSilent,
}

/// What the store's connection allows when it releases the candidate's
/// position if it is lost (an MQTT Will carrying the position's `VDEL`,
/// published by the broker a delay after it lost the connection). The host
/// keeps it (`elector_statestore::release::LinkTrust` says how).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseGuard {
    /// A lease won by a write sent before this is void: an earlier
    /// connection's Will may delete the hold.
    pub trusted_since: Instant,
    /// No Will can have acted before this; the lease ends here unless the
    /// connection confirms it is alive again in time.
    pub trusted_until: Instant,
    /// A Will that may have been published can still land until this: no
    /// write may win before it.
    pub may_land_until: Option<Instant>,
}

/// What a candidate tells its caller, in the order it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateEvent {
    Elected(Lease),
    Renewed(Lease),
    /// A write whose outcome is unknown may have shortened the store's hold:
    /// the lease now ends earlier.
    LeaseShortened(Lease),
    LeadershipLost(LostReason),
    RenewalFailed(ElectionError),
    CampaignResult(CampaignResponse),
    LeadershipChanged(LeadershipChange),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FencingRefusal {
    TokenRequired,
    LowerVersion,
    TokenTooFarAhead,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionError {
    InvalidArgument(String),
    Cancelled,
    Timeout,
    FencingRefused(FencingRefusal),
    /// An update's write may or may not have landed (see `update.rs`).
    OutcomeUnknown,
    Store(StoreError),
}

impl From<StoreError> for ElectionError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused(StoreErrorKind::FencingTokenRequired) => {
                ElectionError::FencingRefused(FencingRefusal::TokenRequired)
            }
            StoreError::Refused(StoreErrorKind::FencingTokenLowerVersion) => {
                ElectionError::FencingRefused(FencingRefusal::LowerVersion)
            }
            StoreError::Refused(StoreErrorKind::FencingTokenSkew) => {
                ElectionError::FencingRefused(FencingRefusal::TokenTooFarAhead)
            }
            other => ElectionError::Store(other),
        }
    }
}

impl fmt::Display for ElectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElectionError::InvalidArgument(text) => write!(f, "invalid argument: {text}"),
            ElectionError::Cancelled => f.write_str("cancelled"),
            ElectionError::Timeout => f.write_str("timed out"),
            ElectionError::FencingRefused(refusal) => {
                write!(f, "the store refused the fencing token ({refusal:?})")
            }
            ElectionError::OutcomeUnknown => {
                f.write_str("the update's write may or may not have been applied")
            }
            ElectionError::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ElectionError {}

/// How a candidate is set up; validated once by `Candidate::new`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateOptions {
    pub position: String,
    pub name: String,
    pub session_id: Option<String>,
    pub safety_margin_ms: Option<u64>,
    pub request_lifetime_ms: Option<u64>,
}
