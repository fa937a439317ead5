//! What the host knows of a candidate without asking it: folded from the
//! candidate's own events, as they are delivered.
//!
//! A candidate blocked in a call cannot answer others (the component model
//! runs one call per instance at a time), but its events still arrive
//! through the `event-sink` import. Folding them here lets
//! [`is_leader`](super::LeaderElectionClient::is_leader) and friends answer
//! at once, even mid-campaign, with the same lease deadline the guest uses.
//!
//! The mirror also reports the end of a lease on time: a candidate busy in
//! a slow call (a read waiting out its timeout) cannot tell anyone its
//! lease ran out until the call returns, so the mirror's own timer
//! ([`watch_lease_end`]) reports `leadership-lost(lease-expired)` at the
//! lease's deadline, and the candidate's own report of that loss, when it
//! comes, is not passed on twice. Subscribers therefore see leadership as a
//! well-formed sequence: `elected`, any `renewed`, one `leadership-lost`.
//!
//! On a connection whose Will releases the position when it is lost, the
//! mirror follows the connection's trust as the guest does: a lease ends
//! where the trust does (`leadership-lost(link-silent)`), and a lease the
//! mirror took in before a reconnect that may have published the Will is
//! void.

use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Notify, mpsc};

use crate::bindings::{CampaignResponse, CandidateEvent, Hlc, Lease, LostReason};
use crate::clock;
use crate::store::StateStoreBackend;

#[derive(Default)]
pub struct Mirror {
    state: Mutex<State>,
    /// The candidate's store, for its connection's release trust.
    link: Option<Arc<dyn StateStoreBackend>>,
    /// Notified whenever the lease's deadline may have changed, and when
    /// the mirror goes.
    lease_changed: Arc<Notify>,
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.lease_changed.notify_one();
    }
}

#[derive(Default)]
struct State {
    lease: Option<Lease>,
    /// The connection trust's `trusted_since` when the lease was taken in:
    /// a later one voids the lease.
    trusted_since: u64,
    last_result: Option<CampaignResponse>,
    subscribers: Vec<mpsc::UnboundedSender<CandidateEvent>>,
    /// Why the sandbox stopped, once it has.
    failure: Option<String>,
}

impl State {
    fn broadcast(&mut self, event: CandidateEvent) {
        self.subscribers
            .retain(|subscriber| subscriber.send(event.clone()).is_ok());
    }

    fn end_lease(&mut self, reason: LostReason) {
        if self.lease.take().is_some() {
            if self.last_result.as_ref().is_some_and(|r| r.is_leader) {
                self.last_result = Some(CampaignResponse {
                    is_leader: false,
                    fencing_token: None,
                });
            }
            self.broadcast(CandidateEvent::LeadershipLost(reason));
        }
    }
}

impl Mirror {
    /// A mirror that follows `store`'s release trust too.
    pub fn with_link(store: Arc<dyn StateStoreBackend>) -> Self {
        Mirror {
            state: Mutex::default(),
            link: Some(store),
            lease_changed: Arc::default(),
        }
    }

    fn trust(&self) -> Option<elector_statestore::release::Trust> {
        self.link.as_ref().and_then(|store| store.release_trust())
    }

    /// When the lease held now ends, and why: its own deadline, or where
    /// the connection stops being trusted. Ended already when the trust
    /// was reset after it was taken in.
    fn end_of(&self, state: &State) -> Option<(u64, LostReason)> {
        let lease = state.lease.as_ref()?;
        let own = (lease.valid_until, LostReason::LeaseExpired);
        Some(match self.trust() {
            Some(trust) if trust.trusted_since > state.trusted_since => (0, LostReason::LinkSilent),
            Some(trust) if trust.trusted_until < lease.valid_until => {
                (trust.trusted_until, LostReason::LinkSilent)
            }
            _ => own,
        })
    }

    /// Folds one event in and hands it to every subscriber, in order.
    pub fn apply(&self, event: CandidateEvent) {
        let trusted_since = self.trust().map_or(0, |trust| trust.trusted_since);
        let mut state = self.state.lock().unwrap();
        if matches!(
            event,
            CandidateEvent::Elected(_) | CandidateEvent::Renewed(_)
        ) {
            state.trusted_since = trusted_since;
        }
        let event = match event {
            CandidateEvent::Elected(lease) | CandidateEvent::Renewed(lease)
                if state.lease.is_none() =>
            {
                // A renewal after the mirror already reported the old lease
                // lost starts a new leadership.
                state.lease = Some(lease.clone());
                CandidateEvent::Elected(lease)
            }
            CandidateEvent::Renewed(lease) => {
                state.lease = Some(lease.clone());
                CandidateEvent::Renewed(lease)
            }
            CandidateEvent::Elected(lease) => {
                // The guest never reports two elections without a loss
                // between; a mirror that missed the loss reports it.
                state.end_lease(LostReason::LeaseExpired);
                state.lease = Some(lease.clone());
                CandidateEvent::Elected(lease)
            }
            CandidateEvent::LeaseShortened(lease) => {
                if state.lease.is_none() {
                    return;
                }
                state.lease = Some(lease.clone());
                CandidateEvent::LeaseShortened(lease)
            }
            CandidateEvent::LeadershipLost(reason) => {
                // Reported already if the mirror's timer got there first.
                state.end_lease(reason);
                return;
            }
            CandidateEvent::CampaignResult(result) => {
                state.last_result = Some(result.clone());
                CandidateEvent::CampaignResult(result)
            }
            other @ (CandidateEvent::RenewalFailed(_) | CandidateEvent::LeadershipChanged(_)) => {
                other
            }
        };
        state.broadcast(event);
        drop(state);
        self.lease_changed.notify_one();
    }

    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<CandidateEvent> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.state.lock().unwrap().subscribers.push(sender);
        receiver
    }

    /// The lease, while its deadline (on the shared monotonic clock) has
    /// not passed.
    pub fn valid_lease(&self) -> Option<Lease> {
        let now = clock::now_ns();
        let state = self.state.lock().unwrap();
        let (ends, _) = self.end_of(&state)?;
        state.lease.clone().filter(|_| now < ends)
    }

    pub fn fencing_token(&self) -> Option<Hlc> {
        self.valid_lease().map(|lease| lease.fencing_token)
    }

    pub fn last_result(&self) -> Option<CampaignResponse> {
        self.state.lock().unwrap().last_result.clone()
    }

    /// Records that the sandbox is gone; ends every subscription.
    pub fn fail(&self, reason: String) {
        let mut state = self.state.lock().unwrap();
        state.lease = None;
        state.subscribers.clear();
        state.failure.get_or_insert(reason);
        drop(state);
        self.lease_changed.notify_one();
    }

    pub fn failure(&self) -> Option<String> {
        self.state.lock().unwrap().failure.clone()
    }

    /// The deadline of the lease held now, if any.
    fn deadline(&self) -> Option<u64> {
        self.end_of(&self.state.lock().unwrap()).map(|(at, _)| at)
    }

    /// Reports the lease lost if its deadline has passed.
    fn expire_if_due(&self) {
        let mut state = self.state.lock().unwrap();
        if let Some((at, reason)) = self.end_of(&state)
            && at <= clock::now_ns()
        {
            state.end_lease(reason);
        }
    }
}

/// Reports each lease lost at its deadline, whatever the candidate is busy
/// with. Ends when the mirror is dropped.
pub async fn watch_lease_end(mirror: Weak<Mirror>) {
    let Some(lease_changed) = mirror.upgrade().map(|m| m.lease_changed.clone()) else {
        return;
    };
    loop {
        let changed = lease_changed.notified();
        let Some(deadline) = mirror.upgrade().map(|m| m.deadline()) else {
            return;
        };
        match deadline {
            Some(at) => {
                tokio::select! {
                    _ = changed => {}
                    _ = tokio::time::sleep_until(clock::to_instant(at).into()) => {
                        if let Some(mirror) = mirror.upgrade() {
                            mirror.expire_if_due();
                        }
                    }
                }
            }
            None => changed.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::Hlc;

    fn lease(valid_for_ms: u64) -> Lease {
        Lease {
            fencing_token: Hlc {
                wall_clock_ms: 1,
                counter: 0,
                node_id: "n".into(),
            },
            valid_until: clock::now_ns() + valid_for_ms * 1_000_000,
        }
    }

    fn names(events: &mut mpsc::UnboundedReceiver<CandidateEvent>) -> Vec<&'static str> {
        let mut names = Vec::new();
        while let Ok(event) = events.try_recv() {
            names.push(match event {
                CandidateEvent::Elected(_) => "elected",
                CandidateEvent::Renewed(_) => "renewed",
                CandidateEvent::LeadershipLost(_) => "lost",
                CandidateEvent::LeaseShortened(_) => "shortened",
                _ => "other",
            });
        }
        names
    }

    /// A mirror whose lease end is watched, and what it passes on.
    fn watched_mirror() -> (
        std::sync::Arc<Mirror>,
        mpsc::UnboundedReceiver<CandidateEvent>,
    ) {
        let mirror = std::sync::Arc::new(Mirror::default());
        let events = mirror.subscribe();
        tokio::spawn(watch_lease_end(std::sync::Arc::downgrade(&mirror)));
        (mirror, events)
    }

    #[tokio::test]
    async fn the_loss_is_reported_at_the_deadline_and_only_once() {
        let (mirror, mut events) = watched_mirror();
        mirror.apply(CandidateEvent::Elected(lease(30)));
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        assert!(mirror.valid_lease().is_none());
        assert_eq!(names(&mut events), ["elected", "lost"]);
        // The candidate's own report, late, is not passed on again; its
        // next renewal starts a new leadership.
        mirror.apply(CandidateEvent::LeadershipLost(LostReason::LeaseExpired));
        mirror.apply(CandidateEvent::Renewed(lease(1_000)));
        assert_eq!(names(&mut events), ["elected"]);
    }

    #[tokio::test]
    async fn a_shortened_lease_ends_at_its_new_deadline() {
        let (mirror, mut events) = watched_mirror();
        mirror.apply(CandidateEvent::Elected(lease(60_000)));
        mirror.apply(CandidateEvent::LeaseShortened(lease(20)));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(names(&mut events), ["elected", "shortened", "lost"]);
        assert!(mirror.fencing_token().is_none());
    }
}
