//! Release on disconnect under partitions: three `elector campaign`
//! candidates (term 10 s, Will delay 1 s, keep-alive 5 s), each reaching
//! the broker through a TCP proxy of its own. Each cycle one fault strikes
//! a random candidate's link, the previous one healed first: a black hole
//! (bytes vanish, both ends keep the connection open: a silent partition)
//! of 0.3–4 s, some shorter than the Will's delay and some longer; a cut
//! (every connection closed, reconnects refused for a while); or a
//! `kill -9` of the candidate. Positions are freed by Wills, not by terms,
//! so every hand-over in this run is one the release rule must make safe:
//! no two candidates' leaderships may overlap (a leadership ends at the
//! candidate's own `lost` line, which for a silent link must come before
//! the Will lets anyone else in).
//!
//! `ELECTOR_PARTITION_CYCLES=N` runs N cycles (24 by default);
//! `ELECTOR_CHAOS_SEED=S` replays.

use std::time::Duration;

use super::restarts::{CANDIDATES, Leaderships};
use super::*;

const TERM: &str = "10s";

fn candidate(name: &str, proxy: &Proxy) -> Elector {
    let url = format!("mqtt://127.0.0.1:{}", proxy.port);
    Elector::spawn(
        name,
        &[
            "campaign",
            "job",
            "--name",
            name,
            "--term",
            TERM,
            "--json",
            "--broker",
            &url,
            "--release-on-disconnect",
            "1s",
            "--keep-alive",
            "5",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_and_crashes_of_leaders_with_release_on_disconnect_never_grant_twice() {
    let _turn = ONE_RUN_AT_A_TIME.lock().await;
    let cycles = env_u64("ELECTOR_PARTITION_CYCLES", 24);
    let seed = env_u64("ELECTOR_CHAOS_SEED", 0xE1EC7);
    let mut rng = Rng(seed);
    let broker = Broker::start();
    let data = tempfile::tempdir().unwrap();
    let _service = Service::start_in(&broker, data.path());
    let mut proxies = Vec::new();
    for _ in CANDIDATES {
        proxies.push(Proxy::start(broker.port).await);
    }
    let mut candidates: Vec<Elector> = CANDIDATES
        .iter()
        .zip(&proxies)
        .map(|(name, proxy)| candidate(name, proxy))
        .collect();
    let mut leaderships = Leaderships::default();
    let (mut silences, mut cuts, mut kills) = (0, 0, 0);
    for _ in 0..cycles {
        for proxy in &proxies {
            proxy.restore();
        }
        tokio::time::sleep(Duration::from_millis(500 + rng.below(1_500))).await;
        leaderships.collect(&candidates);
        let victim = rng.below(CANDIDATES.len() as u64) as usize;
        let lasts = Duration::from_millis(300 + rng.below(3_700));
        match rng.below(3) {
            0 => {
                proxies[victim].blackhole();
                silences += 1;
            }
            1 => {
                proxies[victim].cut();
                cuts += 1;
            }
            _ => {
                candidates[victim].kill();
                leaderships.killed(CANDIDATES[victim]);
                candidates[victim] = candidate(CANDIDATES[victim], &proxies[victim]);
                kills += 1;
            }
        }
        tokio::time::sleep(lasts).await;
        leaderships.collect(&candidates);
    }
    for proxy in &proxies {
        proxy.restore();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    leaderships.collect(&candidates);
    let overlaps = leaderships.overlaps();
    assert!(
        overlaps.is_empty(),
        "two leaders (seed {seed}): {overlaps:#?}"
    );
    eprintln!(
        "partitions (seed {seed}): {silences} silences, {cuts} cuts, {kills} kill -9s; {} \
         elections, no overlapping leaderships",
        leaderships.elections
    );
    assert!(
        leaderships.elections > 3,
        "leadership hardly moved: the overlap check had little to judge"
    );
    for mut candidate in candidates {
        candidate.kill();
    }
}
