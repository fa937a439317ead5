//! Real-process chaos: mosquitto, `elector statestore`, and three `elector
//! run` processes of the fenced-log module, each behind its own TCP proxy.
//! For at least 50 cycles a random fault strikes: a process is killed with
//! SIGKILL (and restarted later), the broker restarts, a link is cut,
//! black-holed or slowed. Afterwards the log (the history of fenced writes
//! to the shared keys) must be whole: every number once, fencing tokens
//! never going down, and writing resumes once the faults stop.
//!
//! `ELECTOR_CHAOS_CYCLES=N` runs N cycles; `ELECTOR_CHAOS_SEED=S` replays.

#[path = "../mqtt/support.rs"]
#[allow(dead_code)]
mod support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use elector_host::StateStoreBackend;
use elector_host::store::mqtt::MqttStore;
use elector_statestore::Hlc;
use support::*;

const REPLICAS: usize = 3;

/// SplitMix64, seeded: a failing run replays with the same faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spawn_replica(name: &str, port: u16) -> Child {
    let broker = format!("mqtt://127.0.0.1:{port}");
    let args = [
        "--term",
        "1s",
        "--tick",
        "40ms",
        "--request-timeout",
        "1s",
        "--broker",
        &broker,
    ];
    fenced_log_replica(name, &args, "error")
}

/// The replica processes, killed when the test ends, so that a failing run
/// leaves none behind.
struct Replicas(Vec<Option<Child>>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in self.0.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn read(store: &MqttStore, key: &str) -> Option<String> {
    loop {
        match store.get(format!("module/log/{key}").as_bytes()).await {
            Ok(found) => return found.map(|v| String::from_utf8(v.value).unwrap()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn counter(store: &MqttStore) -> u64 {
    read(store, "counter")
        .await
        .map_or(0, |c| c.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_cycles_of_faults_leave_a_whole_log_in_token_order() {
    let cycles = env_u64("ELECTOR_CHAOS_CYCLES", 50);
    let seed = env_u64("ELECTOR_CHAOS_SEED", 0xE1EC7);
    let mut rng = Rng(seed);
    let mut broker = Broker::start();
    let _service = Service::start(&broker);
    let mut proxies = Vec::new();
    for _ in 0..REPLICAS {
        proxies.push(Proxy::start(broker.port).await);
    }
    let names: Vec<String> = (1..=REPLICAS).map(|i| format!("r{i}")).collect();
    let mut replicas = Replicas(
        names
            .iter()
            .zip(&proxies)
            .map(|(name, proxy)| Some(spawn_replica(name, proxy.port)))
            .collect(),
    );
    let store = connect(broker.port, Duration::from_secs(2)).await;
    let started = Instant::now();
    while counter(&store).await < 5 {
        assert!(started.elapsed() < PATIENCE, "the log never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut tally = std::collections::BTreeMap::<&str, u32>::new();
    for _cycle in 0..cycles {
        // Heal what the previous cycle broke.
        for proxy in &proxies {
            proxy.restore();
        }
        for (index, slot) in replicas.0.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = Some(spawn_replica(&names[index], proxies[index].port));
            }
        }
        let victim = rng.below(REPLICAS as u64) as usize;
        let fault = match rng.below(5) {
            0 => {
                if let Some(mut child) = replicas.0[victim].take() {
                    let _ = child.kill(); // SIGKILL: no resignation
                    let _ = child.wait();
                }
                "kill -9"
            }
            1 => {
                broker.restart(Duration::from_millis(rng.below(400)));
                "broker restart"
            }
            2 => {
                proxies[victim].cut();
                "cut"
            }
            3 => {
                proxies[victim].blackhole();
                "partition"
            }
            _ => {
                proxies[victim].slow(Duration::from_millis(200 + rng.below(1_300)));
                "slow link"
            }
        };
        *tally.entry(fault).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(400 + rng.below(800))).await;
    }

    // Faults over: everyone back, and the log grows again.
    for proxy in &proxies {
        proxy.restore();
    }
    for (index, slot) in replicas.0.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = Some(spawn_replica(&names[index], proxies[index].port));
        }
    }
    let store = connect(broker.port, Duration::from_secs(2)).await;
    let healed = Instant::now();
    let before = counter(&store).await;
    while counter(&store).await < before + 10 {
        assert!(
            healed.elapsed() < Duration::from_secs(20),
            "no leader writes after the faults stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_in = healed.elapsed();
    for child in replicas.0.iter_mut().flatten() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
    }

    // The checker, on the history of fenced writes.
    let total = counter(&store).await;
    let mut newest: Option<Hlc> = None;
    let mut hand_overs = 0;
    let mut last_writer = String::new();
    for number in 0..total {
        let entry = read(&store, &format!("entry/{number:08}"))
            .await
            .unwrap_or_else(|| panic!("entry {number} of {total} is missing (seed {seed})"));
        let fields: Vec<&str> = entry.split(' ').collect();
        assert_eq!(
            fields[0].parse::<u64>().unwrap(),
            number,
            "entry {number} says {entry}"
        );
        let token: Hlc = fields[2]
            .parse()
            .unwrap_or_else(|_| panic!("entry {number}: {entry}"));
        if let Some(newest) = &newest {
            assert!(
                !newest.is_newer_than(&token),
                "entry {number} by {} has token {token}, older than {newest} before it (seed {seed})",
                fields[1]
            );
        }
        newest = Some(token);
        if fields[1] != last_writer {
            hand_overs += 1;
            last_writer = fields[1].to_owned();
        }
    }
    eprintln!(
        "chaos (seed {seed}): {cycles} cycles {tally:?}; {total} entries, {hand_overs} hand-overs, \
         writing again {recovered_in:?} after the faults stopped"
    );
    assert!(hand_overs >= 2, "leadership moved under the faults");
}
