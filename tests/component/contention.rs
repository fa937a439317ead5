use std::sync::Arc;
use std::time::{Duration, Instant};

use elector_host::bindings::{ElectionError, LostReason};
use elector_host::{
    ClientError, ClientOptions, LeaderElectionClient, ResignOptions, StateStoreBackend,
};

use crate::support::*;

const TERM: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_candidates_contend_and_exactly_one_wins() {
    let (_, store) = embedded();
    let mut clients = Vec::new();
    for name in ["a", "b", "c"] {
        clients.push(client(&store, name).await);
    }
    let mut campaigns = Vec::new();
    for c in &clients {
        let c = c.clone();
        campaigns.push(tokio::spawn(async move { c.campaign(TERM, None).await }));
    }
    // Exactly one campaign returns; the others stay blocked.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let finished: Vec<usize> = (0..3).filter(|i| campaigns[*i].is_finished()).collect();
    assert_eq!(finished.len(), 1, "one winner");
    let leaders: Vec<usize> = (0..3).filter(|i| clients[*i].is_leader()).collect();
    assert_eq!(leaders, finished);
    let winner = &clients[leaders[0]];
    let leader = winner.current_leader().await.unwrap().unwrap();
    assert_eq!(leader.name, winner.candidate_name());
    assert!(winner.current_fencing_token().is_some());
    for campaign in campaigns {
        campaign.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_resign_is_immediate() {
    let (_, store) = embedded();
    let a = client(&store, "a").await;
    let b = client(&store, "b").await;
    assert!(a.try_campaign(TERM).await.unwrap().is_leader);
    let waiting = tokio::spawn({
        let b = b.clone();
        async move { b.campaign(TERM, None).await.map(|r| (r, Instant::now())) }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    let resigned_at = Instant::now();
    assert!(a.resign(ResignOptions::default()).await.unwrap().success);
    let (response, elected_at) = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(response.is_leader);
    assert!(b.is_leader() && !a.is_leader());
    assert!(
        elected_at - resigned_at < TERM / 2,
        "no wait for the term to end"
    );
}

async fn failover_after_the_leader_stops_renewing(store: Arc<dyn StateStoreBackend>) {
    let term = Duration::from_millis(400);
    let a = client(&store, "a").await;
    let b = client(&store, "b").await;
    let mut a_events = a.events();
    assert!(a.try_campaign(term).await.unwrap().is_leader);
    let started = Instant::now();
    let response = tokio::time::timeout(PATIENCE, b.campaign(term, None))
        .await
        .unwrap()
        .unwrap();
    assert!(response.is_leader);
    assert!(
        started.elapsed() >= term - Duration::from_millis(50),
        "not before the term ends"
    );
    // a knew on its own that its lease was over.
    next_matching(&mut a_events, |e| {
        matches!(
            e,
            elector_host::bindings::CandidateEvent::LeadershipLost(LostReason::LeaseExpired)
        )
    })
    .await;
    assert!(!a.is_leader());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_term_expiry() {
    let (_, store) = embedded();
    failover_after_the_leader_stops_renewing(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_after_term_expiry_without_any_notification() {
    let faulty = faulty_store();
    faulty.layer.lose_notifications();
    let store: Arc<dyn StateStoreBackend> = faulty;
    failover_after_the_leader_stops_renewing(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_blocked_campaign_returns_promptly_and_leaves_no_watch() {
    let (embedded, store) = embedded();
    let a = client(&store, "a").await;
    let b = client(&store, "b").await;
    a.try_campaign(Duration::from_secs(60)).await.unwrap();
    let campaign = b.campaign(Duration::from_secs(60), None);
    // Dropping the future (here: by timing out) cancels the campaign.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), campaign)
            .await
            .is_err()
    );
    // The next call runs after the cancelled campaign has returned.
    let started = Instant::now();
    assert_eq!(b.current_leader().await.unwrap().unwrap().name, "a");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        embedded.watch_count(),
        1,
        "only the leader's own watch: the cancelled campaign left none behind"
    );
    // A timeout given to the candidate itself is a typed error.
    let result = b
        .campaign(Duration::from_secs(60), Some(Duration::from_millis(100)))
        .await;
    assert!(matches!(
        result,
        Err(ClientError::Election(ElectionError::Timeout))
    ));
    assert_eq!(embedded.watch_count(), 1, "the leader's own watch alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_give_typed_errors() {
    let (_, store) = embedded();
    for name in ["", "has:colon"] {
        let result =
            LeaderElectionClient::start(runtime(), store.clone(), ClientOptions::new("p", name))
                .await;
        assert!(
            matches!(
                result,
                Err(ClientError::Election(ElectionError::InvalidArgument(_)))
            ),
            "name {name:?}"
        );
    }
    let result =
        LeaderElectionClient::start(runtime(), store.clone(), ClientOptions::new("", "a")).await;
    assert!(matches!(
        result,
        Err(ClientError::Election(ElectionError::InvalidArgument(_)))
    ));
    let a = client(&store, "a").await;
    let invalid = |r: Result<_, ClientError>| {
        matches!(
            r,
            Err(ClientError::Election(ElectionError::InvalidArgument(_)))
        )
    };
    assert!(invalid(a.try_campaign(Duration::ZERO).await.map(drop)));
    assert!(invalid(
        a.campaign(Duration::from_micros(500), None).await.map(drop)
    ));
    let renewal = elector_host::AutomaticRenewal {
        term: Duration::from_secs(1),
        period: Duration::from_secs(1),
    };
    assert!(invalid(a.set_automatic_renewal(Some(renewal)).await));
    assert!(invalid(
        a.campaign_and_update_value(Vec::new(), |v| v, TERM, None)
            .await
    ));
    // Not the leader: resigning is not an error.
    assert!(!a.resign(ResignOptions::default()).await.unwrap().success);
}
