//! Release on disconnect: what a client may believe while its connection
//! carries a Will that deletes its position when the broker loses it.
//!
//! An MQTT 5 Will with a Will Delay Interval `delay` is published no sooner
//! than `delay` after the broker lost the connection (or at once, if the
//! session ends first, which a client that resumes its session with a
//! session expiry of at least `delay` rules out). The broker cannot have lost
//! the connection before it sent the answer to a request that came back on
//! it, so the *send* time of the newest answered request plus `delay` is the
//! earliest moment the Will can act. A client learns that the broker lost
//! the connection only later, if at all (a silent one-sided loss shows only
//! as missing answers): this asymmetry is why the bound counts from what was
//! confirmed, never from what the client has noticed.
//!
//! [`LinkTrust`] keeps that bound for one client across its connections. The
//! MQTT client and the simulator both drive it, so they cannot disagree
//! about the rule. Times are nanoseconds on the client's monotonic clock.

use core::time::Duration;

/// What a connection with a release-on-disconnect Will allows right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trust {
    /// A lease won by a write sent before this instant is void: an earlier
    /// connection's Will may delete the hold it won.
    pub trusted_since: u64,
    /// No Will can have acted before this instant (a margin before the
    /// earliest moment one can).
    pub trusted_until: u64,
    /// After a reconnect on which the previous connection's Will may have
    /// been published: until when that Will can still land. No write may
    /// win before then, or the late delete would remove the new hold.
    pub may_land_until: Option<u64>,
}

/// The bookkeeping behind [`Trust`].
#[derive(Clone, Debug)]
pub struct LinkTrust {
    delay: Duration,
    /// How long after its publication a Will can still reach the store and
    /// apply (its message expiry plus transit).
    will_lifetime: Duration,
    confirmed_at: u64,
    trusted_since: u64,
    may_land_until: Option<u64>,
}

impl LinkTrust {
    /// A client about to open its first connection at `connecting_at`: the
    /// connection cannot be lost before it is made.
    pub fn new(delay: Duration, will_lifetime: Duration, connecting_at: u64) -> Self {
        LinkTrust {
            delay,
            will_lifetime,
            confirmed_at: connecting_at,
            trusted_since: 0,
            may_land_until: None,
        }
    }

    /// The Will Delay Interval.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// How much of the delay is not trusted: a tenth, at most a second, at
    /// least a millisecond. It absorbs the broker's clock running faster
    /// than the client's over the delay.
    pub fn margin(&self) -> Duration {
        (self.delay / 10)
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(1))
            .min(self.delay)
    }

    fn trusted_until(&self) -> u64 {
        let trusted = self.delay - self.margin();
        self.confirmed_at
            .saturating_add(u64::try_from(trusted.as_nanos()).unwrap_or(u64::MAX))
    }

    /// A request sent at `sent_at` was answered: the connection was alive
    /// at the broker after that.
    pub fn confirmed(&mut self, sent_at: u64) {
        self.confirmed_at = self.confirmed_at.max(sent_at);
    }

    /// A new connection is up (its CONNACK arrived at `now`); the previous
    /// one was seen lost at `lost_at`, before the new one was asked for.
    ///
    /// The previous connection's Will was cancelled if the broker resumed
    /// the session before the Will could have been published; otherwise it
    /// may have been, and it may land until `now` plus the Will's lifetime.
    pub fn reconnected(&mut self, now: u64, lost_at: u64, session_present: bool) {
        let may_have_fired = !session_present || now >= self.trusted_until();
        if may_have_fired {
            self.trusted_since = now;
            let lifetime = u64::try_from(self.will_lifetime.as_nanos()).unwrap_or(u64::MAX);
            self.may_land_until = Some(now.saturating_add(lifetime));
        }
        // The new connection was asked for after the old one was seen lost,
        // so the broker had it no earlier than that.
        self.confirmed_at = self.confirmed_at.max(lost_at);
    }

    /// What the client may believe now.
    pub fn trust(&self) -> Trust {
        Trust {
            trusted_since: self.trusted_since,
            trusted_until: self.trusted_until(),
            may_land_until: self.may_land_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn trust() -> LinkTrust {
        LinkTrust::new(Duration::from_secs(1), Duration::from_secs(7), 10 * MS)
    }

    #[test]
    fn the_will_is_trusted_for_its_delay_less_a_tenth_from_the_newest_send() {
        let mut link = trust();
        assert_eq!(link.trust().trusted_until, 910 * MS);
        link.confirmed(500 * MS);
        link.confirmed(300 * MS); // an older request answered late
        assert_eq!(link.trust().trusted_until, 1_400 * MS);
    }

    #[test]
    fn a_session_resumed_in_time_cancels_the_old_will() {
        let mut link = trust();
        link.confirmed(500 * MS);
        link.reconnected(1_200 * MS, 1_100 * MS, true);
        let trust = link.trust();
        assert_eq!(trust.trusted_since, 0);
        assert_eq!(trust.may_land_until, None);
        assert_eq!(trust.trusted_until, 2_000 * MS);
    }

    #[test]
    fn a_late_or_lost_session_voids_earlier_leases_until_the_will_can_no_longer_land() {
        for (now, session_present) in [(1_400 * MS, true), (600 * MS, false)] {
            let mut link = trust();
            link.confirmed(500 * MS);
            link.reconnected(now, now - MS, session_present);
            let trust = link.trust();
            assert_eq!(trust.trusted_since, now);
            assert_eq!(trust.may_land_until, Some(now + 7_000 * MS));
        }
    }
}
