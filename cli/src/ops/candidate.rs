//! Follows one candidate's events into its metrics and health.

use std::sync::Arc;
use std::time::Duration;

use super::metrics::CandidateMetrics;
use super::{Health, ReplicaLabels};
use elector_host::bindings::{CandidateEvent, Lease};
use elector_host::client::LeaderElectionClient;
use elector_host::clock;

/// One candidate's metrics and health, registered.
pub struct CandidateMonitor {
    labels: ReplicaLabels,
    metrics: CandidateMetrics,
    health: Arc<Health>,
}

impl CandidateMonitor {
    pub(super) fn new(labels: ReplicaLabels, term: Duration, monitor: &super::Monitor) -> Self {
        monitor.health.register_candidate(&labels, term);
        CandidateMonitor {
            metrics: monitor.metrics.candidate(&labels),
            labels,
            health: monitor.health.clone(),
        }
    }

    /// Keeps the metrics and health current with `client`'s events until
    /// its sandbox stops (or every handle to it is gone).
    pub fn watch(self, client: &LeaderElectionClient) {
        let mut events = client.events();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                self.apply(&event);
            }
            self.not_leading();
            self.health.candidate_stopped(&self.labels);
        });
    }

    fn apply(&self, event: &CandidateEvent) {
        let (metrics, labels) = (&self.metrics, &self.labels);
        match event {
            CandidateEvent::Elected(lease) => {
                metrics.leader.set(1);
                metrics.elections.inc();
                self.lease(lease);
                self.health.renewed(labels);
            }
            CandidateEvent::Renewed(lease) => {
                metrics.renewals.inc();
                self.lease(lease);
                self.health.renewed(labels);
            }
            CandidateEvent::LeaseShortened(lease) => self.lease(lease),
            CandidateEvent::RenewalFailed(_) => {
                metrics.renewal_failures.inc();
            }
            CandidateEvent::LeadershipLost(reason) => {
                self.not_leading();
                metrics.lost(*reason).inc();
                self.health.lost(labels, *reason);
            }
            CandidateEvent::CampaignResult(_) => self.health.store_answered(labels),
            CandidateEvent::LeadershipChanged(_) => {}
        }
    }

    fn lease(&self, lease: &Lease) {
        self.metrics
            .lease_end
            .set(clock::unix_seconds(lease.valid_until));
    }

    fn not_leading(&self) {
        self.metrics.leader.set(0);
        self.metrics.lease_end.set(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::tests::labels;
    use crate::ops::{Check, Monitor};
    use elector_host::client::{AutomaticRenewal, ClientOptions};
    use elector_host::runtime::{ElectorRuntime, RuntimeConfig};
    use elector_host::store::EmbeddedStore;

    fn wall_now() -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let started = std::time::Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "{what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn the_lease_end_follows_the_lease_and_a_stopped_sandbox_is_unhealthy() {
        let runtime = ElectorRuntime::new(RuntimeConfig::default()).unwrap();
        let store: Arc<dyn elector_host::StateStoreBackend> = Arc::new(EmbeddedStore::new());
        let client = LeaderElectionClient::start(&runtime, store, ClientOptions::new("job", "r1"))
            .await
            .unwrap();
        let term = Duration::from_secs(3);
        client
            .set_automatic_renewal(Some(AutomaticRenewal {
                term,
                period: Duration::from_secs(1),
            }))
            .await
            .unwrap();
        let monitor = Monitor::default();
        let labels = labels();
        monitor.candidate(&labels, term).watch(&client);
        let metrics = monitor.metrics.candidate(&labels);
        assert_eq!(metrics.lease_end.get(), 0.0, "not leading yet");
        let campaigned_at = wall_now();
        client.campaign(term, None).await.unwrap();
        eventually("elected", || metrics.leader.get() == 1).await;
        // The lease ends a term after the winning write was sent, less the
        // safety margin (a tenth of the term).
        let end = metrics.lease_end.get();
        assert!(
            end > campaigned_at + 2.5 && end <= wall_now() + 3.0,
            "{end}"
        );
        client
            .resign(elector_host::client::ResignOptions::default())
            .await
            .unwrap();
        eventually("resigned", || metrics.lease_end.get() == 0.0).await;
        assert_eq!(metrics.leader.get(), 0);
        assert!(monitor.health.check().is_ok());
        drop(client);
        eventually("the watch ended", || monitor.health.check().is_err()).await;
        assert_eq!(
            monitor.health.check().unwrap_err(),
            ["r1 on job: its elector sandbox stopped"]
        );
    }
}
