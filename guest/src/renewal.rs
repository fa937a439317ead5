//! Automatic renewal, driven by the host's calls to `tick`: a renewing
//! leader writes again every period while its caller is idle, and a lease
//! that ran out is reported lost before any renewal.

use core::time::Duration;

use crate::candidate::{Candidate, invalid};
use crate::ports::{Clock, EventSink, StateStore};
use crate::timing;
use crate::types::{CandidateEvent, ElectionError, Instant, RenewalOptions};

impl<S: StateStore, C: Clock, E: EventSink> Candidate<S, C, E> {
    pub fn automatic_renewal(&self) -> Option<RenewalOptions> {
        self.renewal
    }

    /// Turns automatic renewal on or off. When already leading, the first
    /// renewal is due one period from now, or halfway to the lease's end if
    /// that comes sooner.
    pub fn set_automatic_renewal(
        &mut self,
        options: Option<RenewalOptions>,
    ) -> Result<(), ElectionError> {
        self.expire_if_due();
        if let Some(options) = options {
            timing::validate_term("renewal term", options.term_ms)?;
            let lease_ms = timing::lease_length(options.term_ms, self.margin_ms).as_millis();
            if options.period_ms == 0 || u128::from(options.period_ms) >= lease_ms {
                return Err(invalid(&format!(
                    "renewal period {} ms must be at least 1 ms and shorter than the term minus \
                     the safety margin ({lease_ms} ms), or the lease would lapse between renewals",
                    options.period_ms
                )));
            }
        }
        self.renewal = options;
        let now = self.clock.now();
        self.next_renewal = match (options, self.valid_lease()) {
            (Some(options), Some(lease)) => {
                let halfway = lease.valid_until.saturating_duration_since(now) / 2;
                Some(now.saturating_add(Duration::from_millis(options.period_ms).min(halfway)))
            }
            _ => None,
        };
        Ok(())
    }

    /// Runs what is due (the end of a lease, renewal, observed changes) and
    /// says when to run again. A lease that ran out is reported lost before
    /// any renewal, so a late tick never turns into `elected` twice.
    pub async fn tick(&mut self) -> Option<Instant> {
        let term_ms = self.term_guess();
        self.absorb_notifications(term_ms);
        self.expire_if_due();
        let now = self.clock.now();
        if self.next_renewal.is_some_and(|due| due <= now) {
            self.renew().await;
        }
        self.end_lease_if_past();
        self.release_watch();
        let lease_end = self
            .held
            .as_ref()
            .filter(|_| !self.sabotaged(|s| s.lease_never_ends))
            .map(|h| h.lease.valid_until);
        [self.next_renewal, lease_end, self.link_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    async fn renew(&mut self) {
        let Some(options) = self.renewal else {
            self.next_renewal = None;
            return;
        };
        let result = self.attempt(options.term_ms, true).await;
        self.watch_while_leading().await;
        if let Err(error) = result {
            // Transient store failures are retried soon so a short outage
            // does not cost the lease; anything else waits a full period.
            let pause = match &error {
                ElectionError::Store(e) if e.is_transient() => {
                    timing::renewal_retry(options.period_ms)
                }
                _ => Duration::from_millis(options.period_ms),
            };
            self.events.deliver(CandidateEvent::RenewalFailed(error));
            self.next_renewal = Some(self.clock.now().saturating_add(pause));
        }
    }

    /// The best guess of the holder's term for reading notifications: the
    /// lease's own term while leading, else the renewal term.
    pub(crate) fn term_guess(&self) -> u64 {
        self.held
            .as_ref()
            .map(|h| h.term_ms)
            .or(self.renewal.map(|r| r.term_ms))
            .unwrap_or(0)
    }

    /// Stops a scheduled renewal without forgetting the renewal options.
    pub(crate) fn disarm_renewal(&mut self) {
        self.next_renewal = None;
    }
}
