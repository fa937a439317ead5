//! Operating elector: Prometheus metrics, a health check that fails when a
//! leader's renewals stall, and the HTTP endpoint serving both.

mod health;
mod metrics;
mod server;
mod store;

pub use health::Health;
pub use metrics::{Metrics, ReplicaLabels};
pub use server::serve;
pub use store::InstrumentedStore;

use std::sync::Arc;
use std::time::Duration;

use crate::bindings::CandidateEvent;
use crate::client::LeaderElectionClient;

/// Watches one candidate's events and keeps its metrics and health current,
/// until the candidate stops.
pub fn watch_candidate(
    client: &LeaderElectionClient,
    labels: ReplicaLabels,
    term: Duration,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) {
    let mut events = client.events();
    health.register(&labels, term);
    metrics.leader.get_or_create(&labels).set(0);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match &event {
                CandidateEvent::Elected(_) => {
                    metrics.leader.get_or_create(&labels).set(1);
                    metrics.elections.get_or_create(&labels).inc();
                    health.renewed(&labels, true);
                }
                CandidateEvent::Renewed(_) => {
                    metrics.renewals.get_or_create(&labels).inc();
                    health.renewed(&labels, true);
                }
                CandidateEvent::RenewalFailed(_) => {
                    metrics.renewal_failures.get_or_create(&labels).inc();
                }
                CandidateEvent::LeadershipLost(reason) => {
                    metrics.leader.get_or_create(&labels).set(0);
                    metrics.lost(&labels, *reason).inc();
                    health.lost(&labels, *reason);
                }
                CandidateEvent::LeaseShortened(_)
                | CandidateEvent::CampaignResult(_)
                | CandidateEvent::LeadershipChanged(_) => {}
            }
        }
        metrics.leader.get_or_create(&labels).set(0);
        health.forget(&labels);
    });
}
