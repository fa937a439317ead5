//! Metrics, health and shutdown of `elector run`, as an operator sees them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::FENCED_LOG;
use crate::support::*;

/// `GET path` over plain HTTP/1.1; (status, body).
fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn metrics_report_the_leader_and_sigterm_resigns() {
    let broker = Broker::start();
    let _service = Service::start(&broker);
    let url = broker.url();
    let mut process = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args([
            "run",
            FENCED_LOG,
            "--position",
            "job",
            "--replicas",
            "2",
            "--name",
            "r",
        ])
        .args([
            "--term",
            "2s",
            "--tick",
            "100ms",
            "--metrics-addr",
            "127.0.0.1:0",
            "--broker",
            &url,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The bound address is announced on stderr.
    let mut stderr = BufReader::new(process.stderr.take().unwrap());
    let address = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no metrics address announced"
        );
        if let Some(rest) = line.strip_prefix("metrics and health on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});

    let started = Instant::now();
    let leader = loop {
        let (status, body) = http_get(&address, "/metrics");
        assert_eq!(status, 200);
        let leading: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("elector_leader{") && l.ends_with(" 1"))
            .collect();
        if leading.len() == 1 {
            let replica = leading[0]
                .split("replica=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            assert!(
                body.contains("elector_state_store_request_seconds_count"),
                "latency is measured"
            );
            break replica.to_owned();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no leader in the metrics:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, lines) = run_elector(&["leader", "job", "--broker", &url]);
    assert_eq!(
        lines[0]["leader"]["name"],
        leader.as_str(),
        "metrics agree with the store"
    );
    assert_eq!(http_get(&address, "/healthz"), (200, "ok\n".to_owned()));

    // SIGTERM: the leader resigns on the way out.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(process.id().to_string())
        .status();
    let status = process.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let (_, lines) = run_elector(&["leader", "job", "--broker", &url]);
    assert_eq!(lines[0]["event"], "no-leader", "released at shutdown");
}
