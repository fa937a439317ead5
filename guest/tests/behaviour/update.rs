use core::time::Duration;

use elector_guest::{
    ElectionError, FencingRefusal, NeverCancel, SetCondition, SetOptions, StateStore, StoreError,
    StoreErrorKind,
};
use elector_sim::SimCancel;

use super::*;

fn increment(current: Option<&[u8]>) -> Option<Vec<u8>> {
    let value: u64 = current.map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
    Some((value + 1).to_string().into_bytes())
}

fn read(sim: &Sim, key: &[u8]) -> Option<Vec<u8>> {
    now(sim.store().get(key)).unwrap().map(|v| v.value)
}

#[test]
fn five_candidates_each_updating_fifty_times_count_to_exactly_250() {
    let sim = Sim::new();
    let mut tasks = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        let (mut candidate, _) = sim.candidate("lock", name);
        let sim = sim.clone();
        tasks.push(task(async move {
            for _ in 0..50 {
                candidate
                    .campaign_and_update_value(
                        b"counter",
                        &mut increment,
                        TERM_MS,
                        None,
                        None::<&NeverCancel>,
                    )
                    .await
                    .unwrap();
                assert!(!candidate.is_leader(), "always resigns");
                sim.sleep(Duration::from_millis(1)).await;
            }
        }));
    }
    sim.run(tasks, LIMIT);
    assert_eq!(read(&sim, b"counter").unwrap(), b"250");
    assert_eq!(read(&sim, b"lock"), None, "the lock is released");
    assert_eq!(sim.watch_count(), 0);
}

#[test]
fn none_from_the_updater_deletes_the_key_and_none_on_absent_is_a_no_op() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("lock", "a");
    let calls = shared(Vec::new());
    run(&sim, {
        let calls = calls.clone();
        async move {
            let mut create = |current: Option<&[u8]>| {
                calls.borrow_mut().push(current.map(<[u8]>::to_vec));
                Some(b"v1".to_vec())
            };
            a.campaign_and_update_value(b"k", &mut create, TERM_MS, None, None::<&NeverCancel>)
                .await
                .unwrap();
            let mut delete = |_: Option<&[u8]>| None;
            a.campaign_and_update_value(b"k", &mut delete, TERM_MS, None, None::<&NeverCancel>)
                .await
                .unwrap();
            a.campaign_and_update_value(b"k", &mut delete, TERM_MS, None, None::<&NeverCancel>)
                .await
                .unwrap();
        }
    });
    assert_eq!(
        *calls.borrow(),
        vec![None],
        "called once, with the absent value"
    );
    assert_eq!(read(&sim, b"k"), None);
}

#[test]
fn a_stale_fencing_token_is_refused() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("lock", "a");
    let (mut b, _) = sim.candidate("lock", "b");
    run(&sim, {
        let sim = sim.clone();
        async move {
            let old = a.try_campaign(100).await.unwrap().fencing_token.unwrap();
            sim.sleep(Duration::from_millis(150)).await; // a's term ends
            let new = b
                .try_campaign(TERM_MS)
                .await
                .unwrap()
                .fencing_token
                .unwrap();
            let fenced = |token| SetOptions {
                condition: SetCondition::Unconditional,
                expiry_ms: None,
                fencing_token: Some(token),
            };
            let store = sim.store();
            assert!(
                store
                    .set(b"shared", b"from-b", &fenced(new))
                    .await
                    .unwrap()
                    .applied
            );
            assert_eq!(
                store.set(b"shared", b"from-a", &fenced(old.clone())).await,
                Err(StoreError::Refused(
                    StoreErrorKind::FencingTokenLowerVersion
                ))
            );
            assert_eq!(
                ElectionError::from(store.del(b"shared", Some(&old)).await.unwrap_err()),
                ElectionError::FencingRefused(FencingRefusal::LowerVersion)
            );
        }
    });
    assert_eq!(read(&sim, b"shared").unwrap(), b"from-b");
}

#[test]
fn a_late_write_from_an_old_leader_is_not_lost_under_the_new_one() {
    let sim = Sim::new();
    let (mut old, _) = sim.candidate("lock", "old");
    let (mut new, _) = sim.candidate("lock", "new");
    run(&sim, {
        let sim = sim.clone();
        async move {
            now(sim.store().set(
                b"counter",
                b"5",
                &SetOptions {
                    condition: SetCondition::Unconditional,
                    expiry_ms: None,
                    fencing_token: None,
                },
            ))
            .unwrap();
            let stale = old.try_campaign(100).await.unwrap().fencing_token.unwrap();
            sim.sleep(Duration::from_millis(150)).await;
            let store = sim.store();
            let mut fired = false;
            // Between the new leader's read and its write, the old leader's
            // delayed increment lands with its (older) token.
            let mut increment_with_interference = |current: Option<&[u8]>| {
                if !fired {
                    fired = true;
                    let late = SetOptions {
                        condition: SetCondition::Unconditional,
                        expiry_ms: None,
                        fencing_token: Some(stale.clone()),
                    };
                    assert!(now(store.set(b"counter", b"6", &late)).unwrap().applied);
                }
                increment(current)
            };
            new.campaign_and_update_value(
                b"counter",
                &mut increment_with_interference,
                TERM_MS,
                None,
                None::<&NeverCancel>,
            )
            .await
            .unwrap();
        }
    });
    assert_eq!(
        read(&sim, b"counter").unwrap(),
        b"7",
        "both increments count"
    );
}

#[test]
fn a_cancelled_update_writes_nothing_and_holds_nothing() {
    let sim = Sim::new();
    let (mut holder, _) = sim.candidate("lock", "holder");
    let (mut a, _) = sim.candidate("lock", "a");
    let cancel = SimCancel::default();
    let outcome = shared(None);
    let tasks = vec![
        task(async move {
            holder.try_campaign(60_000).await.unwrap();
        }),
        task({
            let cancel = cancel.clone();
            let outcome = outcome.clone();
            async move {
                let result = a
                    .campaign_and_update_value(b"k", &mut increment, TERM_MS, None, Some(&cancel))
                    .await;
                *outcome.borrow_mut() = Some(result);
            }
        }),
        after(&sim, Duration::from_millis(50), move |_| cancel.cancel()),
    ];
    sim.run(tasks, LIMIT);
    assert_eq!(
        outcome.borrow().clone().unwrap(),
        Err(ElectionError::Cancelled)
    );
    assert_eq!(read(&sim, b"k"), None);
    assert_eq!(sim.watch_count(), 0);
}

#[test]
fn bad_update_arguments_are_refused() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("lock", "a");
    run(&sim, async move {
        for (key, term) in [(&b""[..], TERM_MS), (&b"k"[..], 0)] {
            assert!(matches!(
                a.campaign_and_update_value(key, &mut increment, term, None, None::<&NeverCancel>)
                    .await,
                Err(ElectionError::InvalidArgument(_))
            ));
        }
    });
}
