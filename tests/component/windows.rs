//! The windows that let a candidate call itself leader while the store
//! already let someone else in, or that stalled an election, reproduced
//! through the real component and the host's client with a store whose
//! answers are lost or slow (`FaultyStore`), and shown closed. The same
//! findings are pinned to the millisecond natively (guest `tests/windows`).
//!
//! Bounds here are generous (a loaded machine must not fail them) but each
//! sits far from what the old behaviour gave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use elector_host::bindings::{CandidateEvent, ElectionError, LostReason, StoreError};
use elector_host::{
    AutomaticRenewal, ClientError, LeaderElectionClient, ResignOptions, StateStoreBackend,
};

use crate::support::*;

const POSITION: &[u8] = b"position";

fn shared(store: &Arc<FaultyStore>) -> Arc<dyn StateStoreBackend> {
    store.clone()
}

/// Turns on automatic renewal: `term`, every `period`.
async fn renew_every(client: &LeaderElectionClient, term: Duration, period: Duration) {
    client
        .set_automatic_renewal(Some(AutomaticRenewal { term, period }))
        .await
        .unwrap();
}

/// Candidate `a` on a store whose `SET`s of `key` meet `fault` until
/// cleared.
async fn a_whose_sets_meet(fault: Fault, key: &[u8]) -> (Arc<FaultyStore>, LeaderElectionClient) {
    let store = faulty_store();
    let a = client(&shared(&store), "a").await;
    store.layer.set_fault("SET", key, fault);
    (store, a)
}

fn is_lost(event: &CandidateEvent) -> bool {
    matches!(event, CandidateEvent::LeadershipLost(_))
}

fn is_elected(event: &CandidateEvent) -> bool {
    matches!(event, CandidateEvent::Elected(_))
}

/// Finding 1: a leader on a 60 s lease sends a 1 s write whose answer is
/// lost; the store frees the position after 1 s and `b` gets in. `a` must
/// have stopped leading (and said so) before that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_write_whose_answer_is_lost_cuts_the_lease() {
    let store = faulty_store();
    let a = client(&shared(&store), "a").await;
    let b = client(&shared(&store), "b").await;
    let a_log = record_events(&a);
    a.try_campaign(Duration::from_secs(60)).await.unwrap();
    store.layer.set_fault(
        "SET",
        POSITION,
        Fault::LoseAnswer(Duration::from_millis(200)),
    );
    let sent = Instant::now();
    let result = a.try_campaign(Duration::from_secs(1)).await;
    assert!(matches!(
        result,
        Err(ClientError::Election(ElectionError::Store(
            StoreError::Timeout
        )))
    ));
    store.layer.clear_fault();
    let elected = tokio::time::timeout(PATIENCE, b.campaign(Duration::from_secs(60), None))
        .await
        .unwrap()
        .unwrap();
    assert!(elected.is_leader);
    let b_elected = Instant::now();
    assert!(
        b_elected - sent >= Duration::from_millis(900),
        "the 1 s write held"
    );
    assert!(!a.is_leader(), "a must not lead next to b");
    let a_lost = recorded(&a_log, is_lost).await;
    assert!(a_lost <= b_elected);
    assert!(
        a_lost - sent < Duration::from_millis(950),
        "a lost its lease {:?} after sending the 1 s write",
        a_lost - sent
    );
    assert!(first_event(&a_log, |e| matches!(e, CandidateEvent::LeaseShortened(_))).is_some());
}

/// Finding 3: the store releases at once but the resignation's answer is
/// slow. `a` must report the loss before `b` is elected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resignation_ends_the_lease_before_it_is_sent() {
    let store = faulty_store();
    let a = client(&shared(&store), "a").await;
    let b = client(&shared(&store), "b").await;
    let a_log = record_events(&a);
    let b_log = record_events(&b);
    a.try_campaign(Duration::from_secs(60)).await.unwrap();
    let waiting = tokio::spawn({
        let b = b.clone();
        async move { b.campaign(Duration::from_secs(60), None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.layer.set_fault(
        "VDEL",
        POSITION,
        Fault::SlowAnswer(Duration::from_millis(800)),
    );
    let resigning = tokio::spawn({
        let a = a.clone();
        async move { a.resign(ResignOptions::default()).await }
    });
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!a.is_leader(), "a still leads while b does");
    let b_elected = recorded(&b_log, is_elected).await;
    let a_lost = recorded(&a_log, is_lost).await;
    assert!(
        a_lost <= b_elected,
        "b was elected before a reported its loss"
    );
    assert!(resigning.await.unwrap().unwrap().success);
}

/// Finding 4: a renewing leader is busy in a read that takes 2 s, past its
/// lease. The host reports the loss at the lease's end, not when the read
/// returns, and never reports `elected` twice without a loss between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_leader_is_reported_lost_at_its_lease_end() {
    let store = faulty_store();
    let a = client(&shared(&store), "a").await;
    let a_log = record_events(&a);
    renew_every(&a, Duration::from_secs(1), Duration::from_millis(300)).await;
    a.try_campaign(Duration::from_secs(1)).await.unwrap();
    let won = Instant::now();
    store
        .layer
        .set_fault("GET", POSITION, Fault::SlowAnswer(Duration::from_secs(2)));
    a.current_leader().await.unwrap();
    store.layer.clear_fault();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lost = recorded(&a_log, is_lost).await;
    assert!(
        lost - won < Duration::from_millis(1_500),
        "reported {:?} after the win; the lease ends at 0.9 s",
        lost - won
    );
    let transitions: Vec<&str> = a_log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, e)| match e {
            CandidateEvent::Elected(_) => Some("elected"),
            CandidateEvent::LeadershipLost(_) => Some("lost"),
            _ => None,
        })
        .collect();
    assert_eq!(transitions[..3], ["elected", "lost", "elected"]);
    assert!(a.is_leader(), "the renewal after the read won it back");
}

/// Finding 5: a campaign's winning write lands but its answer is lost.
/// The candidate claims its own value at once instead of a term later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_claims_its_own_value_at_once() {
    let (store, a) =
        a_whose_sets_meet(Fault::LoseAnswer(Duration::from_millis(300)), POSITION).await;
    let started = Instant::now();
    let campaign = tokio::spawn({
        let a = a.clone();
        async move { a.campaign(Duration::from_secs(10), None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    store.layer.clear_fault();
    let elected = tokio::time::timeout(PATIENCE, campaign)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(elected.is_leader);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "elected after {:?}; a term is 10 s",
        started.elapsed()
    );
}

/// Finding 6: the update's write lands with its answer lost, then another
/// holder takes the position, so the campaign to settle the write times
/// out. The call must not claim the update did not happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_in_doubt_ends_as_outcome_unknown() {
    let (store, a) =
        a_whose_sets_meet(Fault::LoseAnswer(Duration::from_millis(300)), b"counter").await;
    let update = tokio::spawn({
        let a = a.clone();
        async move {
            a.campaign_and_update_value(
                b"counter".to_vec(),
                |current| {
                    let n: u64 =
                        current.map_or(0, |v| String::from_utf8(v).unwrap().parse().unwrap());
                    Some((n + 1).to_string().into_bytes())
                },
                Duration::from_secs(2),
                Some(Duration::from_secs(2)),
            )
            .await
        }
    });
    // Once the write has landed (its answer still on the way), someone
    // else takes the position for a long while.
    tokio::time::timeout(PATIENCE, async {
        while store.inner.get(b"counter").await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let taken = store
        .inner
        .set(
            POSITION,
            b"b",
            &elector_statestore::SetOptions {
                condition: elector_statestore::SetCondition::Unconditional,
                expiry_ms: Some(60_000),
                fencing_token: None,
            },
        )
        .await
        .unwrap();
    assert!(taken.applied);
    let result = tokio::time::timeout(PATIENCE, update)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.inner.get(b"counter").await.unwrap().unwrap().value,
        b"1"
    );
    assert!(
        matches!(
            result,
            Err(ClientError::Election(ElectionError::OutcomeUnknown))
        ),
        "{result:?}"
    );
}

/// Finding 7: a waiter with a short term next to a holder that renews
/// slowly learns the holder's cadence instead of polling at its own term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_polls_no_more_than_the_holder_renews() {
    let store = faulty_store();
    let holder = client(&shared(&store), "holder").await;
    let waiter = client(&shared(&store), "waiter").await;
    renew_every(&holder, Duration::from_secs(3), Duration::from_secs(1)).await;
    holder.try_campaign(Duration::from_secs(3)).await.unwrap();
    let waited = waiter
        .campaign(Duration::from_millis(50), Some(Duration::from_secs(5)))
        .await;
    assert!(matches!(
        waited,
        Err(ClientError::Election(ElectionError::Timeout))
    ));
    // The holder: one win and about five renewals. The waiter: one attempt
    // per 50 ms until it has seen two of the holder's writes (1 s), then
    // none; at its own term it would send about 95.
    let waiter_sets = store.layer.sets(POSITION) - 6;
    assert!(waiter_sets <= 30, "{waiter_sets} attempts by the waiter");
}

/// Finding 9: a leader learns at once that another process released its
/// hold (`elector resign --name a`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_by_another_process_ends_the_lease_at_once() {
    let store = faulty_store();
    let a = client(&shared(&store), "a").await;
    let a_log = record_events(&a);
    renew_every(&a, Duration::from_secs(30), Duration::from_secs(10)).await;
    a.try_campaign(Duration::from_secs(30)).await.unwrap();
    let operator = client(&shared(&store), "a").await;
    let released = Instant::now();
    assert!(
        operator
            .resign(ResignOptions::default())
            .await
            .unwrap()
            .success
    );
    let lost = recorded(&a_log, |e| {
        matches!(e, CandidateEvent::LeadershipLost(LostReason::Resigned))
    })
    .await;
    assert!(lost - released < Duration::from_secs(5));
    assert!(!a.is_leader());
}

/// Finding 9: the first renewal after a campaign shorter than the renewal
/// term comes within the campaign's term.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_renewal_after_a_short_campaign_comes_in_time() {
    let (_, store) = embedded();
    let a = client(&store, "a").await;
    let mut events = a.events();
    renew_every(&a, Duration::from_secs(60), Duration::from_secs(20)).await;
    a.campaign(Duration::from_secs(3), None).await.unwrap();
    let renewed = tokio::time::timeout(
        Duration::from_secs(2_700) / 1_000,
        next_matching(&mut events, |e| matches!(e, CandidateEvent::Renewed(_))),
    )
    .await;
    assert!(renewed.is_ok(), "no renewal before the 3 s lease ran out");
    assert!(a.is_leader());
}

/// Finding 9: dropping a campaign in the instant it wins gives the win
/// back instead of leading with nobody to act on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_win_nobody_waits_for_is_given_back() {
    let (store, a) =
        a_whose_sets_meet(Fault::SlowAnswer(Duration::from_millis(500)), POSITION).await;
    // The write lands at once; its answer comes after the caller gave up.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        a.campaign(Duration::from_secs(30), None),
    )
    .await;
    assert!(abandoned.is_err());
    store.layer.clear_fault();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(!a.is_leader());
    assert_eq!(
        store.inner.get(POSITION).await.unwrap(),
        None,
        "the abandoned win was resigned"
    );
}

/// Finding 9: the last known result stops saying "leader" once the lease
/// is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_known_result_follows_the_end_of_the_lease() {
    let (_, store) = embedded();
    let a = client(&store, "a").await;
    a.try_campaign(Duration::from_secs(1)).await.unwrap();
    assert!(a.last_known_campaign_result().unwrap().is_leader);
    a.resign(ResignOptions::default()).await.unwrap();
    assert!(!a.last_known_campaign_result().unwrap().is_leader);
    a.try_campaign(Duration::from_millis(200)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!a.last_known_campaign_result().unwrap().is_leader);
}
