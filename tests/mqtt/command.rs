//! `elector campaign POSITION ... -- COMMAND`: a command run while leading,
//! with the current fencing token in a file, stopped when leadership goes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// `elector campaign POSITION --name NAME ARGS --json --broker URL -- sh -c SCRIPT`,
/// with `$OUT` naming a directory the script can leave notes in.
fn campaign_running(
    broker: &Broker,
    out: &Path,
    name: &str,
    args: &[&str],
    script: &str,
) -> Elector {
    let url = broker.url();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_elector"));
    command
        .args(["campaign", "job", "--name", name])
        .args(args)
        .args(["--json", "--broker", &url, "--", "sh", "-c", script])
        .env("OUT", out);
    Elector::spawn_command(name, &mut command)
}

/// Waits for a file the script writes, and returns its contents.
fn note(out: &Path, name: &str) -> String {
    let path = out.join(name);
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&path)
            && text.ends_with('\n')
        {
            return text.trim_end().to_owned();
        }
        assert!(started.elapsed() < PATIENCE, "no {name} from the command");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a process runs (a zombie, dead but not yet reaped by whoever
/// inherited it, does not).
fn process_exists(pid: &str) -> bool {
    std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")).is_ok_and(|stat| {
        // `pid (comm) state ...`; comm may hold spaces, so look after it.
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// The script announces itself once it runs: its environment and pid.
const ANNOUNCE: &str = r#"echo "$ELECTOR_POSITION" > "$OUT/position.tmp" && mv "$OUT/position.tmp" "$OUT/position"
echo "$ELECTOR_FENCING_TOKEN_FILE" > "$OUT/path.tmp" && mv "$OUT/path.tmp" "$OUT/path"
echo $$ > "$OUT/pid.tmp" && mv "$OUT/pid.tmp" "$OUT/pid"
"#;

#[test]
fn the_command_always_finds_the_current_token_and_its_exit_code_is_elector_s() {
    let (broker, _service) = broker_with_service();
    let out = tempfile::tempdir().unwrap();
    let script = format!("{ANNOUNCE}while [ ! -e \"$OUT/stop\" ]; do sleep 0.02; done; exit 7");
    let mut leader = campaign_running(&broker, out.path(), "a", &["--term", "1500ms"], &script);
    let elected = leader.expect("elected", PATIENCE);
    assert_eq!(note(out.path(), "position"), "job");
    let token_file = PathBuf::from(note(out.path(), "path"));
    let read_token = || std::fs::read_to_string(&token_file).unwrap();
    // At every renewal the file gets the new token (it is written before
    // the line is printed, so it may be ahead of the lines read so far),
    // and is never seen torn. Tokens sort as text.
    let mut newest = elected["fencing_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let renewed = leader.expect("renewed", PATIENCE);
        let token = renewed["fencing_token"].as_str().unwrap();
        assert!(token > newest.as_str());
        newest = token.to_owned();
        let started = Instant::now();
        loop {
            let text = read_token();
            let seen = text.trim_end();
            assert!(
                text.ends_with('\n')
                    && seen.len() == newest.len()
                    && seen.ends_with(":elector-statestore"),
                "the file holds {text:?}, not a whole token"
            );
            if seen >= newest.as_str() {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "the file keeps {seen}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // The command ends by itself: elector resigns and exits with its code.
    std::fs::write(out.path().join("stop"), "").unwrap();
    let exited = leader.expect("exited", PATIENCE);
    assert_eq!(exited["exit_code"], 7);
    assert_eq!(leader.expect("resigned", PATIENCE)["detail"], "released");
    assert_eq!(leader.wait().code(), Some(7));
    assert!(!token_file.exists(), "the token file is cleaned up");
    let (_, lines) = run_elector(&["leader", "job", "--broker", &broker.url()]);
    assert_eq!(lines[0]["event"], "no-leader");
}

#[test]
fn the_command_gets_sigterm_at_the_lease_end_when_leadership_is_lost() {
    let (broker, service) = broker_with_service();
    let out = tempfile::tempdir().unwrap();
    let script = format!(
        "{ANNOUNCE}trap 'date +%s%3N > \"$OUT/term.tmp\"; mv \"$OUT/term.tmp\" \"$OUT/term\"; exit 0' TERM
while :; do sleep 0.02; done"
    );
    let mut leader = campaign_running(
        &broker,
        out.path(),
        "a",
        &["--term", "2s", "--request-timeout", "300ms"],
        &script,
    );
    leader.expect("elected", PATIENCE);
    let token_file = PathBuf::from(note(out.path(), "path"));
    let renewed = leader.expect("renewed", PATIENCE);
    service.freeze();
    let mut lease_until = renewed["lease_until_ms"].as_i64();
    loop {
        let read = leader.next_read(PATIENCE).expect("a line within the term");
        let line: Value = serde_json::from_str(&read.text).unwrap();
        match line["event"].as_str().unwrap() {
            "renewed" => lease_until = line["lease_until_ms"].as_i64(),
            "lost" => break,
            _ => {}
        }
    }
    let lease_until = lease_until.expect("a renewal before the freeze");
    let term_at: i64 = note(out.path(), "term").parse().unwrap();
    let late = term_at - lease_until;
    eprintln!("SIGTERM handled {late} ms after the local lease end");
    assert!(late <= 100, "SIGTERM {late} ms after the lease ended");
    assert!(!token_file.exists(), "no token once leadership is lost");
    assert_eq!(leader.expect("exited", PATIENCE)["exit_code"], 0);
    assert_eq!(
        leader.wait().code(),
        Some(3),
        "lost before the command ended"
    );
    service.thaw();
}

#[test]
fn a_command_that_ignores_sigterm_is_killed_after_kill_after() {
    let (broker, _service) = broker_with_service();
    let out = tempfile::tempdir().unwrap();
    // A child of the shell, in its process group, that must go too.
    let script = format!(
        "{ANNOUNCE}trap '' TERM; sleep 1000 & echo $! > \"$OUT/child.tmp\"; mv \"$OUT/child.tmp\" \"$OUT/child\"
while :; do sleep 0.02; done"
    );
    let mut leader = campaign_running(
        &broker,
        out.path(),
        "a",
        &["--kill-after", "500ms"],
        &script,
    );
    leader.expect("elected", PATIENCE);
    let (shell, child) = (note(out.path(), "pid"), note(out.path(), "child"));
    let stopping = Instant::now();
    leader.signal("INT");
    let exited = leader.expect("exited", PATIENCE);
    let took = stopping.elapsed();
    assert!(
        (Duration::from_millis(450)..Duration::from_secs(3)).contains(&took),
        "SIGKILL after {took:?}"
    );
    assert_eq!(exited["exit_code"], 128 + 9, "{exited}");
    assert_eq!(leader.expect("resigned", PATIENCE)["detail"], "released");
    assert_eq!(leader.wait().code(), Some(137), "the command's exit code");
    assert!(!process_exists(&shell) && !process_exists(&child));
}

#[test]
fn the_command_dies_with_elector() {
    let (broker, _service) = broker_with_service();
    let out = tempfile::tempdir().unwrap();
    let script = format!("{ANNOUNCE}trap '' TERM; while :; do sleep 0.02; done");
    let mut leader = campaign_running(&broker, out.path(), "a", &[], &script);
    leader.expect("elected", PATIENCE);
    let shell = note(out.path(), "pid");
    leader.kill(); // kill -9: elector cannot clean up
    let started = Instant::now();
    while process_exists(&shell) {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the command outlived elector: a leader nobody renews"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
