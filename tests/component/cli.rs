//! The `elector` binary, run as a user would.

use std::process::Command;

fn elector(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(args)
        .output()
        .expect("elector runs")
}

#[test]
fn the_demo_shows_both_failovers_and_ends_by_itself() {
    let output = elector(&["demo", "--candidates", "3", "--term", "200ms", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    // Follow leadership as the events tell it. On a loaded machine a leader
    // may miss a renewal and win its position back; that is allowed, but
    // each candidate's own events must alternate between elected and lost,
    // and the script's hand-overs must all be there. (Candidates report on
    // their own tasks, so two candidates' lines may swap by a moment.)
    let mut leading = std::collections::HashMap::<String, bool>::new();
    let mut hand_overs: Vec<String> = Vec::new();
    let mut losses = Vec::new();
    let mut tokens = Vec::new();
    for line in &lines {
        let Some(who) = line["candidate"].as_str().map(str::to_owned) else {
            continue;
        };
        let leads = leading.entry(who.clone()).or_default();
        match line["event"].as_str().unwrap() {
            "elected" => {
                assert!(
                    !*leads,
                    "{who} elected twice with no loss between: {lines:#?}"
                );
                *leads = true;
                if hand_overs.last() != Some(&who) {
                    hand_overs.push(who);
                }
                tokens.push(line["fencing_token"].as_str().unwrap().to_owned());
            }
            "lost" => {
                assert!(*leads, "{who} lost what it did not hold: {lines:#?}");
                *leads = false;
                losses.push((who, line["detail"].as_str().unwrap().to_owned()));
            }
            _ => {}
        }
    }
    assert_eq!(
        hand_overs.len(),
        3,
        "first leader, after resign, after expiry: {hand_overs:?}"
    );
    let lost_by = |who: &str, why: &str| {
        losses
            .iter()
            .any(|(name, detail)| name == who && detail.contains(why))
    };
    assert!(lost_by(&hand_overs[0], "resigned"), "{losses:?}");
    assert!(lost_by(&hand_overs[1], "expired"), "{losses:?}");
    let renewals = lines.iter().filter(|l| l["event"] == "renewed").count();
    assert!(renewals >= 6, "{renewals} renewals");
    assert_eq!(lines.last().unwrap()["event"], "summary");
    // Every election holds a newer fencing token than the one before.
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
}

#[test]
fn a_reader_that_stops_reading_does_not_crash_the_demo() {
    use std::io::BufRead as _;
    // `elector demo --json | head -1`: the reader goes away after a line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["demo", "--candidates", "2", "--term", "200ms", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("elector runs");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with('{'), "a JSON line first: {first}");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_demo_arguments_are_refused_with_a_message() {
    for args in [
        &["demo", "--candidates", "1"][..],
        &["demo", "--term", "0s"],
        &["demo", "--term", "200"],
    ] {
        let output = elector(args);
        assert!(!output.status.success());
        assert!(!output.stderr.is_empty());
    }
}

#[test]
fn help_explains_each_command() {
    let output = elector(&["--help"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("demo"));
}

/// `elector ARGS` with no AIO variables in its environment, stopped if it
/// is still running after `wait` (then `None`).
fn elector_within(args: &[&str], wait: std::time::Duration) -> Option<std::process::Output> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_elector"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("AIO_") {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().expect("elector runs");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > wait {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Some(child.wait_with_output().unwrap())
}

const FENCED_LOG: &str = env!("ELECTOR_COMPONENT_ELECTOR_EXAMPLE_FENCED_LOG");

/// A Deployment whose AIO variables went missing must not run every
/// replica as leader on a store of its own.
#[test]
fn commands_that_use_a_store_refuse_to_start_without_one() {
    let wait = std::time::Duration::from_secs(10);
    for args in [
        &["campaign", "job", "--name", "a"][..],
        &["leader", "job"],
        &["observe", "job"],
        &["resign", "job", "--name", "a"],
        &["get", "job"],
        &["run", FENCED_LOG, "--position", "job"],
    ] {
        let output =
            elector_within(args, wait).unwrap_or_else(|| panic!("{args:?} ran without a store"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        for way in ["--broker", "AIO_BROKER_HOSTNAME", "--embedded"] {
            assert!(stderr.contains(way), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn embedded_is_there_to_try_things_out() {
    let wait = std::time::Duration::from_secs(30);
    let output = elector_within(&["leader", "job", "--embedded", "--json"], wait).unwrap();
    assert!(output.status.success());
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["event"], "no-leader");
    // Naming a broker as well is a mistake, not a choice.
    let output = elector_within(
        &["get", "k", "--embedded", "--broker", "mqtt://127.0.0.1:1"],
        wait,
    )
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--embedded and a broker"));

    // A campaign on it is elected at once, and resigns on SIGTERM.
    use std::io::BufRead as _;
    let mut campaign = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["campaign", "job", "--name", "a", "--embedded", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(campaign.stdout.take().unwrap()).lines();
    let mut next =
        || -> serde_json::Value { serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap() };
    assert_eq!(next()["event"], "elected");
    let status = Command::new("kill")
        .args(["-TERM", &campaign.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let resigned = loop {
        let line = next();
        if line["event"] != "renewed" {
            break line;
        }
    };
    assert_eq!(resigned["event"], "resigned", "{resigned}");
    assert_eq!(campaign.wait().unwrap().code(), Some(0));
}

/// Wrong arguments are refused before anything connects: the broker here
/// is an address nobody answers at, so connecting first would hang.
#[test]
fn arguments_are_checked_before_connecting() {
    let unreachable = "mqtt://10.255.255.1:1883";
    let wait = std::time::Duration::from_secs(3);
    for (args, complaint) in [
        (&["campaign", "job", "--name", ""][..], "--name"),
        (&["campaign", "job", "--name", "a:b"], "--name"),
        (
            &["campaign", "job", "--name", "a", "--term", "0s"],
            "--term",
        ),
        (&["campaign", "job", "--name", "a", "--term", "5"], "--term"),
        (
            &["campaign", "job", "--name", "a", "--session-id", ""],
            "--session-id",
        ),
        (&["campaign", "", "--name", "a"], "POSITION"),
        (&["resign", "job", "--name", ""], "--name"),
        (
            &["run", FENCED_LOG, "--position", "job", "--term", "0s"],
            "--term",
        ),
    ] {
        let args: Vec<&str> = args
            .iter()
            .copied()
            .chain(["--broker", unreachable])
            .collect();
        let output = elector_within(&args, wait)
            .unwrap_or_else(|| panic!("{args:?} tried to connect first"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(complaint), "{args:?}: {stderr}");
    }
    // With --json, the refusal is a JSON line on stdout.
    let output = elector_within(
        &[
            "campaign",
            "job",
            "--name",
            "",
            "--json",
            "--broker",
            unreachable,
        ],
        wait,
    )
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["event"], "error");
    assert!(
        line["detail"].as_str().unwrap().contains("--name"),
        "{line}"
    );
}

#[test]
fn campaign_help_documents_the_exit_codes_and_groups_the_broker_flags() {
    let output = elector(&["campaign", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for code in ["0", "1", "2", "3", "4", "5", "128+N"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(&format!("{code} "))),
            "no exit code {code} in:\n{help}"
        );
    }
    // One heading holds every way to say where the store is.
    let broker_section = help.split_once("Broker (").expect("a Broker heading").1;
    for flag in [
        "--broker",
        "--hostname",
        "--tls",
        "--sat-file",
        "--embedded",
    ] {
        assert!(
            broker_section.contains(flag),
            "{flag} not under the heading"
        );
    }
    assert_eq!(help.matches("Broker (").count(), 1);
}

/// `run` logs a line per state change at info by default, without colours
/// when stderr is not a terminal.
#[test]
fn run_logs_state_changes_by_default() {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["run", FENCED_LOG, "--position", "job", "--name", "r1"])
        .args(["--term", "300ms", "--tick", "100ms", "--embedded"])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines().map_while(Result::ok) {
        let leads = line.contains("INFO") && line.contains("leads");
        seen.push(line);
        if leads {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.last().is_some_and(|l| l.contains("leads")),
        "no info line: {seen:?}"
    );
    assert!(seen.iter().all(|line| !line.contains('\x1b')), "{seen:?}");
}

/// An error is one line of words, never Rust's Debug text or a backtrace.
#[test]
fn an_error_reads_as_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args([
            "run",
            "/nonexistent/module.wasm",
            "--position",
            "job",
            "--embedded",
        ])
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        !stderr.contains("Stack backtrace") && !stderr.contains("Error {"),
        "{stderr}"
    );
}

/// `elector run` checks its module and grants before it connects (the
/// broker here does not exist): each refusal is one line naming the cause.
#[test]
fn run_refuses_what_cannot_work_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "not wasm").unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["run", text.to_str().unwrap()],
            "it is not WebAssembly: expected a WASI 0.2 component",
        ),
        (
            &["run", core.to_str().unwrap()],
            "a core WebAssembly module, not a component",
        ),
        (
            &["run", FENCED_LOG, "--allow-dir", "/no/such/dir"],
            "--allow-dir /no/such/dir: no such directory",
        ),
    ];
    for (args, expected) in cases {
        let mut all = args.to_vec();
        all.extend(["--position", "job", "--broker", "mqtt://127.0.0.1:1"]);
        let output = elector(&all);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}
