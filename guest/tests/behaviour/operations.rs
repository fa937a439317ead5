use core::time::Duration;

use elector_guest::{
    CandidateOptions, Clock, ElectionError, Leader, LeadershipChange, NeverCancel, PositionState,
    RenewalOptions,
};
use elector_sim::drive_until;

use super::*;

fn create(sim: &Sim, options: CandidateOptions) -> Result<SimCandidate, ElectionError> {
    elector_guest::Candidate::new(options, sim.store(), sim.clock(), sim.event_log())
}

#[test]
fn bad_options_are_refused_with_typed_errors() {
    let sim = Sim::new();
    for (position, name) in [("", "a"), ("p", ""), ("p", "a:b")] {
        let error = create(&sim, options(position, name)).err().unwrap();
        assert!(
            matches!(error, ElectionError::InvalidArgument(_)),
            "{position:?} {name:?}"
        );
    }
    let mut with_empty_session = options("p", "a");
    with_empty_session.session_id = Some(String::new());
    assert!(matches!(
        create(&sim, with_empty_session).err().unwrap(),
        ElectionError::InvalidArgument(_)
    ));
}

#[test]
fn bad_terms_are_refused_before_touching_the_store() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    run(&sim, async move {
        for term in [0, elector_guest::timing::MAX_TERM_MS + 1] {
            assert!(matches!(
                a.try_campaign(term).await,
                Err(ElectionError::InvalidArgument(_))
            ));
            assert!(matches!(
                a.campaign(term, None, None::<&NeverCancel>).await,
                Err(ElectionError::InvalidArgument(_))
            ));
        }
        for (term_ms, period_ms) in [(1_000, 0), (1_000, 900), (1_000, 5_000), (0, 10)] {
            let renewal = Some(RenewalOptions { term_ms, period_ms });
            assert!(
                matches!(
                    a.set_automatic_renewal(renewal),
                    Err(ElectionError::InvalidArgument(_))
                ),
                "term {term_ms} period {period_ms}"
            );
        }
        assert!(
            a.current_leader().await.unwrap().is_none(),
            "nothing was written"
        );
    });
    assert!(log.events().is_empty());
}

#[test]
fn try_campaign_wins_a_free_position_and_loses_a_held_one() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("p", "a");
    let (mut b, log_b) = sim.candidate("p", "b");
    run(&sim, async move {
        let won = a.try_campaign(TERM_MS).await.unwrap();
        assert!(won.is_leader);
        assert_eq!(a.current_fencing_token(), won.fencing_token);
        let lost = b.try_campaign(TERM_MS).await.unwrap();
        assert!(!lost.is_leader);
        assert_eq!(lost.fencing_token, None);
        assert!(!b.is_leader());
        assert_eq!(b.last_known_campaign_result(), Some(lost));
        assert_eq!(a.candidate_name(), "a");
    });
    assert_eq!(transitions(&log_b), Vec::<&str>::new());
}

#[test]
fn resign_releases_only_a_held_position() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    let (mut b, _) = sim.candidate("p", "b");
    run(&sim, async move {
        assert!(
            !a.resign(false).await.unwrap().success,
            "not leader: no error"
        );
        a.try_campaign(TERM_MS).await.unwrap();
        assert!(
            !b.resign(false).await.unwrap().success,
            "b cannot release a's hold"
        );
        assert_eq!(b.current_leader().await.unwrap().unwrap().name, "a");
        assert!(a.resign(false).await.unwrap().success);
        assert!(!a.is_leader());
        assert_eq!(a.current_fencing_token(), None);
        assert!(b.current_leader().await.unwrap().is_none());
    });
    assert_eq!(transitions(&log), ["elected", "lost:resigned"]);
}

#[test]
fn current_leader_reports_name_and_session() {
    let sim = Sim::new();
    let mut with_session = options("p", "node-1");
    with_session.session_id = Some("42".into());
    let mut a = create(&sim, with_session).unwrap();
    let (mut b, _) = sim.candidate("p", "b");
    run(&sim, async move {
        assert_eq!(b.current_leader().await.unwrap(), None);
        a.try_campaign(TERM_MS).await.unwrap();
        assert_eq!(
            b.current_leader().await.unwrap(),
            Some(Leader {
                name: "node-1".into(),
                session_id: Some("42".into()),
            })
        );
    });
}

#[test]
fn a_session_id_keeps_two_holders_of_one_name_apart() {
    let sim = Sim::new();
    let mut first = options("p", "node");
    first.session_id = Some("1".into());
    let mut second = options("p", "node");
    second.session_id = Some("2".into());
    let mut a = create(&sim, first).unwrap();
    let mut b = create(&sim, second).unwrap();
    run(&sim, async move {
        assert!(a.try_campaign(TERM_MS).await.unwrap().is_leader);
        assert!(!b.try_campaign(TERM_MS).await.unwrap().is_leader);
        assert!(!b.resign(false).await.unwrap().success);
    });
}

fn changes(log: &EventLog) -> Vec<(PositionState, Option<String>)> {
    log.events()
        .into_iter()
        .filter_map(|event| match event {
            CandidateEvent::LeadershipChanged(LeadershipChange {
                new_state,
                new_leader,
                ..
            }) => Some((new_state, new_leader.map(|l| l.name))),
            _ => None,
        })
        .collect()
}

#[test]
fn observe_yields_the_exact_sequence_of_changes_without_renewals() {
    let sim = Sim::new();
    let (mut observer, log) = sim.candidate("p", "observer");
    let (mut a, _) = sim.candidate("p", "a");
    let (mut b, _) = sim.candidate("p", "b");
    let until = Duration::from_secs(5);
    let tasks = vec![
        task({
            let sim = sim.clone();
            async move {
                assert_eq!(observer.observe().await.unwrap(), None);
                drive_until(&mut observer, &sim, until).await;
                observer.unobserve();
                assert_eq!(sim.watch_count(), 0, "unobserve drops the watch");
            }
        }),
        task({
            let sim = sim.clone();
            async move {
                sim.sleep(Duration::from_millis(10)).await;
                a.try_campaign(TERM_MS).await.unwrap();
                sim.sleep(Duration::from_millis(100)).await;
                a.try_campaign(TERM_MS).await.unwrap(); // a renewal: no change
                sim.sleep(Duration::from_millis(100)).await;
                a.resign(false).await.unwrap();
                sim.sleep(Duration::from_millis(100)).await;
                b.try_campaign(TERM_MS).await.unwrap(); // then expires at 1.31 s
            }
        }),
    ];
    sim.run(tasks, LIMIT);
    use PositionState::*;
    assert_eq!(
        changes(&log),
        vec![
            (LeaderElected, Some("a".into())),
            (NoLeader, None),
            (LeaderElected, Some("b".into())),
            (NoLeader, None),
        ]
    );
}

#[test]
fn an_observer_that_campaigns_sees_its_own_election_once() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    run(&sim, async move {
        a.observe().await.unwrap();
        a.campaign(TERM_MS, None, None::<&NeverCancel>)
            .await
            .unwrap();
        a.tick().await;
        a.resign(false).await.unwrap();
        a.tick().await;
    });
    use PositionState::*;
    assert_eq!(
        changes(&log),
        vec![(LeaderElected, Some("a".into())), (NoLeader, None)]
    );
}

#[test]
fn a_lease_ends_locally_before_the_store_expires_it_even_when_unreachable() {
    let sim = Sim::new();
    let (mut a, log) = sim.candidate("p", "a");
    let lost_at = shared(None);
    run(&sim, {
        let sim = sim.clone();
        let lost_at = lost_at.clone();
        async move {
            a.try_campaign(TERM_MS).await.unwrap();
            sim.set_store_reachable(false);
            let next = a.tick().await.expect("the lease end is a deadline");
            sim.clock().sleep_until(next).await;
            assert!(!a.is_leader(), "no store needed to know the lease is over");
            a.tick().await;
            *lost_at.borrow_mut() = Some(sim.elapsed());
        }
    });
    // term 1000 ms - margin 100 ms.
    assert_eq!(lost_at.borrow().unwrap(), Duration::from_millis(900));
    assert_eq!(transitions(&log), ["elected", "lost:expired"]);
}

#[test]
fn store_failures_surface_as_typed_errors() {
    let sim = Sim::new();
    let (mut a, _) = sim.candidate("p", "a");
    sim.set_store_reachable(false);
    run(&sim, async move {
        assert!(matches!(
            a.try_campaign(TERM_MS).await,
            Err(ElectionError::Store(
                elector_guest::StoreError::Disconnected
            ))
        ));
        assert!(matches!(
            a.current_leader().await,
            Err(ElectionError::Store(_))
        ));
        assert!(matches!(
            a.resign(false).await,
            Err(ElectionError::Store(_))
        ));
        assert!(matches!(a.observe().await, Err(ElectionError::Store(_))));
    });
}

#[test]
fn a_blocked_campaign_rides_out_a_store_outage() {
    let sim = Sim::new();
    let (a, _) = sim.candidate("p", "a");
    sim.set_store_reachable(false);
    let (a_campaigns, elected_at) = campaign_until_elected(&sim, a, TERM_MS);
    let tasks = vec![
        a_campaigns,
        after(&sim, Duration::from_secs(3), |sim| {
            sim.set_store_reachable(true)
        }),
    ];
    sim.run(tasks, LIMIT);
    let at = elected_at.borrow().unwrap();
    assert!(
        at >= Duration::from_secs(3) && at <= Duration::from_secs(5),
        "{at:?}"
    );
}
