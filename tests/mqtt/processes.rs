//! Elections across OS processes over mosquitto.

use std::time::{Duration, Instant};

use crate::support::*;

const WITHOUT_RELEASE: [&str; 2] = ["--release-on-disconnect", "off"];

/// Which of `candidates` prints `elected` first, within `wait`.
fn first_elected(candidates: &[Elector], wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    loop {
        for (index, candidate) in candidates.iter().enumerate() {
            if candidate.sees("elected", Duration::from_millis(20)) {
                return index;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nobody was elected within {wait:?}"
        );
    }
}

#[test]
fn three_processes_elect_one_leader_and_fail_over_when_it_resigns() {
    let (broker, _service) = broker_with_service();
    let candidates: Vec<Elector> = ["a", "b", "c"]
        .iter()
        .map(|name| Elector::campaign(&broker, "job", name, "3s"))
        .collect();
    let first = first_elected(&candidates, PATIENCE);
    // Nobody else is elected while the leader renews.
    for (index, candidate) in candidates.iter().enumerate() {
        if index != first {
            assert!(
                !candidate.sees("elected", Duration::from_millis(1500)),
                "{} also elected",
                candidate.label
            );
        }
    }
    assert_eq!(
        leader_of(&broker, "job").as_deref(),
        Some(candidates[first].label.as_str())
    );

    // SIGTERM: the leader resigns on its way out; another takes over at once.
    let resigned_at = Instant::now();
    candidates[first].terminate();
    candidates[first].expect("resigned", PATIENCE);
    let rest: Vec<&Elector> = candidates
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != first)
        .map(|(_, c)| c)
        .collect();
    let second = loop {
        if let Some(c) = rest
            .iter()
            .find(|c| c.sees("elected", Duration::from_millis(10)))
        {
            break c;
        }
        assert!(resigned_at.elapsed() < PATIENCE);
    };
    let took = resigned_at.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "failover after resign took {took:?}, not a term"
    );
    assert_eq!(
        leader_of(&broker, "job").as_deref(),
        Some(second.label.as_str())
    );
}

#[test]
fn a_killed_leader_is_replaced_after_its_term() {
    let (broker, _service) = broker_with_service();
    // Without release on disconnect (with it, a Will frees the position
    // about a second after the kill: `release.rs`).
    let mut candidates: Vec<Elector> = ["a", "b"]
        .iter()
        .map(|name| Elector::campaign_with(&broker, "job", name, "2s", &WITHOUT_RELEASE))
        .collect();
    let first = first_elected(&candidates, PATIENCE);
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = Instant::now();
    candidates[first].kill(); // kill -9: no resignation, the lease must expire
    let other = &candidates[1 - first];
    other.expect("elected", PATIENCE);
    let took = killed_at.elapsed();
    // Renewals every 2/3 s, so the key was written at most 0.67 s before
    // the kill and expires 2 s after that write.
    assert!(
        took >= Duration::from_millis(1300),
        "not before the term ends: {took:?}"
    );
    assert!(
        took <= Duration::from_millis(2000 + 1500),
        "soon after it ends: {took:?}"
    );
    assert_eq!(
        leader_of(&broker, "job").as_deref(),
        Some(other.label.as_str())
    );
}

#[test]
fn exactly_one_leader_after_a_broker_restart_and_watches_still_work() {
    let mut broker = Broker::start();
    let _service = Service::start(&broker);
    // Without release on disconnect: a broker restart is then a blip the
    // leader rides out (with it, the leader steps down: `release.rs`).
    let candidate =
        |name: &str| Elector::campaign_with(&broker, "job", name, "4s", &WITHOUT_RELEASE);
    let a = candidate("a");
    a.expect("elected", PATIENCE);
    let b = candidate("b");
    std::thread::sleep(Duration::from_millis(500));

    broker.restart(Duration::from_millis(300));

    // a keeps its position through the restart (its lease outlives the
    // outage) and renews again; b waits; one leader, as the store says.
    a.expect("renewed", PATIENCE);
    assert!(!b.sees("elected", Duration::from_millis(500)));
    assert_eq!(leader_of(&broker, "job").as_deref(), Some("a"));
    // b's watch was registered again after the reconnect: when a resigns, b
    // hears it at once instead of waiting out the term.
    let resigned_at = Instant::now();
    a.terminate();
    a.expect("resigned", PATIENCE);
    b.expect("elected", PATIENCE);
    assert!(
        resigned_at.elapsed() < Duration::from_secs(3),
        "took {:?}",
        resigned_at.elapsed()
    );
    assert_eq!(leader_of(&broker, "job").as_deref(), Some("b"));
}

#[test]
fn resign_and_leader_commands_work_from_other_processes() {
    let (broker, _service) = broker_with_service();
    let url = broker.url();
    assert_eq!(leader_of(&broker, "job"), None);
    let mut a = Elector::spawn(
        "a",
        &[
            "campaign", "job", "--name", "a", "--term", "3s", "--json", "--broker", &url,
        ],
    );
    a.expect("elected", PATIENCE);
    let (status, lines) = run_elector(&["get", "job", "--broker", &url]);
    assert!(status.success());
    let lock_value = lines[0]["value"].as_str().unwrap().to_owned();
    let session = lock_value
        .strip_prefix("a:")
        .unwrap_or_else(|| panic!("the lock value is name:session, not {lock_value:?}"));
    assert!(!session.is_empty());
    let (status, lines) = run_elector(&["get", "nothing-here", "--broker", &url]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(lines[0]["event"], "absent");
    let (status, lines) =
        run_elector(&["resign", "job", "--name", "someone-else", "--broker", &url]);
    assert_eq!(status.code(), Some(1), "not held under that name");
    assert_eq!(lines[0]["event"], "not-leader");
    // --session-id narrows the release to one holder.
    let (status, lines) = run_elector(&[
        "resign",
        "job",
        "--name",
        "a",
        "--session-id",
        "another-process",
        "--broker",
        &url,
    ]);
    assert_eq!(status.code(), Some(1), "held under another session id");
    assert_eq!(lines[0]["event"], "not-leader");
    assert_eq!(lines[0]["leader"]["lock_value"], lock_value.as_str());
    // The name alone finds the hold whatever its session id.
    let (status, lines) = run_elector(&["resign", "job", "--name", "a", "--broker", &url]);
    assert!(status.success());
    assert_eq!(lines[0]["event"], "resigned");
    assert_eq!(lines[0]["leader"]["session_id"], session);
    assert_eq!(leader_of(&broker, "job"), None);
    // a's watch sees the release: it has lost the position, and says so.
    assert_eq!(a.expect("lost", PATIENCE)["detail"], "resigned");
    assert_eq!(a.wait().code(), Some(3));
}

#[test]
fn observe_streams_every_change_across_processes() {
    let (broker, _service) = broker_with_service();
    let url = broker.url();
    let observer = Elector::spawn("observer", &["observe", "job", "--json", "--broker", &url]);
    assert_eq!(observer.expect("no-leader", PATIENCE)["position"], "job");
    let a = Elector::campaign(&broker, "job", "a", "3s");
    assert_eq!(observer.expect("leader", PATIENCE)["leader"]["name"], "a");
    a.terminate();
    observer.expect("no-leader", PATIENCE);
    let b = Elector::campaign(&broker, "job", "b", "3s");
    assert_eq!(observer.expect("leader", PATIENCE)["leader"]["name"], "b");
    drop(b);
}
