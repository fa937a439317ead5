use std::time::{Duration, Instant};

use elector_host::bindings::CandidateEvent;
use elector_host::{AutomaticRenewal, ResignOptions};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_renewal_holds_the_position_across_ten_terms_while_idle() {
    let (_, store) = embedded();
    let leader = client(&store, "leader").await;
    let rival = client(&store, "rival").await;
    let term = Duration::from_millis(200);
    leader
        .set_automatic_renewal(Some(AutomaticRenewal {
            term,
            period: Duration::from_millis(60),
        }))
        .await
        .unwrap();
    let mut events = leader.events();
    let first = leader
        .campaign(term, None)
        .await
        .unwrap()
        .fencing_token
        .unwrap();
    let started = Instant::now();
    // The rival waits through ten terms and never gets in.
    let rival_result = rival.campaign(term, Some(term * 10)).await;
    assert!(rival_result.is_err(), "the rival timed out");
    assert!(started.elapsed() >= term * 10);
    assert!(leader.is_leader());
    let renewals = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e, CandidateEvent::Renewed(_)))
        .count();
    assert!(
        renewals >= 20,
        "renewed every period while idle: {renewals}"
    );
    let last = leader.last_known_campaign_result().unwrap();
    assert!(last.is_leader);
    assert_ne!(
        last.fencing_token.clone().unwrap(),
        first,
        "every renewal has a new token"
    );
    assert_eq!(leader.current_fencing_token(), last.fencing_token);
    leader.resign(ResignOptions::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_stops_renewing_loses_the_lease_locally() {
    let (_, store) = embedded();
    let leader = client(&store, "leader").await;
    let term = Duration::from_millis(300);
    let mut events = leader.events();
    leader
        .set_automatic_renewal(Some(AutomaticRenewal {
            term,
            period: Duration::from_millis(100),
        }))
        .await
        .unwrap();
    leader.try_campaign(term).await.unwrap();
    leader.set_automatic_renewal(None).await.unwrap();
    next_matching(&mut events, |e| {
        matches!(e, CandidateEvent::LeadershipLost(_))
    })
    .await;
    assert!(!leader.is_leader());
    assert_eq!(leader.current_fencing_token(), None);
}
