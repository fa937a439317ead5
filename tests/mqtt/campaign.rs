//! `elector campaign` as an operator runs it, against mosquitto and
//! `elector statestore`: one leader per position whatever the names, renewal
//! by default, the documented exit codes, a bounded shutdown, and a loss
//! reported at the lease's end even when the store hangs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::*;

/// `elector campaign ARGS --json --broker URL`.
pub fn campaign(broker: &Broker, label: &str, args: &[&str]) -> Elector {
    let url = broker.url();
    let mut all = vec!["campaign"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "--broker", &url]);
    Elector::spawn(label, &all)
}

/// Which of `candidates` prints `elected` first, within `wait`.
fn first_elected(candidates: &[&Elector], wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    loop {
        for (index, candidate) in candidates.iter().enumerate() {
            if candidate.sees("elected", Duration::from_millis(20)) {
                return index;
            }
        }
        assert!(Instant::now() < deadline, "nobody elected within {wait:?}");
    }
}

fn leader_lock_value(broker: &Broker, position: &str) -> Option<String> {
    let (status, lines) = run_elector(&["leader", position, "--broker", &broker.url()]);
    assert!(status.success());
    lines[0]["leader"]["lock_value"].as_str().map(str::to_owned)
}

fn unix_ms(at: SystemTime) -> i64 {
    i64::try_from(at.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

#[test]
fn two_processes_with_one_name_never_both_lead() {
    let (broker, _service) = broker_with_service();
    let args = ["job", "--name", "b", "--term", "1s"];
    let first = campaign(&broker, "b (first)", &args);
    let second = campaign(&broker, "b (second)", &args);
    let candidates = [&first, &second];
    let leader = first_elected(&candidates, PATIENCE);
    let waiter = candidates[1 - leader];
    // Two terms: with the bare name as the lock value, NEX let the second
    // process "renew" the first one's hold and both said `elected b`.
    assert!(
        !waiter.sees("elected", Duration::from_secs(2)),
        "both processes named b lead"
    );
    let held = leader_lock_value(&broker, "job").expect("someone leads");
    assert!(held.starts_with("b:"), "{held}");

    // The other one takes over when the leader resigns, under its own
    // lock value.
    candidates[leader].terminate();
    let elected = waiter.expect("elected", PATIENCE);
    let taken = elected["leader"]["lock_value"].as_str().unwrap();
    assert!(
        taken.starts_with("b:") && taken != held,
        "{taken} after {held}"
    );
}

#[test]
fn a_pinned_session_id_takes_back_its_own_hold_after_a_restart() {
    let (broker, _service) = broker_with_service();
    let pinned = ["job", "--name", "a", "--session-id", "s1", "--term", "30s"];
    let mut before = campaign(&broker, "a (before)", &pinned);
    before.expect("elected", PATIENCE);
    before.kill(); // kill -9: the hold stays for its 30 s term
    let restarted_at = Instant::now();
    let after = campaign(&broker, "a (after)", &pinned);
    let elected = after.expect("elected", PATIENCE);
    assert!(
        restarted_at.elapsed() < Duration::from_secs(10),
        "the restart waited out the term: {:?}",
        restarted_at.elapsed()
    );
    assert_eq!(elected["leader"]["lock_value"], "a:s1");
    // Without the pin, the same name is another holder and waits.
    let other = campaign(&broker, "a (unpinned)", &["job", "--name", "a"]);
    assert!(!other.sees("elected", Duration::from_secs(1)));
}

#[test]
fn campaign_renews_by_default_and_no_renew_holds_one_term() {
    let (broker, _service) = broker_with_service();
    let mut renewing = campaign(&broker, "renewing", &["job", "--name", "a", "--term", "1s"]);
    renewing.expect("elected", PATIENCE);
    // Three terms later it still leads, having renewed all along.
    let mut renewals = 0;
    let until = Instant::now() + Duration::from_secs(3);
    while let Some(read) = renewing.next_read(until.saturating_duration_since(Instant::now())) {
        let line: Value = serde_json::from_str(&read.text).unwrap();
        assert_ne!(line["event"], "lost", "lost without --no-renew: {line}");
        renewals += usize::from(line["event"] == "renewed");
    }
    assert!(renewals >= 6, "{renewals} renewals in 3 s");
    assert!(renewing.wait_within(Duration::ZERO).is_none());

    let mut once = campaign(
        &broker,
        "once",
        &["other", "--name", "a", "--term", "500ms", "--no-renew"],
    );
    let (elected, _) = once.expect_read("elected", PATIENCE);
    let (lost, lost_at) = once.expect_read("lost", PATIENCE);
    assert_eq!(lost["detail"], "lease expired");
    let lease_end = elected["lease_until_ms"].as_i64().unwrap();
    assert!(
        unix_ms(lost_at) >= lease_end - 5,
        "{lost} before {lease_end}"
    );
    assert_eq!(once.wait().code(), Some(3), "elected, then lost");
}

#[test]
fn not_elected_within_the_timeout_or_before_a_signal_are_told_apart() {
    let (broker, _service) = broker_with_service();
    let holder = campaign(&broker, "holder", &["job", "--name", "a"]);
    holder.expect("elected", PATIENCE);

    let mut impatient = campaign(
        &broker,
        "impatient",
        &["job", "--name", "b", "--timeout", "300ms"],
    );
    let line = impatient.expect("not-elected", PATIENCE);
    assert_eq!(line["detail"], "not elected within 300ms");
    assert_eq!(impatient.wait().code(), Some(4));

    let mut stopped = campaign(&broker, "stopped", &["job", "--name", "c"]);
    std::thread::sleep(Duration::from_millis(500));
    stopped.terminate();
    let line = stopped.expect("not-elected", PATIENCE);
    assert_eq!(line["detail"], "stopped by a signal before being elected");
    assert_eq!(stopped.wait().code(), Some(5));
    // Neither left a hold behind: the holder still leads.
    assert!(leader_lock_value(&broker, "job").unwrap().starts_with("a:"));
}

/// The store hangs (its process stopped): renewals get no answer, and the
/// loss is reported at the lease's local end, not when a request times out.
#[test]
fn a_hung_store_costs_the_lease_at_its_end_exactly() {
    let (broker, service) = broker_with_service();
    let mut leader = campaign(
        &broker,
        "leader",
        &[
            "job",
            "--name",
            "a",
            "--term",
            "2s",
            "--request-timeout",
            "300ms",
        ],
    );
    leader.expect("elected", PATIENCE);
    let renewed = leader.expect("renewed", PATIENCE);
    service.freeze();
    let mut lease_until = renewed["lease_until_ms"].as_i64();
    let mut renewal_failures = Vec::new();
    let (lost, lost_at) = loop {
        let read = leader
            .next_read(PATIENCE)
            .expect("the leader says something within its term");
        let line: Value = serde_json::from_str(&read.text).unwrap();
        match line["event"].as_str().unwrap() {
            "elected" | "renewed" => lease_until = line["lease_until_ms"].as_i64(),
            "renewal-failed" => renewal_failures.push(line["detail"].clone()),
            "lost" => break (line, read.at),
            other => panic!("unexpected {other}: {line}"),
        }
    };
    let lease_until = lease_until.expect("every lease line says when it ends");
    let late = unix_ms(lost_at) - lease_until;
    eprintln!("lost {late} ms after the local lease end");
    // Before the mirror's timer it came when the renewal timed out (3.3 s
    // after the last renewal with the default request timeout).
    assert!(
        (-5..=50).contains(&late),
        "lost {late} ms after the lease end"
    );
    assert_eq!(lost["detail"], "lease expired");
    // What a renewal that got no answer says: words, not Debug text.
    assert!(!renewal_failures.is_empty());
    for detail in renewal_failures {
        assert_eq!(detail, "the state store did not answer in time");
    }
    assert_eq!(
        leader.wait_within(Duration::from_secs(2)).map(|s| s.code()),
        Some(Some(3))
    );
    service.thaw();
}

/// `a`, elected to `job` for 20 s, once its store has stopped answering.
fn leader_of_a_frozen_store(broker: &Broker, service: &Service) -> Elector {
    let leader = campaign(broker, "leader", &["job", "--name", "a", "--term", "20s"]);
    leader.expect("elected", PATIENCE);
    service.freeze();
    leader
}

#[test]
fn a_resignation_at_shutdown_waits_two_seconds_at_most() {
    let (broker, service) = broker_with_service();
    let mut leader = leader_of_a_frozen_store(&broker, &service);
    let signalled = Instant::now();
    leader.signal("INT");
    let error = leader.expect("error", PATIENCE);
    let status = leader.wait();
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_millis(3500),
        "shutdown took {took:?} (the request timeout is 5 s)"
    );
    assert_eq!(status.code(), Some(1), "the hold was not given back");
    assert_eq!(
        error["detail"],
        "could not resign job: no answer within 2s; the hold ends by itself at the end of \
         its term"
    );
    service.thaw();
}

#[test]
fn a_second_signal_stops_at_once() {
    let (broker, service) = broker_with_service();
    let mut leader = leader_of_a_frozen_store(&broker, &service);
    leader.signal("INT");
    std::thread::sleep(Duration::from_millis(200));
    let second = Instant::now();
    leader.signal("INT");
    let status = leader
        .wait_within(Duration::from_millis(500))
        .expect("exits at once after a second Ctrl-C");
    eprintln!("exited {:?} after the second signal", second.elapsed());
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    let error = leader.expect("error", PATIENCE);
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .starts_with("stopped at once by a second signal"),
        "{error}"
    );
    service.thaw();
}

/// `--json` covers failures too: a script reading JSON lines learns why.
#[test]
fn failures_are_one_json_line_or_one_line_of_words() {
    let broker = Broker::start(); // no state-store service: nothing answers
    let url = broker.url();
    let args = ["get", "k", "--request-timeout", "300ms", "--broker", &url];
    let (status, lines) = run_elector(&args);
    assert_eq!(status.code(), Some(1));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["event"], "error");
    let port = broker.port;
    let expected = format!(
        "the broker at 127.0.0.1:{port} answered, but no state store did within 300ms: run \
         `elector statestore` against this broker, or point elector at an AIO broker (its state \
         store is built in)"
    );
    assert_eq!(lines[0]["detail"], expected.as_str());

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(args)
        .env("RUST_LOG", "off")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("error: {expected}\n")
    );
}

/// `campaign --metrics-addr`: the same metrics, health and readiness as
/// `elector run`, for the one candidate.
#[test]
fn campaign_serves_metrics_health_and_readiness() {
    use std::io::{BufRead as _, BufReader};
    let (broker, _service) = broker_with_service();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["campaign", "job", "--name", "m", "--session-id", "s1"])
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--json",
            "--broker",
            &broker.url(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let address = announced_metrics_address(&mut stderr);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut elected = String::new();
    stdout.read_line(&mut elected).unwrap();
    assert!(elected.contains("\"elected\""), "{elected}");
    let get = |path: &str| http_get(&address, path);
    let metrics = get("/metrics");
    assert!(
        metrics.contains(r#"elector_leader{position="job",replica="m:s1"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("elector_build_info"), "{metrics}");
    assert!(get("/healthz").starts_with("HTTP/1.1 200"));
    assert!(get("/readyz").starts_with("HTTP/1.1 200"));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}
