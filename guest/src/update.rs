//! Campaign-and-update-value: lead briefly, change one shared key under the
//! fencing token, always resign.
//!
//! A fencing token only stops writes from older leaders once a newer token
//! is stored on the key. A plain read-then-write leaves a window: an old
//! leader's delayed write landing between our read and our write would be
//! overwritten and lost. So before writing, the candidate *claims* the key:
//! it rewrites the value it read, with `NEX` (applies only while the value
//! is still the one read) and its token. After a successful claim every
//! older leader is refused, and the real write cannot lose anyone's update.
//!
//! A write whose answer is lost (timeout, dropped link) may have landed. The
//! next round, once elected again, settles it before computing anything:
//! the claim left the write's token on the key, and a write with that same
//! old token is accepted exactly when nobody has written since. If the probe
//! is accepted, the key shows whether the write landed; if it is refused, a
//! newer leader has written, nobody can tell, and the call returns
//! `outcome-unknown` instead of risking a second application. (A claim can
//! re-create a key that an older leader deleted after our read; that needs
//! a leader writing after its lease ended, which the local lease check
//! makes rare.)

use core::time::Duration;

use crate::candidate::Candidate;
use crate::ports::{Cancel, Clock, EventSink, StateStore, Updater};
use crate::timing;
use crate::types::{
    DeleteOutcome, ElectionError, FencingRefusal, Hlc, SetCondition, SetOptions, StoreError,
};

/// A write whose answer was lost.
struct Unconfirmed {
    /// What it wrote (`None`: a delete).
    intended: Option<Vec<u8>>,
    /// The fencing token it was written (and claimed) with.
    token: Hlc,
}

/// What became of an unconfirmed write.
enum Settled {
    Landed,
    DidNotLand,
    /// Someone wrote since; nobody can tell.
    Unknowable,
}

/// How one round as leader ended.
enum Round {
    /// The new value is in place (or nothing needed writing).
    Done,
    /// Leadership was lost or a newer leader wrote: campaign again.
    Again,
}

impl<S: StateStore, C: Clock, E: EventSink> Candidate<S, C, E> {
    /// Campaigns for at most `max_term_ms`, then writes
    /// `updater(current value)` to `key` under the fencing token, retrying
    /// until a fenced write lands; always resigns before returning, also on
    /// error. `cancel` and `timeout` stop the campaign part only.
    pub async fn campaign_and_update_value<U: Updater, K: Cancel>(
        &mut self,
        key: &[u8],
        updater: &mut U,
        max_term_ms: u64,
        timeout: Option<Duration>,
        cancel: Option<&K>,
    ) -> Result<(), ElectionError> {
        timing::validate_term("maximum term", max_term_ms)?;
        if key.is_empty() {
            return Err(ElectionError::InvalidArgument(
                "key must not be empty".into(),
            ));
        }
        let deadline = timeout.map(|t| self.clock.now().saturating_add(t));
        let mut unconfirmed: Option<Unconfirmed> = None;
        loop {
            let campaign = self
                .campaign_until(max_term_ms, deadline, cancel, false)
                .await;
            if let Err(error) = campaign {
                return Err(self.unless_in_doubt(error, &unconfirmed));
            }
            let round = self.update_as_leader(key, updater, &mut unconfirmed).await;
            // Resign on every path; a failed resignation only means the
            // position is released by expiry instead.
            let _ = self.resign(true).await;
            self.disarm_renewal();
            match round {
                Ok(Round::Done) => return Ok(()),
                Ok(Round::Again) => continue,
                Err(error) => return Err(self.unless_in_doubt(error, &unconfirmed)),
            }
        }
    }

    /// The error to end with: `outcome-unknown` while a write whose answer
    /// was lost is still unsettled, since a caller that retries on any
    /// other error would apply the update twice.
    fn unless_in_doubt(
        &self,
        error: ElectionError,
        unconfirmed: &Option<Unconfirmed>,
    ) -> ElectionError {
        if unconfirmed.is_some() && !self.sabotaged(|s| s.forget_unconfirmed_update) {
            ElectionError::OutcomeUnknown
        } else {
            error
        }
    }

    async fn update_as_leader<U: Updater>(
        &mut self,
        key: &[u8],
        updater: &mut U,
        unconfirmed: &mut Option<Unconfirmed>,
    ) -> Result<Round, ElectionError> {
        loop {
            let Some(token) = self.current_fencing_token() else {
                return Ok(Round::Again);
            };
            let current = match self.store.get(key).await {
                Ok(current) => current.map(|v| v.value),
                Err(error) => return retry_or_fail(error),
            };
            if let Some(earlier) = unconfirmed.take() {
                match self.settle(key, &current, &earlier).await {
                    Ok(Settled::Landed) => return Ok(Round::Done),
                    Ok(Settled::DidNotLand) => {}
                    Ok(Settled::Unknowable) => return Err(ElectionError::OutcomeUnknown),
                    Err(error) => {
                        *unconfirmed = Some(earlier);
                        return retry_or_fail(error);
                    }
                }
            }
            let new = updater.update(current.as_deref());
            if let Some(read) = &current {
                match self.claim(key, read, &token).await {
                    Ok(true) => {}
                    // Changed since the read: read again.
                    Ok(false) => continue,
                    Err(error) => return retry_or_fail(error),
                }
            }
            if !self.is_leader() {
                return Ok(Round::Again);
            }
            let written = match (&current, &new) {
                (None, None) => return Ok(Round::Done),
                (_, Some(value)) => {
                    let condition = if current.is_none() {
                        SetCondition::OnlyIfAbsent
                    } else {
                        SetCondition::Unconditional
                    };
                    self.fenced_set(key, value, condition, &token).await
                }
                (Some(_), None) => self
                    .store
                    .del(key, Some(&token))
                    .await
                    .map(|outcome| outcome == DeleteOutcome::Deleted),
            };
            match written {
                Ok(true) => return Ok(Round::Done),
                // Created or deleted by someone else since the read.
                Ok(false) => continue,
                Err(error) => {
                    // A lost answer, a dropped link or an answer that made
                    // no sense: the write may have landed; find out before
                    // applying the update again. Only a refusal says it
                    // did not.
                    if !matches!(error, StoreError::Refused(_)) {
                        *unconfirmed = Some(Unconfirmed {
                            intended: new,
                            token,
                        });
                    }
                    return retry_or_fail(error);
                }
            }
        }
    }

    /// Did an earlier write, whose answer was lost, land? Its claim
    /// stamped `earlier.token` on the key, so a write with that same old
    /// token is accepted exactly when nobody has written since: then the key
    /// holds either what was intended (it landed) or what was read (it did
    /// not). The probe rewrites the current value with `NEX`, so it changes
    /// nothing.
    async fn settle(
        &mut self,
        key: &[u8],
        current: &Option<Vec<u8>>,
        earlier: &Unconfirmed,
    ) -> Result<Settled, StoreError> {
        let Some(value) = current else {
            // Absent: a delete was intended (and is in place) or the key
            // was deleted since; either way deleting again is not needed
            // when a delete was intended.
            return Ok(if earlier.intended.is_none() {
                Settled::Landed
            } else {
                Settled::Unknowable
            });
        };
        let probe = self
            .fenced_set(
                key,
                value,
                SetCondition::OnlyIfAbsentOrEqual,
                &earlier.token,
            )
            .await;
        match probe {
            Ok(true) if earlier.intended.as_ref() == Some(value) => Ok(Settled::Landed),
            Ok(true) => Ok(Settled::DidNotLand),
            Ok(false) => Ok(Settled::Unknowable),
            Err(StoreError::Refused(_)) => Ok(Settled::Unknowable),
            Err(error) => Err(error),
        }
    }

    /// Stamps our token on the key without changing its value; false if the
    /// value is no longer `read`.
    async fn claim(&mut self, key: &[u8], read: &[u8], token: &Hlc) -> Result<bool, StoreError> {
        self.fenced_set(key, read, SetCondition::OnlyIfAbsentOrEqual, token)
            .await
    }

    async fn fenced_set(
        &mut self,
        key: &[u8],
        value: &[u8],
        condition: SetCondition,
        token: &Hlc,
    ) -> Result<bool, StoreError> {
        let options = SetOptions {
            condition,
            expiry_ms: None,
            fencing_token: (!self.sabotaged(|s| s.no_fencing)).then(|| token.clone()),
        };
        self.store
            .set(key, value, &options)
            .await
            .map(|response| response.applied)
    }
}

/// A newer leader's token or a store that may recover: campaign again.
/// Anything else is the caller's to see.
fn retry_or_fail(error: StoreError) -> Result<Round, ElectionError> {
    match ElectionError::from(error) {
        ElectionError::FencingRefused(FencingRefusal::LowerVersion) => Ok(Round::Again),
        ElectionError::Store(error) if error.is_transient() => Ok(Round::Again),
        other => Err(other),
    }
}
