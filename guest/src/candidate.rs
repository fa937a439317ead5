//! A candidate for one position: its state, the single-shot operations and
//! its view of the position (watch and notifications). The lease lives in
//! `lease.rs`, automatic renewal in `renewal.rs`, the blocking operations in
//! `campaign.rs` and `update.rs`.

use core::time::Duration;

use crate::doubt::{InDoubt, landing_deadline};
use crate::ports::{Clock, EventSink, KeyWatch, StateStore};
use crate::position::News;
use crate::position::PositionView;
use crate::sabotage::Sabotage;
use crate::timing::{self, Jitter};
use crate::types::{
    CampaignResponse, CandidateEvent, CandidateOptions, DeleteOutcome, ElectionError, Hlc, Instant,
    Leader, Lease, LostReason, RenewalOptions, ResignationResponse, StoreError,
};

/// One candidate for one position.
///
/// Calls must not overlap; the component model guarantees that per
/// instance, and native callers hold `&mut`.
pub struct Candidate<S: StateStore, C: Clock, E: EventSink> {
    pub(crate) store: S,
    pub(crate) clock: C,
    pub(crate) events: E,
    pub(crate) position: Vec<u8>,
    pub(crate) name: String,
    pub(crate) lock_value: Vec<u8>,
    pub(crate) margin_ms: Option<u64>,
    pub(crate) request_lifetime: Duration,
    /// This candidate's writes that may still land.
    pub(crate) doubt: InDoubt,
    pub(crate) renewal: Option<RenewalOptions>,
    /// When the next automatic renewal is due; `None` while not armed.
    pub(crate) next_renewal: Option<Instant>,
    pub(crate) held: Option<Held>,
    pub(crate) last_result: Option<CampaignResponse>,
    pub(crate) view: PositionView,
    /// Registered while campaigning, observing or leading.
    pub(crate) watch: Option<S::Watch>,
    pub(crate) observing: bool,
    pub(crate) jitter: Jitter,
    #[cfg(feature = "sabotage")]
    sabotage: Sabotage,
}

impl<S: StateStore, C: Clock, E: EventSink> Candidate<S, C, E> {
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
    pub(crate) async fn watch_while_leading(&mut self) {
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
}

/// The lease held now, with the term it was won for.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub(crate) lease: Lease,
    pub(crate) term_ms: u64,
    /// When the write that won or last renewed it was sent: a lease whose
    /// write went out before the connection's trust was reset is void.
    pub(crate) sent_at: Instant,
}

/// Whether a failed request may still have been (or still be) applied: all
/// but a refusal, which the store sends instead of applying.
pub(crate) fn outcome_unknown(error: &StoreError) -> bool {
    !matches!(error, StoreError::Refused(_))
}

pub(crate) fn invalid(text: &str) -> ElectionError {
    ElectionError::InvalidArgument(text.to_owned())
}
