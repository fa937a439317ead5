//! A candidate for one position: the single-shot operations, the local
//! lease, automatic renewal and observation. The blocking operations live
//! in `campaign.rs` and `update.rs`.

use core::time::Duration;

use crate::ports::{Clock, EventSink, KeyWatch, Store};
use crate::position::News;
use crate::position::PositionView;
use crate::timing::{self, Jitter};
use crate::types::{
    CampaignResponse, CandidateEvent, CandidateOptions, DeleteOutcome, ElectionError, Hlc, Instant,
    Leader, Lease, LostReason, RenewalOptions, ResignationResponse, SetCondition, SetOptions,
    StoreError,
};

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
    lock_value: Vec<u8>,
    margin_ms: Option<u64>,
    request_lifetime: Duration,
    /// A resignation whose answer was lost may still land until then.
    release_in_doubt_until: Option<Instant>,
    renewal: Option<RenewalOptions>,
    /// When the next automatic renewal is due; `None` while not armed.
    next_renewal: Option<Instant>,
    lease: Option<Lease>,
    last_result: Option<CampaignResponse>,
    pub(crate) view: PositionView,
    /// Registered while campaigning or observing.
    pub(crate) watch: Option<S::Watch>,
    observing: bool,
    pub(crate) jitter: Jitter,
    pub(crate) sabotage: crate::sabotage::Sabotage,
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
            release_in_doubt_until: None,
            renewal: None,
            next_renewal: None,
            lease: None,
            last_result: None,
            view: PositionView::default(),
            watch: None,
            observing: false,
            jitter,
            sabotage: crate::sabotage::Sabotage::default(),
        })
    }

    /// Introduces deliberate defects (simulator tests only).
    #[cfg(feature = "sabotage")]
    pub fn sabotage(&mut self, sabotage: crate::sabotage::Sabotage) {
        self.sabotage = sabotage;
    }

    pub fn candidate_name(&self) -> &str {
        &self.name
    }

    /// True while the lease is valid by the local clock. Needs no store.
    pub fn is_leader(&self) -> bool {
        self.valid_lease().is_some()
    }

    pub fn current_fencing_token(&self) -> Option<Hlc> {
        self.valid_lease().map(|lease| lease.fencing_token.clone())
    }

    pub fn last_known_campaign_result(&self) -> Option<CampaignResponse> {
        self.last_result.clone()
    }

    pub fn automatic_renewal(&self) -> Option<RenewalOptions> {
        self.renewal
    }

    /// Turns automatic renewal on or off. When already leading, the first
    /// renewal is due one period from now.
    pub fn set_automatic_renewal(
        &mut self,
        options: Option<RenewalOptions>,
    ) -> Result<(), ElectionError> {
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
        self.next_renewal = match options {
            Some(options) if self.is_leader() => Some(
                self.clock
                    .now()
                    .saturating_add(Duration::from_millis(options.period_ms)),
            ),
            _ => None,
        };
        Ok(())
    }

    /// One attempt: `SET <position> <value> NEX PX <term>`.
    pub async fn try_campaign(&mut self, term_ms: u64) -> Result<CampaignResponse, ElectionError> {
        timing::validate_term("term", term_ms)?;
        self.attempt(term_ms, true).await
    }

    /// Gives up the position if held. The local lease ends whatever the
    /// store answers: after asking to resign, acting as leader is never
    /// right.
    pub async fn resign(
        &mut self,
        keep_renewing: bool,
    ) -> Result<ResignationResponse, ElectionError> {
        if !keep_renewing {
            self.renewal = None;
            self.next_renewal = None;
        }
        let sent_at = self.clock.now();
        let result = self
            .store
            .vdel(&self.position, &self.lock_value, None)
            .await;
        self.end_lease(LostReason::Resigned);
        if let Err(error) = &result
            && error.is_transient()
            && !self.request_lifetime.is_zero()
        {
            self.release_in_doubt_until = Some(sent_at.saturating_add(self.request_lifetime));
        }
        match result? {
            DeleteOutcome::Deleted => Ok(ResignationResponse { success: true }),
            DeleteOutcome::Absent | DeleteOutcome::ValueMismatch => {
                Ok(ResignationResponse { success: false })
            }
        }
    }

    pub async fn current_leader(&mut self) -> Result<Option<Leader>, ElectionError> {
        let current = self.store.get(&self.position).await?;
        Ok(current.map(|v| Leader::from_lock_value(&v.value)))
    }

    /// Starts reporting leadership changes; returns the leader now.
    pub async fn observe(&mut self) -> Result<Option<Leader>, ElectionError> {
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
        self.watch = None;
    }

    /// Runs what is due (renewal, end of lease, observed changes) and says
    /// when to run again.
    pub async fn tick(&mut self) -> Option<Instant> {
        self.absorb_notifications(self.renewal.map_or(0, |r| r.term_ms));
        let now = self.clock.now();
        if self.next_renewal.is_some_and(|due| due <= now) {
            self.renew().await;
        }
        if self
            .lease
            .as_ref()
            .is_some_and(|l| l.valid_until <= self.clock.now())
            && !self.sabotage.lease_never_ends
        {
            self.end_lease(LostReason::LeaseExpired);
        }
        let lease_end = self
            .lease
            .as_ref()
            .filter(|_| !self.sabotage.lease_never_ends)
            .map(|l| l.valid_until);
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
        if let Err(error) = self.attempt(options.term_ms, true).await {
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
        // A lost resignation may still arrive: winning before it can no
        // longer land would let it delete the new hold.
        if let Some(until) = self.release_in_doubt_until.take()
            && self.clock.now() < until
        {
            self.clock.sleep_until(until).await;
        }
        let options = SetOptions {
            condition: SetCondition::OnlyIfAbsentOrEqual,
            expiry_ms: Some(term_ms),
            fencing_token: None,
        };
        let sent_at = self.clock.now();
        let response = self
            .store
            .set(&self.position, &self.lock_value, &options)
            .await?;
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
        let token = response.version.ok_or_else(|| {
            ElectionError::Store(StoreError::Protocol(
                "an applied SET carried no version".into(),
            ))
        })?;
        let lease = Lease {
            fencing_token: token.clone(),
            valid_until: sent_at.saturating_add(timing::lease_length(term_ms, self.margin_ms)),
        };
        self.learn_position(Some(self.lock_value.clone()), Some(token.clone()));
        let result = CampaignResponse {
            is_leader: true,
            fencing_token: Some(token),
        };
        self.record(result.clone());
        let event = if self.is_leader() {
            CandidateEvent::Renewed(lease.clone())
        } else {
            CandidateEvent::Elected(lease.clone())
        };
        self.lease = Some(lease);
        self.events.deliver(event);
        if arm_renewal && let Some(renewal) = self.renewal {
            self.next_renewal =
                Some(sent_at.saturating_add(Duration::from_millis(renewal.period_ms)));
        }
        Ok(result)
    }

    fn record(&mut self, result: CampaignResponse) {
        self.last_result = Some(result.clone());
        self.events.deliver(CandidateEvent::CampaignResult(result));
    }

    fn valid_lease(&self) -> Option<&Lease> {
        self.lease
            .as_ref()
            .filter(|lease| self.clock.now() < lease.valid_until || self.sabotage.lease_never_ends)
    }

    /// Ends the local lease, telling the caller if there was one.
    pub(crate) fn end_lease(&mut self, reason: LostReason) {
        if self.lease.take().is_some() {
            self.events.deliver(CandidateEvent::LeadershipLost(reason));
        }
    }

    pub(crate) async fn ensure_watch(&mut self) -> Result<(), ElectionError> {
        if self.watch.is_none() {
            self.watch = Some(self.store.watch(&self.position).await?);
        }
        Ok(())
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

    /// Drops the watch unless observing still needs it.
    pub(crate) fn release_watch(&mut self) {
        if !self.observing {
            self.watch = None;
        }
    }

    /// Applies every queued notification: reports changes to observers and
    /// ends the local lease at once if the store shows someone else holding
    /// the position. Returns what the notifications meant, oldest first.
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
                .lease
                .as_ref()
                .is_some_and(|l| version.cmp_version(&l.fencing_token).is_gt());
            if !ours && newer_than_lease {
                let reason = match meaning {
                    News::Written { .. } => LostReason::TakenOver,
                    _ => LostReason::LeaseExpired,
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

fn invalid(text: &str) -> ElectionError {
    ElectionError::InvalidArgument(text.to_owned())
}
