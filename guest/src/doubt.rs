//! Writes of a candidate whose outcome is unknown and that may still land.
//!
//! A request whose answer is lost (a timeout, a dropped link) may have been
//! applied, or may still be applied until the transport gives up on it (the
//! request lifetime, see `CandidateOptions::request_lifetime_ms`). Two kinds
//! matter for the lease:
//!
//! - an acquiring write (`SET … NEX PX term`) with a *shorter* term than a
//!   later winning write: landing after it, it resets the key's expiry to
//!   its own term, counted from its landing, which is after the later
//!   write's send time. So while one may still land, a win counts only the
//!   shorter of the two terms.
//! - a resignation (`VDEL`): landing after a later win, it deletes the new
//!   hold. So no attempt is made before it can no longer land.

use core::time::Duration;

use crate::types::Instant;

#[derive(Clone, Debug, Default)]
pub struct InDoubt {
    /// The shortest term of an acquiring write that may still land, and
    /// until when it may.
    write: Option<(u64, Instant)>,
    /// Until when a resignation may still land.
    release_until: Option<Instant>,
}

impl InDoubt {
    /// Records an acquiring write of `term_ms` that may land until `until`.
    pub fn write_sent(&mut self, term_ms: u64, until: Instant) {
        self.write = Some(match self.write {
            Some((term, open)) => (term.min(term_ms), open.max(until)),
            None => (term_ms, until),
        });
    }

    /// Records a resignation that may land until `until`.
    pub fn release_sent(&mut self, until: Instant) {
        self.release_until = Some(self.release_until.map_or(until, |open| open.max(until)));
    }

    /// The term a write of `term_ms` sent at `sent_at` can count on: the
    /// shortest term of any acquiring write that may land after it.
    pub fn term_for_write_sent_at(&mut self, term_ms: u64, sent_at: Instant) -> u64 {
        match self.write {
            Some((term, until)) if until > sent_at => term_ms.min(term),
            Some(_) => {
                self.write = None;
                term_ms
            }
            None => term_ms,
        }
    }

    /// Until when an acquiring write may still land, if one may.
    pub fn write_open_until(&self, now: Instant) -> Option<Instant> {
        self.write
            .map(|(_, until)| until)
            .filter(|until| *until > now)
    }

    /// Until when a resignation may still land, if one may after `now`.
    pub fn release_open_until(&mut self, now: Instant) -> Option<Instant> {
        match self.release_until {
            Some(until) if until > now => Some(until),
            _ => {
                self.release_until = None;
                None
            }
        }
    }
}

/// When a request sent at `sent_at` can no longer land.
pub fn landing_deadline(sent_at: Instant, lifetime: Duration) -> Instant {
    sent_at.saturating_add(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_shorter_write_in_doubt_bounds_later_wins_until_it_can_no_longer_land() {
        let mut doubt = InDoubt::default();
        doubt.write_sent(1_000, Instant(7 * S));
        assert_eq!(doubt.term_for_write_sent_at(60_000, Instant(2 * S)), 1_000);
        assert_eq!(doubt.term_for_write_sent_at(500, Instant(2 * S)), 500);
        assert_eq!(doubt.term_for_write_sent_at(60_000, Instant(7 * S)), 60_000);
        assert_eq!(doubt.write_open_until(Instant(8 * S)), None);
    }

    #[test]
    fn windows_merge_to_the_shortest_term_and_the_latest_end() {
        let mut doubt = InDoubt::default();
        doubt.write_sent(2_000, Instant(5 * S));
        doubt.write_sent(1_000, Instant(3 * S));
        assert_eq!(doubt.term_for_write_sent_at(60_000, Instant(4 * S)), 1_000);
        doubt.release_sent(Instant(3 * S));
        doubt.release_sent(Instant(2 * S));
        assert_eq!(doubt.release_open_until(Instant(S)), Some(Instant(3 * S)));
        assert_eq!(doubt.release_open_until(Instant(3 * S)), None);
    }
}
