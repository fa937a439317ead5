//! Scripted faults for chosen requests: the deterministic counterpart of a
//! link's random ones, for tests that open one window on purpose (an
//! answer lost, a write that lands late) and check what the elector does
//! to the millisecond.

use core::time::Duration;

use elector_statestore as ss;

use crate::event::AnswerRoute;
use crate::time::Nanos;

/// How the requests it selects travel, instead of over their client's
/// link. The default selects nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transport {
    /// A request reaches the store this long after it was sent.
    pub landing_delay: Duration,
    /// The answer reaches the caller this long after the store applied the
    /// request.
    pub answer_delay: Duration,
    /// Answers never arrive: the store applies the request and the caller
    /// gets `Timeout` after `timeout`.
    pub answers_lost: bool,
    /// How long a caller waits for an answer before `Timeout`.
    pub timeout: Duration,
    /// Only requests with this verb (`"SET"`, `"GET"`, `"VDEL"`, ...) on
    /// this key travel so; `None`: every request.
    pub only: Option<(&'static str, &'static [u8])>,
}

impl Transport {
    /// Answers to `verb` on `key` are lost: the store applies the request,
    /// and its caller times out after `timeout` (the window of a write in
    /// doubt).
    pub fn answers_lost_to(verb: &'static str, key: &'static [u8], timeout: Duration) -> Transport {
        Transport {
            answers_lost: true,
            timeout,
            only: Some((verb, key)),
            ..Transport::default()
        }
    }

    /// Whether `command` travels by this transport rather than its link:
    /// it is selected, and something about its journey is faulty.
    pub fn selects(&self, command: &ss::Command) -> bool {
        let faulty =
            !self.landing_delay.is_zero() || !self.answer_delay.is_zero() || self.answers_lost;
        faulty
            && self
                .only
                .is_none_or(|(verb, key)| command.verb() == verb && command.key() == key)
    }

    pub fn landing_delay(&self) -> Nanos {
        nanos(self.landing_delay)
    }

    pub fn timeout(&self) -> Nanos {
        nanos(self.timeout)
    }

    /// How a selected request's answer comes back.
    pub fn answer(&self) -> AnswerRoute {
        if self.answers_lost {
            AnswerRoute::Lost
        } else {
            AnswerRoute::After(nanos(self.answer_delay))
        }
    }
}

/// A duration in the world's nanoseconds, saturating.
pub fn nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(Nanos::MAX)
}
