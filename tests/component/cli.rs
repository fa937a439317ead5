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
    let output = elector(&["demo", "--candidates", "3", "--term", "200", "--json"]);
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
    let count = |event: &str| lines.iter().filter(|l| l["event"] == event).count();
    assert_eq!(
        count("elected"),
        3,
        "first leader, after resign, after expiry"
    );
    assert!(count("renewed") >= 6);
    let lost: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "lost")
        .map(|l| l["detail"].as_str().unwrap())
        .collect();
    assert!(lost.iter().any(|d| d.contains("resigned")));
    assert!(lost.iter().any(|d| d.contains("expired")));
    assert_eq!(lines.last().unwrap()["event"], "summary");
    // Distinct leaders hold distinct, increasing fencing tokens.
    let tokens: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "elected")
        .map(|l| l["fencing_token"].as_str().unwrap())
        .collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
}

#[test]
fn a_reader_that_stops_reading_does_not_crash_the_demo() {
    use std::io::BufRead as _;
    // `elector demo --json | head -1`: the reader goes away after a line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["demo", "--candidates", "2", "--term", "200", "--json"])
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
    for args in [&["demo", "--candidates", "1"][..], &["demo", "--term", "0"]] {
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
