//! One `elector statestore` per broker: a second would hold a store of its
//! own, and every lock could be granted twice.

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::support::*;

/// The second is refused, naming the running one; once that one is killed
/// (`kill -9`, no clean-up), a new one starts at once.
#[test]
fn a_second_statestore_is_refused_until_the_first_is_gone() {
    let (broker, first) = broker_with_service();
    let mut second = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["statestore", "--broker", &broker.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("elector runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PATIENCE {
            let _ = second.kill();
            panic!("the second statestore kept running beside the first");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let stderr = stderr_of(&mut second);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another elector statestore is serving this broker")
            && stderr.contains(&format!("pid {}", first.pid())),
        "{stderr}"
    );
    first.signal("KILL");
    // Waits until the replacement answers requests.
    let _replacement = Service::start(&broker);
}

/// A status nobody answers for (a broker that kept it across its own
/// restart while the service was gone) does not keep a service from
/// starting: it asks, hears no state store, and takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_left_behind_does_not_block_a_start() {
    use rumqttc::v5::mqttbytes::QoS;

    let broker = Broker::start();
    let (stale, _) = crate::raw::raw_client(broker.port, "leaves-a-status", &[]).await;
    stale
        .publish(
            elector_service::instance::STATUS_TOPIC,
            QoS::AtLeastOnce,
            true,
            b"client id \"gone\", pid 1 on nowhere".to_vec(),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Waits until the service answers requests.
    let _service = tokio::task::spawn_blocking(move || {
        let service = Service::start(&broker);
        (broker, service)
    })
    .await
    .unwrap();
}
