//! Hybrid logical clock (HLC) versions.
//!
//! The AIO state store versions every write with an HLC: the wall clock in
//! milliseconds since the Unix epoch, a counter that breaks ties within one
//! millisecond, and the id of the node whose clock issued it. Versions order
//! by `(wall_clock_ms, counter)` only; the node id names the issuer and takes
//! no part in ordering. Versions double as fencing tokens, so the store must
//! issue them from one monotonic clock ([`HlcClock`]).
//!
//! On the wire a version travels as text, `{wall}:{counter}:{node}`, with the
//! numbers zero-padded to 15 and 5 digits by Microsoft's SDKs.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// How far ahead of the store's wall clock a request's `__ts` or `__ft` may
/// be before it is refused: the contract allows one minute of clock skew.
pub const MAX_CLOCK_SKEW_MS: u64 = 60_000;

/// One HLC version, as issued by a state store or a client.
///
/// Deliberately not `Ord`: equality includes `node_id`, ordering does not, so
/// an `Ord` impl would disagree with `Eq`. Compare versions with
/// [`Hlc::cmp_version`] and its helpers instead.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hlc {
    /// Milliseconds since the Unix epoch on the issuing clock.
    pub wall_clock_ms: u64,
    /// Breaks ties between versions issued in the same millisecond.
    pub counter: u32,
    /// The issuing node; never empty and never contains `:`.
    pub node_id: String,
}

impl Hlc {
    /// Builds a version from its parts (no validation of `node_id`; see
    /// [`validate_node_id`]).
    pub fn new(wall_clock_ms: u64, counter: u32, node_id: impl Into<String>) -> Self {
        Self {
            wall_clock_ms,
            counter,
            node_id: node_id.into(),
        }
    }

    /// Orders two versions by wall clock, then counter, ignoring the node id:
    /// the order the store uses for fencing and for monotonicity.
    pub fn cmp_version(&self, other: &Hlc) -> Ordering {
        (self.wall_clock_ms, self.counter).cmp(&(other.wall_clock_ms, other.counter))
    }

    /// True when `self` is a strictly later version than `other`.
    pub fn is_newer_than(&self, other: &Hlc) -> bool {
        self.cmp_version(other) == Ordering::Greater
    }

    /// True when `self` is the same version as `other` or a later one: the
    /// test a fencing token must pass.
    pub fn is_at_least(&self, other: &Hlc) -> bool {
        self.cmp_version(other) != Ordering::Less
    }

    /// Parses the wire form from raw bytes (an MQTT user property or a RESP
    /// bulk string), which must be UTF-8.
    ///
    /// # Errors
    ///
    /// [`HlcParseError`] when the bytes are not UTF-8 or not a valid HLC
    /// text (see the [`FromStr`] impl).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Hlc, HlcParseError> {
        std::str::from_utf8(bytes)
            .map_err(|_| HlcParseError::NotUtf8)?
            .parse()
    }
}

/// True when `ts` is more than [`MAX_CLOCK_SKEW_MS`] ahead of `wall_ms`, so
/// the store must refuse it (`TimestampSkew` or `FencingTokenSkew`). Exactly
/// one minute ahead is still accepted.
pub fn is_too_far_ahead(ts: &Hlc, wall_ms: u64) -> bool {
    ts.wall_clock_ms > wall_ms.saturating_add(MAX_CLOCK_SKEW_MS)
}

/// Checks that `node_id` can appear in the wire form: non-empty and free of
/// `:` (the text form has exactly three `:`-separated parts).
///
/// # Errors
///
/// [`HlcParseError::EmptyNodeId`] or [`HlcParseError::ColonInNodeId`].
pub fn validate_node_id(node_id: &str) -> Result<(), HlcParseError> {
    if node_id.is_empty() {
        Err(HlcParseError::EmptyNodeId)
    } else if node_id.contains(':') {
        Err(HlcParseError::ColonInNodeId)
    } else {
        Ok(())
    }
}

/// Formats as the SDKs do: `001795685572581:00000:node`.
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:015}:{:05}:{}",
            self.wall_clock_ms, self.counter, self.node_id
        )
    }
}

/// Parses `{wall}:{counter}:{node}` with or without zero padding.
impl FromStr for Hlc {
    type Err = HlcParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(':').collect();
        let [wall, counter, node_id] = parts.as_slice() else {
            return Err(HlcParseError::WrongPartCount(parts.len()));
        };
        let wall_clock_ms = parse_decimal(wall, "wall clock", u64::MAX)?;
        let counter = parse_decimal(counter, "counter", u64::from(u32::MAX))?;
        validate_node_id(node_id)?;
        Ok(Hlc {
            wall_clock_ms,
            counter: u32::try_from(counter).expect("bounded by u32::MAX above"),
            node_id: (*node_id).to_owned(),
        })
    }
}

/// Parses ASCII digits only (no sign, no whitespace), refusing values above
/// `max`. `str::parse` alone would accept a leading `+`.
fn parse_decimal(text: &str, part: &'static str, max: u64) -> Result<u64, HlcParseError> {
    if text.is_empty() {
        return Err(HlcParseError::EmptyPart(part));
    }
    text.bytes().try_fold(0u64, |acc, byte| {
        if !byte.is_ascii_digit() {
            return Err(HlcParseError::NotDigits(part));
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(byte - b'0')))
            .filter(|value| *value <= max)
            .ok_or(HlcParseError::Overflow(part))
    })
}

/// Why a text is not a valid HLC. The state store answers any of these with
/// `malformed timestamp`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HlcParseError {
    /// The bytes are not UTF-8.
    #[error("HLC is not UTF-8")]
    NotUtf8,
    /// Not exactly three `:`-separated parts.
    #[error("HLC must have exactly 3 ':'-separated parts, found {0}")]
    WrongPartCount(usize),
    /// The wall clock or counter part is empty.
    #[error("HLC {0} is empty")]
    EmptyPart(&'static str),
    /// The wall clock or counter part has a character other than `0`-`9`.
    #[error("HLC {0} is not a decimal number")]
    NotDigits(&'static str),
    /// The wall clock does not fit a u64 or the counter a u32.
    #[error("HLC {0} is out of range")]
    Overflow(&'static str),
    /// The node id part is empty.
    #[error("HLC node id is empty")]
    EmptyNodeId,
    /// The node id contains `:` (only reported by [`validate_node_id`];
    /// parsing reports it as a wrong part count).
    #[error("HLC node id contains ':'")]
    ColonInNodeId,
}

/// A monotonic hybrid logical clock for one node.
///
/// Every version it issues is strictly greater than every version it issued
/// or merged before, whatever the wall clock passed in does (it may stand
/// still or go backwards). The wall clock is always a parameter: the clock
/// never reads the system time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HlcClock {
    /// The greatest version issued or merged so far, with this node's id.
    last: Hlc,
}

impl HlcClock {
    /// Starts a clock for `node_id` at version `0:0`.
    ///
    /// # Panics
    ///
    /// If `node_id` is empty or contains `:`, since every version it issued
    /// would be unparseable on the wire. Check configuration with
    /// [`validate_node_id`] first.
    pub fn new(node_id: impl Into<String>) -> Self {
        let node_id = node_id.into();
        if let Err(error) = validate_node_id(&node_id) {
            panic!("invalid HLC node id {node_id:?}: {error}");
        }
        Self {
            last: Hlc::new(0, 0, node_id),
        }
    }

    /// A clock for `node_id` that carries on from `high_water`, the
    /// greatest version a store issued or merged before it restarted:
    /// every version it issues is greater, whatever the wall clock says
    /// now.
    ///
    /// # Panics
    ///
    /// As [`HlcClock::new`].
    pub fn resume(node_id: impl Into<String>, high_water: &Hlc) -> Self {
        let mut clock = HlcClock::new(node_id);
        clock.last.wall_clock_ms = high_water.wall_clock_ms;
        clock.last.counter = high_water.counter;
        clock
    }

    /// The node id stamped on every version this clock issues.
    pub fn node_id(&self) -> &str {
        &self.last.node_id
    }

    /// Issues a new version, strictly greater than everything issued or
    /// merged before: `(wall_ms, 0)` when the wall clock moved past the last
    /// version, otherwise the last wall clock with the counter plus one. A
    /// full counter moves on to the next millisecond instead of wrapping.
    ///
    /// # Panics
    ///
    /// Only if the clock has reached `u64::MAX` ms with a full counter, which
    /// no real wall clock reaches.
    pub fn now(&mut self, wall_ms: u64) -> Hlc {
        let last = &mut self.last;
        if wall_ms > last.wall_clock_ms {
            last.wall_clock_ms = wall_ms;
            last.counter = 0;
        } else if let Some(counter) = last.counter.checked_add(1) {
            last.counter = counter;
        } else {
            last.wall_clock_ms = last
                .wall_clock_ms
                .checked_add(1)
                .expect("HLC exhausted: wall clock and counter at their maximum");
            last.counter = 0;
        }
        last.clone()
    }

    /// Takes in a version seen elsewhere (a request's `__ts` or `__ft`), so
    /// that the next [`HlcClock::now`] is greater than it too. Issues
    /// nothing: afterwards [`HlcClock::current`] is the greater of its
    /// previous value and `remote`'s version, carrying this node's id.
    ///
    /// `wall_ms` is the local wall clock at the time of the merge. It cannot
    /// change the outcome (the next `now` applies the wall clock anyway), so
    /// it is only used to catch, in debug builds, callers that merge a
    /// version they should have refused with [`is_too_far_ahead`].
    pub fn merge(&mut self, remote: &Hlc, wall_ms: u64) {
        debug_assert!(
            !is_too_far_ahead(remote, wall_ms),
            "merging {remote}, more than {MAX_CLOCK_SKEW_MS} ms ahead of {wall_ms}"
        );
        if remote.is_newer_than(&self.last) {
            self.last.wall_clock_ms = remote.wall_clock_ms;
            self.last.counter = remote.counter;
        }
    }

    /// The greatest version issued or merged so far, without ticking: what a
    /// response that wrote nothing reports.
    pub fn current(&self) -> Hlc {
        self.last.clone()
    }
}

#[cfg(test)]
mod tests;
