//! The local lease: how a win becomes a lease, and every rule that ends or
//! shortens one. Each rule closes a window in which a candidate could call
//! itself leader while the store already let someone else in:
//!
//! - a lease counts from the *send* time of the winning write;
//! - a write with a shorter term than the lease cuts the lease to that
//!   term before it is sent (its answer may never come), and while one
//!   whose answer was lost may still land, later wins count its term
//!   (`doubt.rs`);
//! - a resignation ends the lease before it is sent (`candidate.rs`);
//! - every entry point ends a lease that ran out before doing anything
//!   else, so a late `tick` reports the loss before it renews;
//! - a leader watches its position, so a release or takeover by anyone
//!   else ends the lease as soon as the store says so;
//! - on a connection whose Will releases the position when the broker
//!   loses it, the lease also ends where the host's [`ReleaseGuard`] stops
//!   trusting the connection, a write waits until a Will that may have been
//!   published can no longer land, and a win whose write went out before a
//!   reconnect that may have fired the Will is void.

use core::time::Duration;

use crate::candidate::{Candidate, Held, outcome_unknown};
use crate::doubt::landing_deadline;
use crate::ports::{Clock, EventSink, StateStore};
use crate::timing;
use crate::types::{
    CampaignResponse, CandidateEvent, ElectionError, Instant, Lease, LostReason, ReleaseGuard,
    SetCondition, SetOptions, StoreError,
};

impl<S: StateStore, C: Clock, E: EventSink> Candidate<S, C, E> {
    /// The write behind every campaign. `arm_renewal` is false for the
    /// short leadership of campaign-and-update-value.
    pub(crate) async fn attempt(
        &mut self,
        term_ms: u64,
        arm_renewal: bool,
    ) -> Result<CampaignResponse, ElectionError> {
        // A lost resignation may still land: winning before it no longer
        // can would let it delete the new hold.
        if let Some(until) = self.doubt.release_open_until(self.clock.now()) {
            self.clock.sleep_until(until).await;
        }
        // Likewise a Will of an earlier connection that may have been
        // published. Read the guard again after each wait: a reconnect
        // during it may have let a later Will out, which lands later.
        while let Some(until) = self
            .release_guard()
            .and_then(|g| g.may_land_until)
            .filter(|until| *until > self.clock.now())
        {
            self.clock.sleep_until(until).await;
        }
        let options = SetOptions {
            condition: SetCondition::OnlyIfAbsentOrEqual,
            expiry_ms: Some(term_ms),
            fencing_token: None,
        };
        let sent_at = self.clock.now();
        // Once sent, this write may land whatever becomes of its answer,
        // and the store then frees the position `term_ms` after it.
        self.bound_lease_by_write(sent_at, term_ms);
        let response = match self
            .store
            .set(&self.position, &self.lock_value, &options)
            .await
        {
            Ok(response) => response,
            Err(error) => {
                if outcome_unknown(&error) {
                    self.write_in_doubt(sent_at, term_ms);
                }
                return Err(error.into());
            }
        };
        if !response.applied {
            let result = CampaignResponse {
                is_leader: false,
                fencing_token: None,
            };
            self.record(result.clone());
            self.next_renewal = None;
            self.end_lease(LostReason::TakenOver);
            return Ok(result);
        }
        if !self.trusted_since(sent_at) {
            // Applied, but sent before a reconnect that may have published
            // the old connection's Will, which may still delete it: not a
            // lease. The next attempt waits for that Will and wins again.
            let result = CampaignResponse {
                is_leader: false,
                fencing_token: None,
            };
            self.record(result.clone());
            self.end_lease(LostReason::LinkSilent);
            return Ok(result);
        }
        let Some(token) = response.version else {
            // Applied, so the store holds the position for this term, but
            // without a token nothing may be done as its leader.
            self.write_in_doubt(sent_at, term_ms);
            return Err(ElectionError::Store(StoreError::Protocol(
                "an applied SET carried no version".into(),
            )));
        };
        let counted_ms = self.doubt.term_for_write_sent_at(term_ms, sent_at);
        let starts = if self.sabotaged(|s| s.lease_from_reply) {
            self.clock.now()
        } else {
            sent_at
        };
        let lease = Lease {
            fencing_token: token.clone(),
            valid_until: starts.saturating_add(timing::lease_length(counted_ms, self.margin_ms)),
        };
        self.learn_position(Some(self.lock_value.clone()), Some(token.clone()));
        let result = CampaignResponse {
            is_leader: true,
            fencing_token: Some(token),
        };
        // A lease that ran out while the write was on its way is reported
        // lost before the new one is reported won.
        self.expire_if_due();
        let leading = if self.sabotaged(|s| s.renew_before_expiry) {
            self.is_leader()
        } else {
            self.held.is_some()
        };
        let event = if leading {
            CandidateEvent::Renewed(lease.clone())
        } else {
            CandidateEvent::Elected(lease.clone())
        };
        self.held = Some(Held {
            lease,
            term_ms: counted_ms,
            sent_at,
        });
        self.record(result.clone());
        self.events.deliver(event);
        if arm_renewal && let Some(renewal) = self.renewal {
            let delay = if term_ms >= renewal.term_ms {
                Duration::from_millis(renewal.period_ms)
            } else {
                timing::first_renewal_delay(term_ms, renewal.period_ms)
            };
            let mut due = sent_at.saturating_add(delay);
            // Once a shorter write in doubt can no longer land, a renewal
            // wins the full term back.
            if let Some(until) = self.doubt.write_open_until(sent_at)
                && counted_ms < term_ms
            {
                due = due.min(until);
            }
            self.next_renewal = Some(due);
        }
        Ok(result)
    }

    /// A write of `term_ms` sent at `sent_at` may have landed, or may still
    /// land: later wins count with its term until it no longer can.
    fn write_in_doubt(&mut self, sent_at: Instant, term_ms: u64) {
        if !self.request_lifetime.is_zero() {
            self.doubt
                .write_sent(term_ms, landing_deadline(sent_at, self.request_lifetime));
        }
    }

    /// A write of `term_ms` sent at `sent_at` that lands resets the store's
    /// hold to end `term_ms` after it arrived, which is no earlier than
    /// `sent_at + term`: the lease is cut to that before the write is sent,
    /// since its answer may never come (or come after that instant).
    fn bound_lease_by_write(&mut self, sent_at: Instant, term_ms: u64) {
        if self.sabotaged(|s| s.keep_lease_on_unknown_write) {
            return;
        }
        let bound = sent_at.saturating_add(timing::lease_length(term_ms, self.margin_ms));
        let Some(held) = self.held.as_mut() else {
            return;
        };
        if bound >= held.lease.valid_until {
            return;
        }
        held.lease.valid_until = bound;
        held.term_ms = held.term_ms.min(term_ms);
        let lease = held.lease.clone();
        if !self.expire_if_due() {
            self.events.deliver(CandidateEvent::LeaseShortened(lease));
        }
    }

    fn record(&mut self, result: CampaignResponse) {
        self.last_result = Some(result.clone());
        self.events.deliver(CandidateEvent::CampaignResult(result));
    }

    pub(crate) fn valid_lease(&self) -> Option<&Lease> {
        let never_ends = self.sabotaged(|s| s.lease_never_ends);
        let now = self.clock.now();
        self.held
            .as_ref()
            .filter(|held| never_ends || (now < held.lease.valid_until && !self.link_lost(held)))
            .map(|held| &held.lease)
    }

    /// The host's guard of a connection whose Will releases the position.
    pub(crate) fn release_guard(&self) -> Option<ReleaseGuard> {
        if self.sabotaged(|s| s.ignore_silent_link) {
            return None;
        }
        self.store.release_guard()
    }

    /// Whether a write sent at `sent_at` was sent on a connection still
    /// trusted: no reconnect since that may have published a Will.
    fn trusted_since(&self, sent_at: Instant) -> bool {
        self.release_guard()
            .is_none_or(|guard| sent_at >= guard.trusted_since)
    }

    /// Whether the connection's Will may have acted on `held`.
    fn link_lost(&self, held: &Held) -> bool {
        self.release_guard().is_some_and(|guard| {
            held.sent_at < guard.trusted_since || self.clock.now() >= guard.trusted_until
        })
    }

    /// When the connection stops being trusted, while a lease is held.
    pub(crate) fn link_deadline(&self) -> Option<Instant> {
        // A lease that never ends (sabotage) has no deadline to wake for:
        // one already past would wake the host at once, forever.
        self.held
            .as_ref()
            .filter(|_| !self.sabotaged(|s| s.lease_never_ends))
            .and(self.release_guard())
            .map(|guard| guard.trusted_until)
    }

    /// Ends a lease whose time is up; true if it did. Every entry point
    /// calls it first.
    pub(crate) fn expire_if_due(&mut self) -> bool {
        if self.sabotaged(|s| s.renew_before_expiry) {
            return false;
        }
        self.end_lease_if_past()
    }

    pub(crate) fn end_lease_if_past(&mut self) -> bool {
        if self.sabotaged(|s| s.lease_never_ends) {
            return false;
        }
        let Some(held) = self.held.as_ref() else {
            return false;
        };
        let reason = if held.lease.valid_until <= self.clock.now() {
            LostReason::LeaseExpired
        } else if self.link_lost(held) {
            LostReason::LinkSilent
        } else {
            return false;
        };
        self.end_lease(reason);
        true
    }

    /// Ends the local lease, telling the caller if there was one.
    pub(crate) fn end_lease(&mut self, reason: LostReason) {
        if self.held.take().is_some() {
            if self.last_result.as_ref().is_some_and(|r| r.is_leader) {
                self.last_result = Some(CampaignResponse {
                    is_leader: false,
                    fencing_token: None,
                });
            }
            self.events.deliver(CandidateEvent::LeadershipLost(reason));
        }
    }
}
