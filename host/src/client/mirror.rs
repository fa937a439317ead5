//! What the host knows of a candidate without asking it: folded from the
//! candidate's own events, as they are delivered.
//!
//! A candidate blocked in a campaign cannot answer calls (the component
//! model runs one call per instance at a time), but its events still arrive
//! through the `event-sink` import. Folding them here lets
//! [`is_leader`](super::LeaderElectionClient::is_leader) and friends answer
//! at once, even mid-campaign, with the same lease deadline the guest uses.

use std::sync::Mutex;

use tokio::sync::mpsc;

use crate::bindings::{CampaignResponse, CandidateEvent, Hlc, Lease};
use crate::clock;

#[derive(Default)]
pub struct Mirror {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    lease: Option<Lease>,
    last_result: Option<CampaignResponse>,
    subscribers: Vec<mpsc::UnboundedSender<CandidateEvent>>,
    /// Why the sandbox stopped, once it has.
    failure: Option<String>,
}

impl Mirror {
    /// Folds one event in and hands it to every subscriber, in order.
    pub fn apply(&self, event: CandidateEvent) {
        let mut state = self.state.lock().unwrap();
        match &event {
            CandidateEvent::Elected(lease) | CandidateEvent::Renewed(lease) => {
                state.lease = Some(lease.clone());
            }
            CandidateEvent::LeadershipLost(_) => state.lease = None,
            CandidateEvent::CampaignResult(result) => state.last_result = Some(result.clone()),
            CandidateEvent::RenewalFailed(_) | CandidateEvent::LeadershipChanged(_) => {}
        }
        state
            .subscribers
            .retain(|subscriber| subscriber.send(event.clone()).is_ok());
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
        self.state
            .lock()
            .unwrap()
            .lease
            .clone()
            .filter(|lease| now < lease.valid_until)
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
    }

    pub fn failure(&self) -> Option<String> {
        self.state.lock().unwrap().failure.clone()
    }
}
