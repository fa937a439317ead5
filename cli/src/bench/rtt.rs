//! One state-store request, round trip: the floor under every election.

use std::time::{Duration, Instant};

use super::{Row, Target};

/// `GET` round trips, one after another, or with the connection left idle
/// for `idle` before each (as the resign failover leaves it between rounds:
/// a request that finds the machine idle pays for waking it, which one that
/// follows another does not).
pub async fn request_round_trip(
    target: &Target,
    requests: usize,
    idle: Option<Duration>,
) -> anyhow::Result<Row> {
    let store = target.connect().await?;
    for _ in 0..requests.min(100) {
        store.get(b"elector-bench-rtt").await.ok(); // warm up
    }
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        if let Some(idle) = idle {
            tokio::time::sleep(idle).await;
        }
        let started = Instant::now();
        store
            .get(b"elector-bench-rtt")
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        samples.push(started.elapsed());
    }
    let scenario = match idle {
        None => "state-store request round trip (GET)".to_owned(),
        Some(idle) => format!("state-store request round trip (GET), {idle:?} idle before each"),
    };
    Ok(Row::latency(scenario, target.name(), &samples))
}
