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
