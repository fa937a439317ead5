//! Startup: from spawning `elector demo` to its first elected leader, with
//! the compiled component cache empty (cold: Cranelift compiles the
//! component) and warm (the compiled code is loaded from the cache).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{Goal, Row};

#[derive(Clone, Debug)]
pub struct StartupOptions {
    /// Process starts timed per variant.
    pub runs: usize,
}

pub async fn startup(options: &StartupOptions) -> anyhow::Result<Vec<Row>> {
    let cache = std::env::temp_dir().join(format!("elector-bench-cache-{}", std::process::id()));
    let cold = time_runs(options.runs, None).await?;
    time_to_first_leader(Some(&cache)).await?; // fills the cache
    let cached = time_runs(options.runs, Some(&cache)).await;
    let _ = std::fs::remove_dir_all(&cache);
    let cached = Row::latency(
        "start to first leader, component cached",
        "embedded",
        &cached?,
    );
    let median_us = cached.summary().median_us;
    Ok(vec![
        Row::latency("start to first leader, cold (compiles)", "embedded", &cold),
        cached.with_goal(Goal::at_most("≤ 50 ms", median_us, 50_000.0)),
    ])
}

async fn time_runs(runs: usize, cache: Option<&std::path::Path>) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(time_to_first_leader(cache).await?);
    }
    Ok(samples)
}

/// Spawns `elector demo --json` and waits for its first `elected` line.
async fn time_to_first_leader(cache: Option<&std::path::Path>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["demo", "--json", "--candidates", "2"])
        .env(
            "ELECTOR_COMPONENT_CACHE",
            cache.map(|p| p.as_os_str()).unwrap_or_default(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting elector demo")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if line.contains(r#""event":"elected""#) {
                return anyhow::Ok(started.elapsed());
            }
        }
        anyhow::bail!("elector demo ended without electing a leader")
    })
    .await
    .context("elector demo elected nobody within 60 s")?;
    let _ = child.kill().await;
    found
}
