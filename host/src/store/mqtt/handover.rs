//! When a request may still be handed to the MQTT connection, and with what
//! message expiry, so that it can never land after its lifetime
//! (`elector_statestore::protocol::request_lifetime`).
//!
//! The broker counts a message expiry from the moment it receives the
//! request, not from the call: an expiry fixed when the call began and a
//! hand-over late in the timeout would let the request live almost twice
//! the timeout. So the expiry is the time left until the call's deadline,
//! rounded up to whole seconds, and the hand-over must happen while that
//! expiry still ends no later than a second after the deadline. A request
//! the connection does not take in time is offered again with the next,
//! shorter expiry, until the deadline.

use std::time::Duration;

use elector_statestore::protocol;
use tokio::time::Instant;

/// One offer of a request to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The MQTT Message Expiry Interval to send, in seconds.
    pub expiry_secs: u32,
    /// The connection must take the request by then; after that, the
    /// expiry would outlast the deadline by more than a second.
    pub hand_over_by: Instant,
}

/// The offer to make at `now` for a call ending at `deadline`, or `None`
/// once the deadline has passed (the request must not be sent any more).
pub fn window(now: Instant, deadline: Instant) -> Option<Window> {
    let left = deadline
        .checked_duration_since(now)
        .filter(|left| !left.is_zero())?;
    let expiry_secs = protocol::message_expiry_secs(left);
    // expiry ≥ left, so this is at most the deadline; and expiry < left +
    // 1 s (or is 1 s for less than a second left), so it is after `now`.
    let hand_over_by = deadline + Duration::from_secs(1) - Duration::from_secs(expiry_secs.into());
    Some(Window {
        expiry_secs,
        hand_over_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn expiry_and_hand_over_never_outlast_the_deadline_by_more_than_a_second() {
        let start = Instant::now();
        for left_ms in [
            1, 10, 999, 1000, 1001, 1500, 2000, 2001, 4999, 5000, 5001, 60_000,
        ] {
            let deadline = start + ms(left_ms);
            let offer = window(start, deadline).unwrap();
            let lands_by = offer.hand_over_by + Duration::from_secs(offer.expiry_secs.into());
            assert!(
                lands_by <= deadline + ms(1000),
                "{left_ms} ms left: {offer:?}"
            );
            assert!(
                offer.hand_over_by > start,
                "{left_ms} ms left: no time to hand over"
            );
            assert!(offer.hand_over_by <= deadline);
            assert!(
                Duration::from_secs(offer.expiry_secs.into()) >= ms(left_ms),
                "the expiry covers the time left"
            );
        }
    }

    #[test]
    fn a_missed_window_is_followed_by_one_a_second_shorter() {
        let start = Instant::now();
        let deadline = start + ms(2300);
        let first = window(start, deadline).unwrap();
        assert_eq!(first.expiry_secs, 3);
        assert_eq!(first.hand_over_by, start + ms(300));
        let second = window(first.hand_over_by, deadline).unwrap();
        assert_eq!(second.expiry_secs, 2);
        assert_eq!(second.hand_over_by, start + ms(1300));
        let third = window(second.hand_over_by, deadline).unwrap();
        assert_eq!(third.expiry_secs, 1);
        assert_eq!(third.hand_over_by, deadline);
        assert_eq!(window(deadline, deadline), None);
        assert_eq!(window(deadline + ms(1), deadline), None);
    }
}
