//! What a user reads when a connection fails: the cause, in one line, for
//! each way it can fail, and a clear stop when two processes share a
//! client id.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::*;

fn elector(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("elector runs");
    (output, started.elapsed())
}

/// The single `error:` line a failed command printed.
fn error_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
    errors[0].to_owned()
}

/// A port with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_refused_connection_says_nothing_listens() {
    let url = format!("mqtt://127.0.0.1:{}", closed_port());
    let (output, took) = elector(&["leader", "job", "--broker", &url, "--connect-timeout", "1s"]);
    let line = error_line(&output);
    assert!(
        line.contains("connection refused: nothing listens on 127.0.0.1:"),
        "{line}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn an_unknown_host_says_it_cannot_be_resolved() {
    let (output, _) = elector(&[
        "leader",
        "job",
        "--broker",
        "mqtt://no-such-host.invalid:1883",
        "--connect-timeout",
        "2s",
    ]);
    let line = error_line(&output);
    assert!(
        line.contains("cannot resolve the host name \"no-such-host.invalid\""),
        "{line}"
    );
}

#[test]
fn a_silent_peer_says_it_never_answered() {
    // Accepts TCP connections and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("mqtt://{}", silent.local_addr().unwrap());
    let (output, took) = elector(&["get", "k", "--broker", &url, "--connect-timeout", "1s"]);
    let line = error_line(&output);
    assert!(line.contains("within 1s"), "{line}");
    assert!(line.contains("no answer to the MQTT connect"), "{line}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(silent);
}

#[test]
fn a_broker_without_a_state_store_is_named_as_such() {
    let broker = Broker::start();
    let (output, _) = elector(&[
        "leader",
        "job",
        "--broker",
        &broker.url(),
        "--request-timeout",
        "500ms",
    ]);
    let line = error_line(&output);
    assert!(line.contains("answered, but no state store did"), "{line}");
    assert!(line.contains("elector statestore"), "{line}");
}

#[test]
fn a_client_id_taken_over_stops_the_process_with_the_reason() {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;
    let (broker, _service) = broker_with_service();
    let url = broker.url();
    let observe = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_elector"))
            .args([
                "observe",
                "job",
                "--client-id",
                "shared-id",
                "--broker",
                &url,
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("elector runs");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        assert!(first_line.starts_with("no-leader"), "{first_line}");
        child
    };
    let mut observers = [observe(), observe()];
    // The broker hands the id to the newest connection; they would take
    // it from each other for ever. One of them stops, with the reason, and
    // the other goes on.
    let started = Instant::now();
    let (stopped, status) = loop {
        if let Some((index, status)) = observers
            .iter_mut()
            .enumerate()
            .find_map(|(i, child)| child.try_wait().unwrap().map(|status| (i, status)))
        {
            break (index, status);
        }
        assert!(started.elapsed() < PATIENCE, "both observers kept going");
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr_of(&mut observers[stopped]);
    assert_eq!(status.code(), Some(1), "{status:?}: {stderr}");
    assert!(
        stderr.contains("took over the client id \"shared-id\""),
        "{stderr}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let other = &mut observers[1 - stopped];
    assert!(other.try_wait().unwrap().is_none(), "the other goes on");
    let _ = other.kill();
    let _ = other.wait();
}
