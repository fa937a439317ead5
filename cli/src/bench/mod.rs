//! `elector bench`: the performance numbers we publish, measured the same
//! way every time, printed as a table (or JSON lines) with the goal each
//! number is held to.
//!
//! Scenarios that depend on the store run on the embedded store and, when a
//! broker is given (`--broker`, or `--local-broker` to start mosquitto and
//! the state-store service here), over MQTT too.

mod broker;
mod crash;
mod density;
mod failover;
mod native;
mod overhead;
mod release;
mod report;
mod rtt;
mod startup;
mod stats;
mod target;
mod throughput;

pub use broker::{LocalBroker, StoreMode};
pub use crash::failover_after_crash;
pub use density::{DensityOptions, density};
pub use failover::{FailoverRun, ROUND_REST, failover_after_resign};
pub use overhead::wasm_overhead;
pub use release::failover_after_crash_with_release;
pub use report::{Figure, Goal, Row, Violation, print};
pub use rtt::request_round_trip;
pub use startup::{StartupOptions, startup};
pub use stats::Summary;
pub use target::Target;
pub use throughput::{ThroughputOptions, service_throughput};

use std::time::Duration;

use crate::cli::{BenchArgs, BenchScenario};
use elector_host::runtime::{ElectorRuntime, RuntimeConfig};

/// The component's size, against the goal of 150 KiB.
pub fn component_size() -> Row {
    let kib = elector_host::artifacts::ELECTOR_WASM.len() as f64 / 1024.0;
    Row::figures("elector.wasm size", "-", vec![Figure::new("size_kib", kib)])
        .with_goal(Goal::at_most("≤ 150 KiB", kib, 150.0))
}

/// Runs the scenarios `args` asks for and prints the results.
///
/// The measuring code runs on a runtime worker thread, like the candidates'
/// own tasks: awaited from the thread that called `block_on`, each wake-up
/// is a cross-thread hand-off that adds about 90 µs to every MQTT round
/// trip on this 2-vCPU VM, which is the runtime's cost, not elector's.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    tokio::spawn(async move { run_scenarios(&args).await }).await?
}

async fn run_scenarios(args: &BenchArgs) -> anyhow::Result<()> {
    let mut local = Vec::new();
    if args.local_broker {
        for &mode in &args.store_modes {
            progress(&format!(
                "starting mosquitto and the {} service",
                mode.label()
            ));
            local.push((mode, LocalBroker::start(mode, &args.etcd)?));
        }
    }
    let mut targets = vec![Target::embedded()];
    for (mode, broker) in &local {
        targets.push(Target::mqtt(&broker.args(), false, mode.label())?);
    }
    if !args.local_broker && args.broker.names_a_broker() {
        targets.push(Target::mqtt(&args.broker, args.with_service, "mqtt")?);
    }
    let runtime = ElectorRuntime::new(RuntimeConfig::default())?;
    let mut results = Results::default();
    if args.wants(BenchScenario::Size) {
        results.rows.push(component_size());
    }
    if args.wants(BenchScenario::Startup) {
        let what = "startup: process start to first leader";
        progress(what);
        let options = StartupOptions {
            runs: args.startup_runs,
        };
        results.keep(what, startup(&options).await);
    }
    for target in &targets {
        let store = target.name();
        // Resign failover over MQTT is also a multiple of this run's round
        // trip, so the round trip is measured for it even when not shown.
        let mut round_trip = None;
        let shows_rtt = args.wants(BenchScenario::Rtt);
        if shows_rtt || (args.wants(BenchScenario::Failover) && target.is_mqtt()) {
            let what = format!("{store}: request round trips");
            progress(&what);
            match request_round_trip(target, args.requests, None).await {
                Ok(row) => {
                    round_trip = Some(row.summary().clone());
                    if shows_rtt {
                        results.keep(&what, Ok(vec![row]));
                    }
                }
                Err(error) => results.keep(&what, Err(error)),
            }
        }
        if shows_rtt && args.wants(BenchScenario::Failover) && target.is_mqtt() {
            // A diagnostic beside the failover rows: the round trip from the
            // idle state each failover round starts in.
            let what = format!("{store}: request round trips after idling");
            progress(&what);
            let row = request_round_trip(target, args.requests.min(500), Some(ROUND_REST)).await;
            results.keep(&what, row.map(|row| vec![row]));
        }
        if args.wants(BenchScenario::Overhead) {
            let what = format!("{store}: native against component");
            progress(&what);
            results.keep(
                &what,
                wasm_overhead(target, &runtime, args.operations, args.overhead_idle).await,
            );
        }
        for &candidates in &args.candidates {
            let run = |rounds, term| FailoverRun {
                target,
                runtime: &runtime,
                candidates,
                rounds,
                term,
            };
            if args.wants(BenchScenario::Failover) {
                let what = format!("{store}: failover after resign, {candidates} candidates");
                progress(&what);
                let run = run(args.rounds, Duration::from_secs(10));
                let row = failover_after_resign(&run, round_trip.as_ref()).await;
                results.keep(&what, row.map(|row| vec![row]));
            }
            if args.wants(BenchScenario::Release) && target.is_mqtt() {
                for &term in &args.release_terms {
                    let what = format!(
                        "{store}: failover after crash with release on disconnect, {candidates} \
                         candidates, term {}",
                        humantime::format_duration(term)
                    );
                    progress(&what);
                    let run = run(args.release_rounds, term);
                    let row = failover_after_crash_with_release(&run, args.release_delay).await;
                    results.keep(&what, row.map(|row| vec![row]));
                }
            }
            if args.wants(BenchScenario::Crash) {
                let what = format!("{store}: failover after crash, {candidates} candidates");
                progress(&what);
                let run = run(args.crash_rounds, args.crash_term);
                let row = failover_after_crash(&run).await;
                results.keep(&what, row.map(|row| vec![row]));
            }
        }
        if args.wants(BenchScenario::Throughput) && target.is_mqtt() {
            let what = format!("{store}: state-store service throughput");
            progress(&what);
            let options = ThroughputOptions {
                clients: args.clients.clone(),
                duration: args.load_time,
            };
            results.keep(&what, service_throughput(target, &options).await);
        }
    }
    if args.wants(BenchScenario::Density) {
        for &count in &args.density {
            let what = format!("density: {count} candidates in this process");
            progress(&what);
            let options = DensityOptions {
                count,
                term: args.density_term,
                idle_window: args.idle_window,
            };
            results.keep(&what, density(&options).await.map(|row| vec![row]));
        }
    }
    print(&results.rows, args.json)?;
    match results.failed.as_slice() {
        [] => Ok(()),
        failed => anyhow::bail!("{} scenario(s) failed: {}", failed.len(), failed.join("; ")),
    }
}

/// What the scenarios produced. A failing scenario does not throw away the
/// numbers of the others: they are printed, and the run fails at the end.
#[derive(Default)]
struct Results {
    rows: Vec<Row>,
    failed: Vec<String>,
}

impl Results {
    /// Keeps a scenario's rows. A row that carries a violation is printed
    /// like the others (its numbers are the evidence) and fails the run.
    fn keep(&mut self, what: &str, outcome: anyhow::Result<Vec<Row>>) {
        match outcome {
            Ok(rows) => {
                for violation in rows.iter().filter_map(|row| row.violation.as_ref()) {
                    eprintln!("bench: {what} failed: {}", violation.describe());
                    self.failed
                        .push(format!("{what} ({})", violation.describe()));
                }
                self.rows.extend(rows);
            }
            Err(error) => {
                eprintln!("bench: {what} failed: {error:#}");
                self.failed.push(what.to_owned());
            }
        }
    }
}

/// Long runs say what they are doing (on stderr, apart from the results).
fn progress(what: &str) {
    eprintln!("bench: {what} …");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_with_a_violation_is_kept_and_fails_the_run() {
        let mut results = Results::default();
        let good = Row::figures("good", "embedded", vec![Figure::new("x_us", 1.0)]);
        results.keep("good", Ok(vec![good]));
        assert!(results.failed.is_empty());
        let bad = Row::figures("bad", "embedded", Vec::new()).with_violation(Violation {
            what: "early takeover".into(),
            count: 1,
            worst_us: 20.0,
        });
        results.keep("bad", Ok(vec![bad]));
        assert_eq!(results.rows.len(), 2, "the violating row is still printed");
        assert_eq!(results.failed.len(), 1);
        assert!(
            results.failed[0].contains("1 × early takeover"),
            "{:?}",
            results.failed
        );
    }
}
