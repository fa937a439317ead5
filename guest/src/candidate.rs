//! A candidate for one position: the single-shot operations, the local
//! lease, automatic renewal and observation. The blocking operations live
//! in `campaign.rs` and `update.rs`.
//!
//! The lease rules, each closing a window in which a candidate could call
//! itself leader while the store already let someone else in:
//!
//! - a lease counts from the *send* time of the winning write;
//! - a write with a shorter term than the lease cuts the lease to that
//!   term before it is sent (its answer may never come), and while one
//!   whose answer was lost may still land, later wins count its term
//!   (`doubt.rs`);
//! - a resignation ends the lease before it is sent;
//! - every entry point ends a lease that ran out before doing anything
//!   else, so a late `tick` reports the loss before it renews;
//! - a leader watches its position, so a release or takeover by anyone
//!   else ends the lease as soon as the store says so.

use core::time::Duration;

use crate::doubt::{InDoubt, landing_deadline};
use crate::ports::{Clock, EventSink, KeyWatch, Store};
use crate::position::News;
use crate::position::PositionView;
use crate::sabotage::Sabotage;
use crate::timing::{self, Jitter};
use crate::types::{
    CampaignResponse, CandidateEvent, CandidateOptions, DeleteOutcome, ElectionError, Hlc, Instant,
    Leader, Lease, LostReason, RenewalOptions, ResignationResponse, SetCondition, SetOptions,
    StoreError,
};

/// The lease held now, with the term it was won for.
#[derive(Clone, Debug)]
struct Held {
    lease: Lease,
    term_ms: u64,
}

/// One candidate for one position.
///
/// Calls must not overlap; the component model guarantees that per
/// instance, and native callers hold `&mut`.
pub struct Candidate<S: Store, C: Clock, E: EventSink> {
    pub(crate) store: S,
    pub(crate) clock: C,
    events: E,
    pub(crate) position: Vec<u8>,
    name: String,
    pub(crate) lock_value: Vec<u8>,
    margin_ms: Option<u64>,
    request_lifetime: Duration,
    /// This candidate's writes that may still land.
    doubt: InDoubt,
    renewal: Option<RenewalOptions>,
    /// When the next automatic renewal is due; `None` while not armed.
    next_renewal: Option<Instant>,
    held: Option<Held>,
    last_result: Option<CampaignResponse>,
    pub(crate) view: PositionView,
    /// Registered while campaigning, observing or leading.
    pub(crate) watch: Option<S::Watch>,
    observing: bool,
    pub(crate) jitter: Jitter,
    #[cfg(feature = "sabotage")]
    sabotage: Sabotage,
}

impl<S: Store, C: Clock, E: EventSink> Candidate<S, C, E> {
    /// Validates the options once, up front.
    pub fn new(
        options: CandidateOptions,
        store: S,
        clock: C,
        events: E,
    ) -> Result<Self, ElectionError> {
        if options.position.is_empty() {
            return Err(invalid("position must not be empty"));
        }
        if options.name.is_empty() {
            return Err(invalid("candidate name must not be empty"));
        }
        if options.name.contains(':') {
            return Err(invalid(
                "candidate name must not contain ':' (it separates the session id in the lock value)",
            ));
        }
        if options.session_id.as_deref() == Some("") {
            return Err(invalid("session id must not be empty when given"));
        }
        let lock_value = match &options.session_id {
            Some(session) => format!("{}:{}", options.name, session),
            None => options.name.clone(),
        };
        let jitter = Jitter::from_name_and_time(&lock_value, clock.now().0 ^ clock.wall_clock_ms());
        Ok(Candidate {
            store,
            clock,
            events,
            position: options.position.into_bytes(),
            name: options.name,
            lock_value: lock_value.into_bytes(),
            margin_ms: options.safety_margin_ms,
            request_lifetime: Duration::from_millis(options.request_lifetime_ms.unwrap_or(0)),
            doubt: InDoubt::default(),
            renewal: None,
            next_renewal: None,
            held: None,
            last_result: None,
            view: PositionView::default(),
            watch: None,
            observing: false,
            jitter,
            #[cfg(feature = "sabotage")]
            sabotage: Sabotage::default(),
        })
    }

    /// Introduces deliberate defects (simulator tests only).
    #[cfg(feature = "sabotage")]
    pub fn sabotage(&mut self, sabotage: Sabotage) {
        self.sabotage = sabotage;
    }

    /// Whether a deliberate defect is switched on; always false in builds
    /// without the `sabotage` feature.
    #[allow(unused_variables)]
    pub(crate) fn sabotaged(&self, defect: impl Fn(&Sabotage) -> bool) -> bool {
        #[cfg(feature = "sabotage")]
        return defect(&self.sabotage);
        #[cfg(not(feature = "sabotage"))]
        return false;
    }

    pub fn candidate_name(&self) -> &str {
        &self.name
    }

    /// The candidate's key watch, if it holds one: a driver ticks the
    /// candidate when it has news (the host does), so a leader learns of a
    /// takeover or a release at once.
    pub fn watched(&self) -> Option<&S::Watch> {
        self.watch.as_ref()
    }

    /// True while the lease is valid by the local clock. Needs no store.
    pub fn is_leader(&self) -> bool {
        self.valid_lease().is_some()
    }

    /// The newest fencing token, while leading.
    pub fn current_fencing_token(&self) -> Option<Hlc> {
        let token = self.valid_lease().map(|lease| lease.fencing_token.clone());
        if self.sabotaged(|s| s.forged_token) {
            return token.map(|t| Hlc::new(t.wall_clock_ms, t.counter + 1, &t.node_id));
        }
        token
    }

    /// The result of the latest campaign attempt; no longer a leader's once
    /// the lease ended.
    pub fn last_known_campaign_result(&self) -> Option<CampaignResponse> {
        self.last_result.clone()
    }

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

    /// One attempt: `SET <position> <value> NEX PX <term>`.
    pub async fn try_campaign(&mut self, term_ms: u64) -> Result<CampaignResponse, ElectionError> {
        timing::validate_term("term", term_ms)?;
        self.expire_if_due();
        let result = self.attempt(term_ms, true).await;
        self.watch_while_leading().await;
        result
    }

    /// Gives up the position if held. The local lease ends before the
    /// request is sent: after asking to resign, acting as leader is never
    /// right, and the store may release the position before it answers.
    pub async fn resign(
        &mut self,
        keep_renewing: bool,
    ) -> Result<ResignationResponse, ElectionError> {
        self.expire_if_due();
        if !keep_renewing {
            self.renewal = None;
            self.next_renewal = None;
        }
        let late = self.sabotaged(|s| s.end_lease_after_resign_answer);
        if !late {
            self.end_lease(LostReason::Resigned);
        }
        let sent_at = self.clock.now();
        let result = self
            .store
            .vdel(&self.position, &self.lock_value, None)
            .await;
        if late {
            self.end_lease(LostReason::Resigned);
        }
        self.release_watch();
        if let Err(error) = &result
            && outcome_unknown(error)
            && !self.request_lifetime.is_zero()
        {
            self.doubt
                .release_sent(landing_deadline(sent_at, self.request_lifetime));
        }
        match result? {
            DeleteOutcome::Deleted => Ok(ResignationResponse { success: true }),
            DeleteOutcome::Absent | DeleteOutcome::ValueMismatch => {
                Ok(ResignationResponse { success: false })
            }
        }
    }

    pub async fn current_leader(&mut self) -> Result<Option<Leader>, ElectionError> {
        self.expire_if_due();
        let current = self.store.get(&self.position).await?;
        self.expire_if_due();
        Ok(current.map(|v| Leader::from_lock_value(&v.value)))
    }

    /// Starts reporting leadership changes; returns the leader now.
    pub async fn observe(&mut self) -> Result<Option<Leader>, ElectionError> {
        self.expire_if_due();
        self.ensure_watch().await?;
        self.observing = true;
        let now = self.clock.now();
        match self.store.get(&self.position).await {
            Ok(current) => {
                let leader = current.as_ref().map(|v| Leader::from_lock_value(&v.value));
                let (value, version) = match current {
                    Some(v) => (Some(v.value), Some(v.version)),
                    None => (None, None),
                };
                // The caller gets this leader as the answer, not as an event.
                self.view.learn(value, version, now);
                Ok(leader)
            }
            Err(error) => {
                self.unobserve();
                Err(error.into())
            }
        }
    }

    pub fn unobserve(&mut self) {
        self.observing = false;
        self.release_watch();
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
        match (self.next_renewal, lease_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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

    fn valid_lease(&self) -> Option<&Lease> {
        let never_ends = self.sabotaged(|s| s.lease_never_ends);
        self.held
            .as_ref()
            .map(|held| &held.lease)
            .filter(|lease| self.clock.now() < lease.valid_until || never_ends)
    }

    /// Ends a lease whose time is up; true if it did. Every entry point
    /// calls it first.
    pub(crate) fn expire_if_due(&mut self) -> bool {
        if self.sabotaged(|s| s.renew_before_expiry) {
            return false;
        }
        self.end_lease_if_past()
    }

    fn end_lease_if_past(&mut self) -> bool {
        if self.sabotaged(|s| s.lease_never_ends) {
            return false;
        }
        let due = self
            .held
            .as_ref()
            .is_some_and(|h| h.lease.valid_until <= self.clock.now());
        if due {
            self.end_lease(LostReason::LeaseExpired);
        }
        due
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

    pub(crate) async fn ensure_watch(&mut self) -> Result<(), ElectionError> {
        if self.watch.is_none() {
            self.watch = Some(self.store.watch(&self.position).await?);
        }
        Ok(())
    }

    /// A leader watches its position, so that a release or a takeover by
    /// anyone else (an operator's `resign`, say) ends its lease at once
    /// instead of at its next renewal. Without a watch (the store refused
    /// one) the lease still ends by its clock.
    async fn watch_while_leading(&mut self) {
        if self.is_leader() && self.watch.is_none() {
            let _ = self.ensure_watch().await;
        }
    }

    /// Records a read or write of the position, telling observers if it
    /// shows a new holder.
    pub(crate) fn learn_position(&mut self, value: Option<Vec<u8>>, version: Option<Hlc>) {
        let change = self.view.learn(value, version, self.clock.now());
        if let (Some(change), true) = (change, self.observing) {
            self.events
                .deliver(CandidateEvent::LeadershipChanged(change));
        }
    }

    /// Drops the watch unless observing or leading still needs it.
    pub(crate) fn release_watch(&mut self) {
        if !self.observing && self.held.is_none() {
            self.watch = None;
        }
    }

    /// The best guess of the holder's term for reading notifications: the
    /// lease's own term while leading, else the renewal term.
    fn term_guess(&self) -> u64 {
        self.held
            .as_ref()
            .map(|h| h.term_ms)
            .or(self.renewal.map(|r| r.term_ms))
            .unwrap_or(0)
    }

    /// Applies every queued notification: reports changes to observers and
    /// ends the local lease at once if the store shows someone else holding
    /// the position, or nobody. Returns what the notifications meant,
    /// oldest first.
    pub(crate) fn absorb_notifications(&mut self, term_ms: u64) -> Vec<News> {
        let Some(watch) = self.watch.as_mut() else {
            return Vec::new();
        };
        let notifications = watch.take();
        let mut news = Vec::with_capacity(notifications.len());
        for notification in notifications {
            let now = self.clock.now();
            let version = notification.version.clone();
            let Some((meaning, change)) = self.view.absorb(notification, term_ms, now) else {
                continue;
            };
            if let Some(change) = change
                && self.observing
            {
                self.events
                    .deliver(CandidateEvent::LeadershipChanged(change));
            }
            let ours = matches!(&meaning, News::Written { value } if *value == self.lock_value);
            let newer_than_lease = self
                .held
                .as_ref()
                .is_some_and(|h| version.cmp_version(&h.lease.fencing_token).is_gt());
            if !ours && newer_than_lease {
                let reason = match meaning {
                    News::Written { .. } => LostReason::TakenOver,
                    News::ReleasedEarly => LostReason::Resigned,
                    News::Expired => LostReason::LeaseExpired,
                };
                self.next_renewal = self
                    .next_renewal
                    .filter(|_| reason != LostReason::TakenOver);
                self.end_lease(reason);
            }
            news.push(meaning);
        }
        news
    }

    /// Stops a scheduled renewal without forgetting the renewal options.
    pub(crate) fn disarm_renewal(&mut self) {
        self.next_renewal = None;
    }
}

/// Whether a failed request may still have been (or still be) applied: all
/// but a refusal, which the store sends instead of applying.
fn outcome_unknown(error: &StoreError) -> bool {
    !matches!(error, StoreError::Refused(_))
}

fn invalid(text: &str) -> ElectionError {
    ElectionError::InvalidArgument(text.to_owned())
}
