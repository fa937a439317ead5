//! What `elector statestore` logs by default, and in which format.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::*;

/// The first stderr lines of `elector ARGS` (with `RUST_LOG` as given, or
/// unset), until one contains `wanted` or `wait` passes.
fn stderr_until(
    args: &[&str],
    rust_log: Option<&str>,
    wanted: &str,
    wait: Duration,
) -> Vec<String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_elector"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let done = line.contains(wanted);
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn the_service_logs_its_state_changes_by_default_without_colours_on_a_pipe() {
    let broker = Broker::start();
    let url = broker.url();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let args = ["statestore", "--broker", &url, "--data-dir", data_dir];
    let lines = stderr_until(&args, None, "state-store service connected", PATIENCE);
    let connected = lines
        .iter()
        .find(|line| line.contains("state-store service connected"))
        .unwrap_or_else(|| panic!("no info line by default: {lines:?}"));
    assert!(connected.contains("INFO"), "{connected}");
    assert!(
        lines.iter().all(|line| !line.contains('\x1b')),
        "colours on a pipe: {lines:?}"
    );

    // RUST_LOG still decides.
    let quiet = stderr_until(
        &args,
        Some("warn"),
        "state-store service connected",
        Duration::from_secs(2),
    );
    assert!(quiet.is_empty(), "{quiet:?}");

    // --log-format json: one JSON object per line, for log collectors.
    let json = stderr_until(
        &[
            "--log-format",
            "json",
            "statestore",
            "--broker",
            &url,
            "--data-dir",
            data_dir,
        ],
        None,
        "state-store service connected",
        PATIENCE,
    );
    assert!(!json.is_empty());
    for line in &json {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert_eq!(value["level"], "INFO", "{line}");
    }
}
