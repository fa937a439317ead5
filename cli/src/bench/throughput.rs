//! The state-store service under load: C clients, each its own MQTT
//! connection with one request in flight at a time, alternating `SET` and
//! `GET` on its own key for a fixed time.

use std::time::{Duration, Instant};

use super::{Row, Target};
use elector_statestore::{SetCondition, SetOptions};

#[derive(Clone, Debug)]
pub struct ThroughputOptions {
    /// Concurrent clients, one measurement per count.
    pub clients: Vec<usize>,
    /// How long each measurement runs.
    pub duration: Duration,
}

pub async fn service_throughput(
    target: &Target,
    options: &ThroughputOptions,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &clients in &options.clients {
        rows.push(measure(target, clients, options.duration).await?);
    }
    Ok(rows)
}

async fn measure(target: &Target, clients: usize, duration: Duration) -> anyhow::Result<Row> {
    let mut stores = Vec::with_capacity(clients);
    for _ in 0..clients {
        stores.push(target.connect().await?);
    }
    let tag = rand::random::<u32>();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(index, store)| {
            tokio::spawn(async move {
                let key = format!("bench-load-{tag}-{index}").into_bytes();
                let value = vec![b'v'; 64];
                let options = SetOptions {
                    condition: SetCondition::Unconditional,
                    expiry_ms: Some(60_000),
                    fencing_token: None,
                };
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let answered = if samples.len() % 2 == 0 {
                        store.set(&key, &value, &options).await.map(drop)
                    } else {
                        store.get(&key).await.map(drop)
                    };
                    answered.map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    samples.push(sent.elapsed());
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await??);
    }
    let elapsed = started.elapsed();
    let ops_per_s = samples.len() as f64 / elapsed.as_secs_f64();
    Ok(Row::latency(
        format!("state-store service, {clients} clients, SET/GET"),
        target.name(),
        &samples,
    )
    .with_figure("ops_per_s", ops_per_s))
}
