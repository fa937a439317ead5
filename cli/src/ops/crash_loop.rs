//! When a module is crash-looping: restarting so often that its replica
//! spends its time starting over instead of working.
//!
//! The rule: [`RESTARTS`] restarts within [`WINDOW`]. The window is ten
//! times the longest restart backoff, so a module that crashes soon after
//! every start is still looping once its backoff has grown to the maximum
//! (it then restarts every 30 s or so, ten times a window), while one that
//! crashes now and then is not. A loop ends by itself once a window passes
//! without enough restarts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::replica::MAX_BACKOFF;
use elector_host::module::CrashCause;

pub const RESTARTS: usize = 3;
pub const WINDOW: Duration = MAX_BACKOFF.saturating_mul(10);

/// One replica's recent restarts.
#[derive(Default)]
pub struct RestartWindow {
    recent: VecDeque<(Instant, CrashCause)>,
}

impl RestartWindow {
    pub fn restarted(&mut self, at: Instant, cause: CrashCause) {
        self.recent.push_back((at, cause));
        if self.recent.len() > RESTARTS {
            self.recent.pop_front();
        }
    }

    /// Why the module is crash-looping at `now`, if it is.
    pub fn looping(&self, now: Instant) -> Option<String> {
        let in_window = self
            .recent
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) <= WINDOW)
            .count();
        let (_, last) = self.recent.back()?;
        (in_window >= RESTARTS).then(|| {
            format!(
                "module crash-looping: {in_window} restarts within {} s, the last because it {}",
                WINDOW.as_secs(),
                describe(*last)
            )
        })
    }
}

fn describe(cause: CrashCause) -> &'static str {
    match cause {
        CrashCause::Trapped => "trapped",
        CrashCause::OverranBudget => "overran its CPU budget",
        CrashCause::ElectorStopped => "lost its elector sandbox",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_restarts_within_the_window_are_a_loop_until_the_window_passes() {
        let start = Instant::now();
        let second = |n| start + Duration::from_secs(n);
        let mut window = RestartWindow::default();
        assert_eq!(window.looping(start), None);
        window.restarted(second(0), CrashCause::Trapped);
        window.restarted(second(1), CrashCause::Trapped);
        assert_eq!(window.looping(second(2)), None, "two are not a loop");
        window.restarted(second(3), CrashCause::OverranBudget);
        let reason = window.looping(second(4)).expect("three are");
        assert!(reason.contains("3 restarts"), "{reason}");
        assert!(reason.contains("overran its CPU budget"), "{reason}");
        // Once the first falls out of the window, two are left.
        assert!(window.looping(second(300)).is_some());
        assert_eq!(window.looping(second(301)), None);
    }

    #[test]
    fn a_loop_at_the_longest_backoff_is_still_a_loop() {
        let start = Instant::now();
        let mut window = RestartWindow::default();
        // Each instance crashes 5 s after a start that waited the longest
        // backoff.
        let mut at = start;
        for _ in 0..10 {
            at += MAX_BACKOFF + Duration::from_secs(5);
            window.restarted(at, CrashCause::Trapped);
        }
        // Just before the next crash.
        assert!(window.looping(at + MAX_BACKOFF).is_some());
    }
}
