//! `elector statestore --metrics-addr`: what the service serves, from the
//! first scrape on.

use std::io::BufReader;
use std::process::{Command, Stdio};

use elector_host::StateStoreBackend;

use crate::support::*;

/// `elector statestore --metrics-addr` on `broker`: the child and the
/// address it serves on, once it is ready.
fn service_with_metrics(broker: &Broker) -> (std::process::Child, String) {
    let mut service = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args([
            "statestore",
            "--in-memory",
            "--lock-delay",
            "0s",
            "--metrics-addr",
            "127.0.0.1:0",
            "--broker",
            &broker.url(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(service.stderr.take().unwrap());
    let address = announced_metrics_address(&mut stderr);
    // Ready once subscribed to the request topic.
    let started = std::time::Instant::now();
    while !http_get(&address, "/readyz").starts_with("HTTP/1.1 200") {
        assert!(started.elapsed() < PATIENCE, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (service, address)
}

/// The value of a series without labels in a scrape.
fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{series} ")))
        .unwrap_or_else(|| panic!("no {series} in\n{scrape}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_counts_requests_what_it_holds_and_drops() {
    let broker = Broker::start();
    let (mut service, address) = service_with_metrics(&broker);
    let first = http_get(&address, "/metrics");
    for series in [
        r#"elector_statestore_requests_total{command="SET",result="ok"} 0"#,
        r#"elector_statestore_dropped_requests_total{reason="foreign-response-topic"} 0"#,
        "elector_statestore_keys 0",
        "elector_statestore_expirations_total 0",
        "elector_build_info{",
    ] {
        assert!(first.contains(series), "{series} in\n{first}");
    }
    let client = connect(broker.port, std::time::Duration::from_secs(5)).await;
    let options = elector_statestore::SetOptions {
        condition: elector_statestore::SetCondition::Unconditional,
        expiry_ms: Some(100),
        fencing_token: None,
    };
    client.set(b"k", b"v", &options).await.unwrap();
    assert_eq!(client.get(b"k").await.unwrap().unwrap().value, b"v");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Another request, so the gauges catch up after the expiry.
    assert_eq!(client.get(b"k").await.unwrap(), None);
    let after = http_get(&address, "/metrics");
    for series in [
        r#"elector_statestore_requests_total{command="SET",result="ok"} 1"#,
        r#"elector_statestore_requests_total{command="GET",result="ok"} 2"#,
        "elector_statestore_keys 0",
        "elector_statestore_expirations_total 1",
    ] {
        assert!(after.contains(series), "{series} in\n{after}");
    }
    let _ = service.kill();
    let _ = service.wait();
}

/// Observers stopped by SIGTERM unregister on their way out: the service
/// holds no registration for them afterwards.
#[test]
fn observers_stopped_by_a_signal_leave_no_registration_behind() {
    let broker = Broker::start();
    let (mut service, address) = service_with_metrics(&broker);
    let url = broker.url();
    let observers: Vec<Elector> = (0..5)
        .map(|i| {
            Elector::spawn(
                &format!("observer{i}"),
                &["observe", "job", "--json", "--broker", &url],
            )
        })
        .collect();
    for observer in &observers {
        observer.expect("no-leader", PATIENCE);
    }
    assert_eq!(
        value(
            &http_get(&address, "/metrics"),
            "elector_statestore_watches"
        ),
        5.0
    );
    for mut observer in observers {
        observer.terminate();
        assert!(observer.wait().success());
    }
    assert_eq!(
        value(
            &http_get(&address, "/metrics"),
            "elector_statestore_watches"
        ),
        0.0
    );
    let _ = service.kill();
    let _ = service.wait();
}
