//! WASM overhead: the same election logic (`elector-guest`) run natively
//! and as the sandboxed component, against the same store, one operation
//! at a time. Native and component rounds alternate, and so does which of
//! the two goes first, so drift in the store or the machine hits both
//! alike.

use std::time::{Duration, Instant};

use super::native::{self, NativeCandidate};
use super::{Goal, Row, Summary, Target};
use elector_host::bindings::CandidateOptions;
use elector_host::runtime::ElectorRuntime;
use elector_host::sandbox::{CandidateHandle, Sandbox};

const TERM_MS: u64 = 60_000;

/// The operations compared, in the order they run in each iteration.
const OPERATIONS: [&str; 5] = [
    "is-leader (no store)",
    "current-leader (GET)",
    "try-campaign, renewal (SET)",
    "resign (VDEL)",
    "try-campaign, free position (SET)",
];

pub async fn wasm_overhead(
    target: &Target,
    runtime: &ElectorRuntime,
    iterations: usize,
    idle: Option<Duration>,
) -> anyhow::Result<Vec<Row>> {
    let tag = rand::random::<u32>();
    let store = target.connect().await?;
    let mut native = native::candidate(store.clone(), &format!("bench-native-{tag}"), "native")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut sandbox = runtime.instantiate(store).await?;
    let options = CandidateOptions {
        position: format!("bench-component-{tag}"),
        name: "component".into(),
        session_id: None,
        safety_margin_ms: None,
        request_lifetime_ms: None,
    };
    let candidate = sandbox
        .create_candidate(&options, Box::new(|_| {}))
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut component = Component { sandbox, candidate };

    let mut native_samples = vec![Vec::with_capacity(iterations); OPERATIONS.len()];
    let mut component_samples = vec![Vec::with_capacity(iterations); OPERATIONS.len()];
    let warm_up = iterations / 10 + 10;
    for iteration in 0..warm_up + iterations {
        // Which goes first alternates: whatever the store or the machine
        // still does after one round's writes lands on both alike.
        let (native_times, component_times) = if iteration % 2 == 0 {
            let native_times = native_round(&mut native, idle).await?;
            (native_times, component.round(idle).await?)
        } else {
            let component_times = component.round(idle).await?;
            (native_round(&mut native, idle).await?, component_times)
        };
        if iteration >= warm_up {
            for (op, time) in native_times.into_iter().enumerate() {
                native_samples[op].push(time);
            }
            for (op, time) in component_times.into_iter().enumerate() {
                component_samples[op].push(time);
            }
        }
    }
    native.resign(false).await.ok();
    let _ = component.sandbox.resign(component.candidate, false).await;

    Ok(OPERATIONS
        .iter()
        .zip(native_samples.iter().zip(&component_samples))
        .map(|(operation, (native, component))| {
            let row = compare(
                target,
                operation,
                &Summary::of(native),
                &Summary::of(component),
                native.len(),
            );
            match idle {
                // A diagnostic, not the published comparison: no goal.
                Some(idle) => Row {
                    scenario: format!("{}, {} µs idle first", row.scenario, idle.as_micros()),
                    goal: None,
                    ..row
                },
                None => row,
            }
        })
        .collect())
}

fn compare(
    target: &Target,
    operation: &str,
    native: &Summary,
    component: &Summary,
    samples: usize,
) -> Row {
    let overhead_us = component.median_us - native.median_us;
    let ratio = component.median_us / native.median_us;
    let goal = if !target.is_mqtt() {
        Some(Goal::at_most("≤ 5 µs per operation", overhead_us, 5.0))
    } else if operation.contains("no store") {
        // Nothing crosses the network: a ratio of two local reads says
        // nothing about the cost over MQTT.
        None
    } else {
        Some(Goal::at_most("≤ 1.05× native over MQTT", ratio, 1.05))
    };
    let row = Row::figures(
        format!("wasm overhead: {operation}"),
        target.name(),
        Vec::new(),
    )
    .with_figure("native_median_us", native.median_us)
    .with_figure("component_median_us", component.median_us)
    .with_figure("component_p99_us", component.p99_us)
    .with_figure("overhead_us", overhead_us)
    .with_figure("ratio_x", ratio)
    .with_figure("samples_n", samples as f64);
    match goal {
        Some(goal) => row.with_goal(goal),
        None => row,
    }
}

/// One of each operation on the native candidate.
async fn native_round(
    candidate: &mut NativeCandidate,
    idle: Option<Duration>,
) -> anyhow::Result<[Duration; 5]> {
    let failed = |e: elector_guest::ElectionError| anyhow::anyhow!("native: {e}");
    let mut times = [Duration::ZERO; 5];
    idle_for(idle);
    let started = Instant::now();
    std::hint::black_box(candidate.is_leader());
    times[0] = started.elapsed();
    idle_for(idle);
    let started = Instant::now();
    candidate.current_leader().await.map_err(failed)?;
    times[1] = started.elapsed();
    idle_for(idle);
    let started = Instant::now();
    candidate.try_campaign(TERM_MS).await.map_err(failed)?;
    times[2] = started.elapsed();
    idle_for(idle);
    let started = Instant::now();
    candidate.resign(false).await.map_err(failed)?;
    times[3] = started.elapsed();
    idle_for(idle);
    let started = Instant::now();
    let won = candidate.try_campaign(TERM_MS).await.map_err(failed)?;
    times[4] = started.elapsed();
    anyhow::ensure!(won.is_leader, "native candidate lost its own position");
    Ok(times)
}

struct Component {
    sandbox: Sandbox,
    candidate: CandidateHandle,
}

impl Component {
    /// One of each operation inside the sandbox.
    async fn round(&mut self, idle: Option<Duration>) -> anyhow::Result<[Duration; 5]> {
        let c = self.candidate;
        let sandbox = &mut self.sandbox;
        let mut times = [Duration::ZERO; 5];
        idle_for(idle);
        let started = Instant::now();
        std::hint::black_box(sandbox.is_leader(c).await?);
        times[0] = started.elapsed();
        idle_for(idle);
        let started = Instant::now();
        answered(sandbox.current_leader(c).await)?;
        times[1] = started.elapsed();
        idle_for(idle);
        let started = Instant::now();
        answered(sandbox.try_campaign(c, TERM_MS).await)?;
        times[2] = started.elapsed();
        idle_for(idle);
        let started = Instant::now();
        answered(sandbox.resign(c, false).await)?;
        times[3] = started.elapsed();
        idle_for(idle);
        let started = Instant::now();
        let won = answered(sandbox.try_campaign(c, TERM_MS).await)?;
        times[4] = started.elapsed();
        anyhow::ensure!(won.is_leader, "component candidate lost its own position");
        Ok(times)
    }
}

fn answered<T, E: std::fmt::Debug>(result: wasmtime::Result<Result<T, E>>) -> anyhow::Result<T> {
    result?.map_err(|e| anyhow::anyhow!("component: {e:?}"))
}

/// Leaves the CPU to others (or to sleep) before a timed operation, as a
/// network round trip does. A thread sleep, not a timer: the runtime's
/// timers are millisecond-grained.
fn idle_for(idle: Option<Duration>) {
    if let Some(idle) = idle {
        std::thread::sleep(idle);
    }
}
