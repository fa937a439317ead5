//! The etcd-backed store under faults: three `elector statestore --etcd`
//! frontends over a 3-member etcd cluster, each frontend reaching every
//! member through a TCP proxy of its own. Each cycle one fault strikes: a
//! frontend killed with `kill -9`, an etcd member killed with `kill -9`,
//! or a frontend cut off from etcd; the previous fault is healed first
//! (killed processes started again, links restored). Meanwhile three
//! fenced-log replicas write and three `elector campaign` candidates
//! renew. The log must stay whole and in token order, no two candidates'
//! leases may overlap, and after each fault ends the log must grow again
//! within a bound.
//!
//! `ELECTOR_HA_CYCLES=N` runs N cycles (30 by default);
//! `ELECTOR_CHAOS_SEED=S` replays.

use std::time::{Duration, Instant};

use super::restarts::{CANDIDATES, Leaderships, campaigners, judge};
use super::*;

use super::etcd_store::etcd_cluster;

const FRONTENDS: usize = 3;
const MEMBERS: usize = 3;

/// How soon the log must grow again once a fault has ended: an etcd
/// leader election (0.5 s election timeout here), the frontends' 2 s etcd
/// request timeout, and a replica's lease and backoff.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

struct Frontends {
    processes: Vec<Option<Elector>>,
    /// `links[frontend][member]`.
    links: Vec<Vec<Proxy>>,
    url: String,
}

impl Frontends {
    async fn start(broker: &Broker, cluster: &etcd_cluster::Cluster) -> Frontends {
        let mut links = Vec::new();
        for _ in 0..FRONTENDS {
            let mut to_members = Vec::new();
            for member in 0..MEMBERS {
                to_members.push(Proxy::start(port_of(&cluster.endpoint(member))).await);
            }
            links.push(to_members);
        }
        let mut frontends = Frontends {
            processes: (0..FRONTENDS).map(|_| None).collect(),
            links,
            url: broker.url(),
        };
        for index in 0..FRONTENDS {
            frontends.spawn(index);
        }
        frontends
    }

    fn spawn(&mut self, index: usize) {
        let etcd: Vec<String> = self.links[index]
            .iter()
            .map(|proxy| format!("http://127.0.0.1:{}", proxy.port))
            .collect();
        let etcd = etcd.join(",");
        self.processes[index] = Some(Elector::spawn(
            "frontend",
            &["statestore", "--broker", &self.url, "--etcd", &etcd],
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_faults_of_frontends_and_etcd_members_lose_nothing_and_grant_once() {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let cycles = env_u64("ELECTOR_HA_CYCLES", 30);
    let seed = env_u64("ELECTOR_CHAOS_SEED", 0xE1EC7);
    let mut rng = Rng(seed);
    let mut cluster = etcd_cluster::Cluster::start().await;
    let broker = Broker::start();
    let mut frontends = Frontends::start(&broker, &cluster).await;
    tokio::task::block_in_place(|| wait_until_served(&broker));
    let _replicas = Replicas(
        (1..=REPLICAS)
            .map(|i| Some(spawn_replica(&format!("r{i}"), broker.port)))
            .collect(),
    );
    let mut candidates = campaigners(&broker, "3s");
    let store = connect(broker.port, Duration::from_secs(2)).await;
    log_started(&store, seed).await;

    let mut audit = LogAudit::default();
    let mut leaderships = Leaderships::default();
    let mut tally = std::collections::BTreeMap::<&str, u32>::new();
    let mut slowest_recovery = Duration::ZERO;
    let mut killed_member: Option<usize> = None;
    for _ in 0..cycles {
        // Heal the previous fault, then wait for the log to grow again.
        if let Some(member) = killed_member.take() {
            cluster.restart(member).await;
        }
        for (index, links) in frontends.links.iter().enumerate() {
            for link in links {
                link.restore();
            }
            let _ = index;
        }
        for index in 0..FRONTENDS {
            if frontends.processes[index].is_none() {
                frontends.spawn(index);
            }
        }
        let healed = Instant::now();
        let before = checked(counter(&store).await, seed);
        checked(
            counter_passes(&store, before + 1, RECOVERY_BOUND * 2)
                .await
                .map_err(|e| format!("no writes after a fault ended: {e}")),
            seed,
        );
        slowest_recovery = slowest_recovery.max(healed.elapsed());

        let victim = rng.below(FRONTENDS as u64) as usize;
        let fault = match rng.below(3) {
            0 => {
                if let Some(mut frontend) = frontends.processes[victim].take() {
                    frontend.kill();
                }
                "frontend kill -9"
            }
            1 => {
                let member = rng.below(MEMBERS as u64) as usize;
                cluster.kill(member);
                killed_member = Some(member);
                "etcd member kill -9"
            }
            _ => {
                for link in &frontends.links[victim] {
                    link.cut();
                }
                "frontend cut from etcd"
            }
        };
        *tally.entry(fault).or_default() += 1;
        if rng.below(4) == 0 {
            leaderships.collect(&candidates);
            let who = rng.below(CANDIDATES.len() as u64) as usize;
            candidates[who].kill();
            leaderships.killed(CANDIDATES[who]);
            candidates[who] = Elector::campaign(&broker, "job", CANDIDATES[who], "3s");
        }
        tokio::time::sleep(Duration::from_millis(600 + rng.below(900))).await;
        checked(catch_up(&store, &mut audit).await, seed);
        leaderships.collect(&candidates);
    }
    if let Some(member) = killed_member.take() {
        cluster.restart(member).await;
    }
    for links in &frontends.links {
        for link in links {
            link.restore();
        }
    }
    let summary = judge(&store, &mut audit, &mut leaderships, &candidates, seed).await;
    eprintln!(
        "etcd-backed (seed {seed}): {cycles} faults {tally:?}; {summary}; slowest return to \
         writing after a fault ended: {slowest_recovery:?}"
    );
    assert!(
        slowest_recovery < RECOVERY_BOUND,
        "writing resumed only {slowest_recovery:?} after a fault ended (seed {seed})"
    );
}
