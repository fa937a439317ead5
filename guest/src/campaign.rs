//! Campaigning: block until elected, cancelled or out of time.
//!
//! The key is watched *before* the first attempt, so no release can slip
//! between a failed attempt and the wait. While another candidate holds the
//! position the campaign sleeps on three things at once: the key's
//! notifications, a timer at the holder's expected expiry (so a lost
//! notification costs at most one term, never the election), and the
//! caller's cancellation and deadline. After a release it tries at once;
//! after an expiry it first waits a short jittered grace, so a holder that
//! renews a little late keeps its position and waiting candidates do not
//! all write at the same instant.
//!
//! A lost attempt reads the holder back only when the watch is new (the
//! holder wrote before anyone was listening); a candidate that loses a race
//! its watch saw start learns the winner from the winner's notification, so
//! a herd of N waiting candidates costs N requests per election, not 2N.

use core::time::Duration;

use crate::candidate::Candidate;
use crate::ports::{Cancel, Clock, EventSink, StateStore};
use crate::position::News;
use crate::timing;
use crate::types::{CampaignResponse, ElectionError, Instant};
use crate::wait::{Wake, wait_for};

impl<S: StateStore, C: Clock, E: EventSink> Candidate<S, C, E> {
    /// Blocks until this candidate leads for `term_ms`, `cancel` fires or
    /// `timeout` passes (`Cancelled` / `Timeout`). Store failures that may
    /// heal (timeouts, disconnection) are retried with backoff for as long
    /// as the caller waits; refusals are returned. Leaves no key watch
    /// registered unless the candidate is observing.
    pub async fn campaign<K: Cancel>(
        &mut self,
        term_ms: u64,
        timeout: Option<Duration>,
        cancel: Option<&K>,
    ) -> Result<CampaignResponse, ElectionError> {
        timing::validate_term("term", term_ms)?;
        let deadline = timeout.map(|t| self.clock.now().saturating_add(t));
        self.campaign_until(term_ms, deadline, cancel, true).await
    }

    pub(crate) async fn campaign_until<K: Cancel>(
        &mut self,
        term_ms: u64,
        deadline: Option<Instant>,
        cancel: Option<&K>,
        arm_renewal: bool,
    ) -> Result<CampaignResponse, ElectionError> {
        self.expire_if_due();
        check_still_wanted(&self.clock, deadline, cancel)?;
        let result = self
            .campaign_loop(term_ms, deadline, cancel, arm_renewal)
            .await;
        self.release_watch();
        result
    }

    async fn campaign_loop<K: Cancel>(
        &mut self,
        term_ms: u64,
        deadline: Option<Instant>,
        cancel: Option<&K>,
        arm_renewal: bool,
    ) -> Result<CampaignResponse, ElectionError> {
        let mut failures = 0u32;
        loop {
            check_still_wanted(&self.clock, deadline, cancel)?;
            // Notifications from before this attempt are history now.
            self.absorb_notifications(term_ms);
            // A watch that was already there has told (or will tell) of
            // every write since it was registered, this holder's included.
            let heard_every_write = self.watch.is_some();
            // Watch before writing, so no release after the write is missed.
            let attempt = match self.ensure_watch().await {
                Ok(()) => self.attempt(term_ms, arm_renewal).await,
                Err(error) => Err(error),
            };
            let retry_at = match attempt {
                Ok(response) if response.is_leader => return Ok(response),
                Ok(_) if heard_every_write => {
                    // Lost a race that the watch saw start: the winner's
                    // write arrives as a notification, so reading it too
                    // would only double every loser's requests.
                    failures = 0;
                    self.fallback_retry(self.clock.now(), term_ms)
                }
                Ok(_) => {
                    // The holder wrote before the watch existed: read it, to
                    // know its write (and so tell a later resignation from
                    // an expiry).
                    failures = 0;
                    match self.learn_holder().await {
                        Some(seen_at) => self.fallback_retry(seen_at, term_ms),
                        // Released between the attempt and the read.
                        None => continue,
                    }
                }
                Err(ElectionError::Store(error)) if error.is_transient() => {
                    failures = failures.saturating_add(1);
                    let pause = timing::store_backoff(failures - 1, &mut self.jitter);
                    self.clock.now().saturating_add(pause)
                }
                Err(error) => return Err(error),
            };
            self.wait_for_chance(term_ms, retry_at, deadline, cancel)
                .await?;
        }
    }

    /// Reads the holder after a lost attempt. Returns when its write was
    /// known to be there (by the local clock), or `None` if the position is
    /// free now.
    async fn learn_holder(&mut self) -> Option<Instant> {
        let now = self.clock.now();
        match self.store.get(&self.position).await {
            Ok(Some(current)) => {
                self.learn_position(Some(current.value), Some(current.version));
                Some(now)
            }
            Ok(None) => None,
            // Unknown holder: assume it wrote just now.
            Err(_) => Some(now),
        }
    }

    /// Waits until it is worth attempting again: after a release at once,
    /// after an expiry a grace later, at `retry_at` when nothing is heard.
    async fn wait_for_chance<K: Cancel>(
        &mut self,
        term_ms: u64,
        mut retry_at: Instant,
        deadline: Option<Instant>,
        cancel: Option<&K>,
    ) -> Result<(), ElectionError> {
        loop {
            let wake = wait_for(
                &self.clock,
                self.watch.as_ref(),
                Some(retry_at),
                deadline,
                cancel,
            )
            .await;
            match wake {
                Wake::Cancelled => return Err(ElectionError::Cancelled),
                Wake::TimedOut => return Err(ElectionError::Timeout),
                Wake::Timer => return Ok(()),
                Wake::Notified => {
                    for news in self.absorb_notifications(term_ms) {
                        let now = self.clock.now();
                        retry_at = match news {
                            News::ReleasedEarly => return Ok(()),
                            News::Expired => {
                                now.saturating_add(timing::expiry_grace(term_ms, &mut self.jitter))
                            }
                            // This candidate's own write is in the store (one
                            // whose answer was lost, say): claim it now
                            // rather than wait out its term.
                            News::Written { value }
                                if value == self.lock_value
                                    && !self.sabotaged(|s| s.ignore_own_value) =>
                            {
                                return Ok(());
                            }
                            // Held again (renewed or taken): look again once
                            // the holder's next write is overdue.
                            News::Written { .. } => self.fallback_retry(now, term_ms),
                        };
                    }
                }
            }
        }
    }
}

impl<S: StateStore, C: Clock, E: EventSink> Candidate<S, C, E> {
    /// When to look again at a position last seen held at `seen_at`: once
    /// the holder's next write is overdue (its observed cadence, or this
    /// candidate's own term until the cadence is known), plus a little
    /// slack for the store's own expiry notification to come first. What
    /// stops a lost notification from stalling the election; while the
    /// holder renews and notifications flow, each renewal moves it on, so
    /// nobody polls.
    fn fallback_retry(&self, seen_at: Instant, term_ms: u64) -> Instant {
        if self.sabotaged(|s| s.no_expiry_timer) {
            return Instant(u64::MAX);
        }
        let period_ms = self.view.holder_period_ms(term_ms);
        seen_at
            .saturating_add(Duration::from_millis(period_ms))
            .saturating_add(timing::fallback_slack(period_ms))
    }
}

fn check_still_wanted<C: Clock, K: Cancel>(
    clock: &C,
    deadline: Option<Instant>,
    cancel: Option<&K>,
) -> Result<(), ElectionError> {
    if cancel.is_some_and(|c| c.is_cancelled()) {
        return Err(ElectionError::Cancelled);
    }
    if deadline.is_some_and(|d| clock.now() >= d) {
        return Err(ElectionError::Timeout);
    }
    Ok(())
}
