use std::time::Duration;

use elector_host::StateStoreBackend;
use elector_statestore::{SetCondition, SetOptions, StoreError, StoreErrorKind};

use crate::support::*;

fn increment(current: Option<Vec<u8>>) -> Option<Vec<u8>> {
    let value: u64 = current.map_or(0, |v| String::from_utf8(v).unwrap().parse().unwrap());
    Some((value + 1).to_string().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_candidates_each_updating_fifty_times_end_at_exactly_250() {
    let (embedded, store) = embedded();
    let mut workers = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        let candidate = client(&store, name).await;
        workers.push(tokio::spawn(async move {
            for _ in 0..50 {
                candidate
                    .campaign_and_update_value("counter", increment, Duration::from_secs(5), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for worker in workers {
        tokio::time::timeout(PATIENCE * 3, worker)
            .await
            .unwrap()
            .unwrap();
    }
    let counter = embedded.get(b"counter").await.unwrap().unwrap();
    assert_eq!(counter.value, b"250");
    assert!(
        embedded.get(b"position").await.unwrap().is_none(),
        "the lock is released"
    );
    assert_eq!(embedded.watch_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_fencing_token_is_refused() {
    let (embedded, store) = embedded();
    let old = client(&store, "old").await;
    let new = client(&store, "new").await;
    let term = Duration::from_millis(100);
    let stale = old.try_campaign(term).await.unwrap().fencing_token.unwrap();
    tokio::time::sleep(term * 2).await;
    let fresh = new
        .campaign(Duration::from_secs(5), None)
        .await
        .unwrap()
        .fencing_token
        .unwrap();
    let fenced = |token| SetOptions {
        condition: SetCondition::Unconditional,
        expiry_ms: None,
        fencing_token: Some(elector_statestore::Hlc::from(&token)),
    };
    assert!(
        embedded
            .set(b"shared", b"new", &fenced(fresh))
            .await
            .unwrap()
            .applied
    );
    assert_eq!(
        embedded
            .set(b"shared", b"old", &fenced(stale.clone()))
            .await,
        Err(StoreError::Refused(
            StoreErrorKind::FencingTokenLowerVersion
        ))
    );
    assert_eq!(
        embedded.del(b"shared", None).await,
        Err(StoreError::Refused(StoreErrorKind::FencingTokenRequired))
    );
    assert_eq!(
        embedded.get(b"shared").await.unwrap().unwrap().value,
        b"new"
    );
}
