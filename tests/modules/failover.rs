//! Two host processes run the fenced-log module over MQTT; the leader's
//! process is killed; the other takes over and the log stays whole.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elector_host::StateStoreBackend;
use elector_host::store::mqtt::MqttStore;

use crate::support::*;

const TERM: Duration = Duration::from_secs(1);

fn run_module(broker: &Broker, name: &str) -> Child {
    let args = ["--term", "1s", "--tick", "50ms", "--broker", &broker.url()];
    fenced_log_replica(name, &args, "warn")
}

async fn read(store: &MqttStore, key: &str) -> Option<String> {
    let key = format!("module/log/{key}");
    store
        .get(key.as_bytes())
        .await
        .unwrap()
        .map(|v| String::from_utf8(v.value).unwrap())
}

async fn counter(store: &MqttStore) -> u64 {
    read(store, "counter")
        .await
        .map_or(0, |c| c.parse().unwrap())
}

/// Waits until the counter reaches `target`.
async fn wait_for_count(store: &MqttStore, target: u64) {
    let started = Instant::now();
    while counter(store).await < target {
        assert!(
            started.elapsed() < PATIENCE,
            "the log stopped growing at {}",
            counter(store).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_process_is_replaced_and_the_log_has_no_duplicate_or_gap() {
    let (broker, _service) = broker_with_service();
    let store = connect(broker.port, Duration::from_secs(3)).await;
    let mut first = run_module(&broker, "p1");
    wait_for_count(&store, 5).await;
    let mut second = run_module(&broker, "p2");
    wait_for_count(&store, 15).await;

    // Kill the leader's process outright.
    let held = store.get(b"log").await.unwrap().expect("someone leads");
    let leader = String::from_utf8(held.value).unwrap();
    let (victim, survivor) = if leader == "p1" {
        (&mut first, "p2")
    } else {
        (&mut second, "p1")
    };
    let _ = victim.kill();
    let _ = victim.wait();
    let killed_at = Instant::now();
    let before = counter(&store).await;

    // The survivor takes over within the term plus a margin and writes on.
    let started = Instant::now();
    let taken_over_at = loop {
        let count = counter(&store).await;
        if count > before + 1 {
            let last = read(&store, &format!("entry/{:08}", count - 1))
                .await
                .unwrap();
            if last.split(' ').nth(1) == Some(survivor) {
                break killed_at.elapsed();
            }
        }
        assert!(started.elapsed() < PATIENCE, "no takeover");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        taken_over_at <= TERM + Duration::from_millis(1500),
        "takeover took {taken_over_at:?}"
    );
    wait_for_count(&store, before + 20).await;
    // SIGTERM: a tick in progress finishes, then the replica resigns.
    for process in [&mut first, &mut second] {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(process.id().to_string())
            .stderr(Stdio::null())
            .status();
        let _ = process.wait();
    }

    // Every number from 0 to the counter is there exactly once, in order,
    // and the writer changes hands once.
    let total = counter(&store).await;
    let mut writers = Vec::new();
    for number in 0..total {
        let entry = read(&store, &format!("entry/{number:08}"))
            .await
            .unwrap_or_else(|| panic!("entry {number} of {total} is missing"));
        let mut fields = entry.split(' ');
        let (written_number, writer) = (fields.next().unwrap(), fields.next().unwrap());
        assert_eq!(written_number.parse::<u64>().unwrap(), number);
        if writers.last().map(String::as_str) != Some(writer) {
            writers.push(writer.to_owned());
        }
    }
    assert!(
        read(&store, &format!("entry/{total:08}")).await.is_none(),
        "nothing past the counter"
    );
    assert_eq!(writers.len(), 2, "one hand-over: {writers:?}");
    assert_eq!(writers[1], survivor);
    eprintln!("takeover after kill -9: {taken_over_at:?}; {total} entries");
}
