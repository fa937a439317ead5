//! The numbers behind the timing contract: how long a lease is trusted,
//! how long to wait before trying after a holder expires, and how to back
//! off from a store that does not answer. One place, so the contract in the
//! crate docs and the code cannot drift apart.

use core::time::Duration;

use crate::types::ElectionError;

/// The longest term accepted: a year. Longer terms are almost certainly a
/// unit mistake, and shorter ones keep instant arithmetic far from overflow.
pub const MAX_TERM_MS: u64 = 365 * 24 * 60 * 60 * 1000;

/// Default safety margin: a tenth of the term, at most this.
const MAX_DEFAULT_MARGIN_MS: u64 = 1_000;

/// The smallest margin: stores keep time in whole milliseconds, so a key
/// written at 10.9 ms with `PX 100` may expire at 110 ms, up to a
/// millisecond before the sender's `send time + term`.
const MIN_MARGIN_MS: u64 = 1;

pub fn validate_term(what: &str, term_ms: u64) -> Result<(), ElectionError> {
    if term_ms <= MIN_MARGIN_MS {
        return Err(ElectionError::InvalidArgument(format!(
            "{what} must be at least {} ms (the lease is the term minus a safety margin of at \
             least {MIN_MARGIN_MS} ms)",
            MIN_MARGIN_MS + 1
        )));
    }
    if term_ms > MAX_TERM_MS {
        return Err(ElectionError::InvalidArgument(format!(
            "{what} of {term_ms} ms is longer than the maximum of {MAX_TERM_MS} ms"
        )));
    }
    Ok(())
}

/// How much of a term the candidate does not trust: the lease ends this much
/// before the store would expire it, to absorb clock-rate drift and the
/// store's whole-millisecond clock. Never less than 1 ms.
pub fn safety_margin(term_ms: u64, configured_ms: Option<u64>) -> Duration {
    let ms = match configured_ms {
        Some(ms) => ms,
        None => (term_ms / 10).min(MAX_DEFAULT_MARGIN_MS),
    };
    Duration::from_millis(ms.max(MIN_MARGIN_MS).min(term_ms))
}

/// The renewal period used when none is given: a third of the term, so a
/// lease survives two failed renewals in a row.
pub fn default_renewal_period_ms(term_ms: u64) -> u64 {
    (term_ms / 3).max(1)
}

/// When the first renewal after a win is due: the renewal period, but no
/// later than a third of the term that was won, which may be shorter than
/// the renewal term (a `campaign(5 s)` with renewal every 20 s would
/// otherwise lapse before its first renewal).
pub fn first_renewal_delay(won_term_ms: u64, period_ms: u64) -> Duration {
    Duration::from_millis(period_ms.min(default_renewal_period_ms(won_term_ms)))
}

/// How long the lease from a write sent at some instant lasts, locally.
pub fn lease_length(term_ms: u64, configured_margin_ms: Option<u64>) -> Duration {
    Duration::from_millis(term_ms) - safety_margin(term_ms, configured_margin_ms)
}

/// The pause before trying after a holder's lease expired, so a holder
/// renewing a little late keeps its position: a fiftieth of the term,
/// between 2 and 15 ms, jittered to half to full length so waiting
/// candidates do not all write at once. Short, because a holder that late
/// already stopped acting as leader (its local lease ended a margin
/// earlier), and every millisecond here is failover time.
pub fn expiry_grace(term_ms: u64, jitter: &mut Jitter) -> Duration {
    let base_ms = (term_ms / 50).clamp(2, 15);
    jitter.between(
        Duration::from_millis(base_ms) / 2,
        Duration::from_millis(base_ms),
    )
}

/// Added to a holder's expected expiry before the fallback retry, to let
/// the store's own expiry (and its notification) come first.
pub fn fallback_slack(term_ms: u64) -> Duration {
    Duration::from_millis((term_ms / 20).clamp(1, 100))
}

/// Retry pause after a store failure while campaigning: doubles from 10 ms
/// up to 2 s, jittered.
pub fn store_backoff(attempt: u32, jitter: &mut Jitter) -> Duration {
    let ms = 10u64.saturating_mul(1 << attempt.min(8)).min(2_000);
    jitter.between(Duration::from_millis(ms) / 2, Duration::from_millis(ms))
}

/// Pause before retrying a renewal that failed for a store error: a quarter
/// of the period (at least 1 ms), so a lease survives a short outage.
pub fn renewal_retry(period_ms: u64) -> Duration {
    Duration::from_millis((period_ms / 4).max(1))
}

/// A small xorshift generator for jitter. Jitter needs no cryptographic
/// quality, and a seeded generator keeps simulations reproducible.
#[derive(Clone, Debug)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        // Zero is the one state xorshift never leaves.
        Jitter(seed | 1)
    }

    /// Seeds from a name and a time so that candidates started together
    /// still draw different delays.
    pub fn from_name_and_time(name: &str, time: u64) -> Jitter {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for byte in name.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Jitter::new(hash ^ time.rotate_left(17))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A duration drawn evenly from `[low, high]`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        let span = u64::try_from((high - low).as_nanos()).unwrap_or(u64::MAX);
        low + Duration::from_nanos(self.next_u64() % span.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_bounds_are_enforced() {
        assert!(validate_term("term", 0).is_err());
        assert!(validate_term("term", 1).is_err());
        assert!(validate_term("term", 2).is_ok());
        assert!(validate_term("term", MAX_TERM_MS).is_ok());
        assert!(validate_term("term", MAX_TERM_MS + 1).is_err());
    }

    #[test]
    fn margin_defaults_to_a_tenth_capped_at_a_second() {
        assert_eq!(safety_margin(1_000, None), Duration::from_millis(100));
        assert_eq!(safety_margin(60_000, None), Duration::from_millis(1_000));
        assert_eq!(
            safety_margin(5, None),
            Duration::from_millis(1),
            "never zero: stores truncate to whole milliseconds"
        );
        assert_eq!(safety_margin(1_000, Some(0)), Duration::from_millis(1));
        assert_eq!(safety_margin(1_000, Some(30)), Duration::from_millis(30));
        assert_eq!(safety_margin(10, Some(30)), Duration::from_millis(10));
        assert_eq!(lease_length(1_000, None), Duration::from_millis(900));
    }

    #[test]
    fn the_first_renewal_comes_within_the_won_term() {
        assert_eq!(
            first_renewal_delay(5_000, 20_000),
            Duration::from_millis(1_666)
        );
        assert_eq!(first_renewal_delay(60_000, 300), Duration::from_millis(300));
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut jitter = Jitter::new(42);
        let low = Duration::from_millis(5);
        let high = Duration::from_millis(10);
        let draws: Vec<Duration> = (0..1000).map(|_| jitter.between(low, high)).collect();
        assert!(draws.iter().all(|d| *d >= low && *d <= high));
        assert!(draws.iter().any(|d| *d != draws[0]));
    }

    #[test]
    fn backoff_grows_then_caps() {
        let mut jitter = Jitter::new(7);
        assert!(store_backoff(0, &mut jitter) <= Duration::from_millis(10));
        assert!(store_backoff(30, &mut jitter) <= Duration::from_secs(2));
        assert!(store_backoff(30, &mut jitter) >= Duration::from_secs(1));
    }

    #[test]
    fn grace_is_small_and_positive() {
        let mut jitter = Jitter::new(3);
        for term in [1, 100, 1_000, 100_000] {
            let grace = expiry_grace(term, &mut jitter);
            assert!(grace >= Duration::from_millis(1));
            assert!(grace <= Duration::from_millis(15));
        }
    }
}
