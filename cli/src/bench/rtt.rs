//! One state-store request, round trip: the floor under every election.

use std::time::Instant;

use super::{Row, Target};

/// `GET` round trips, one after another.
pub async fn request_round_trip(target: &Target, requests: usize) -> anyhow::Result<Row> {
    let store = target.connect().await?;
    for _ in 0..requests.min(100) {
        store.get(b"elector-bench-rtt").await.ok(); // warm up
    }
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        store
            .get(b"elector-bench-rtt")
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        samples.push(started.elapsed());
    }
    Ok(Row::latency(
        "state-store request round trip (GET)",
        target.name(),
        &samples,
    ))
}
