use std::time::Duration;

use elector_host::ResignOptions;
use elector_host::bindings::{CandidateEvent, PositionState};
use futures::StreamExt;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_yields_the_exact_event_sequence() {
    let (_, store) = embedded();
    let observer = client(&store, "observer").await;
    let a = client(&store, "a").await;
    let b = client(&store, "b").await;
    let changes = observer.leadership_changes();
    assert_eq!(observer.observe().await.unwrap(), None);

    let term = Duration::from_millis(500);
    a.try_campaign(term).await.unwrap();
    a.try_campaign(term).await.unwrap(); // a renewal is not a change
    a.resign(ResignOptions::default()).await.unwrap();
    b.try_campaign(term).await.unwrap(); // and lets it expire

    let seen: Vec<(PositionState, Option<String>)> =
        tokio::time::timeout(PATIENCE, changes.take(4).collect::<Vec<_>>())
            .await
            .expect("four changes")
            .into_iter()
            .map(|c| (c.new_state, c.new_leader.map(|l| l.name)))
            .collect();
    use PositionState::*;
    assert_eq!(
        seen,
        vec![
            (LeaderElected, Some("a".into())),
            (NoLeader, None),
            (LeaderElected, Some("b".into())),
            (NoLeader, None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unobserve_stops_the_events_and_the_watch() {
    let (embedded, store) = embedded();
    let observer = client(&store, "observer").await;
    let a = client(&store, "a").await;
    let mut events = observer.events();
    observer.observe().await.unwrap();
    assert_eq!(embedded.watch_count(), 1);
    observer.unobserve().await.unwrap();
    assert_eq!(embedded.watch_count(), 0);
    a.try_campaign(Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !std::iter::from_fn(|| events.try_recv().ok())
            .any(|e| matches!(e, CandidateEvent::LeadershipChanged(_)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_returns_the_current_leader() {
    let (_, store) = embedded();
    let a = client(&store, "a").await;
    let observer = client(&store, "observer").await;
    a.try_campaign(Duration::from_secs(5)).await.unwrap();
    assert_eq!(observer.observe().await.unwrap().unwrap().name, "a");
}
