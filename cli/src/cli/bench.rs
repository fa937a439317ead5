//! `elector bench`'s flags.

use std::time::Duration;

use super::values::duration;
use crate::cli::BrokerArgs;

/// What `elector bench` can measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchScenario {
    /// Size of elector.wasm.
    Size,
    /// Process start to first leader, cold and with the component cached.
    Startup,
    /// One state-store request, round trip.
    Rtt,
    /// The same election logic natively and as the component.
    Overhead,
    /// Failover after the leader resigns.
    Failover,
    /// Failover after the leader crashes (from the end of its term).
    Crash,
    /// Failover after the leader crashes, with release on disconnect (from
    /// the crash; MQTT only).
    Release,
    /// State-store service throughput and latency (MQTT only).
    Throughput,
    /// Many candidates in one process: memory, instantiation, idle CPU.
    Density,
}

#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Scenarios to run (default: all; MQTT ones need a broker).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<BenchScenario>,
    /// Start mosquitto (set_tcp_nodelay on) on a free port and the
    /// state-store service as a separate process, and measure over MQTT
    /// as well as on the embedded store.
    #[arg(long, conflicts_with_all = ["broker", "hostname", "with_service"])]
    pub local_broker: bool,
    /// With --local-broker: how the state-store services keep their state,
    /// one broker and service each.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "durable,in-memory"
    )]
    pub store_modes: Vec<crate::bench::StoreMode>,
    /// With `--store-modes etcd`: the etcd cluster the frontends use
    /// (members' `http://HOST:PORT`, comma-separated).
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    pub etcd: Vec<String>,
    /// Run the state-store service inside this process (with --broker).
    #[arg(long)]
    pub with_service: bool,
    /// Request round trips to time.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Iterations of each operation for the WASM-overhead comparison.
    #[arg(long, default_value_t = 2000)]
    pub operations: usize,
    /// Idle this long before each timed operation of the WASM-overhead
    /// scenario (the thread sleeps), as a network wait leaves the CPU:
    /// shows on the embedded store what a cold cache costs each side.
    #[arg(long, value_parser = duration)]
    pub overhead_idle: Option<Duration>,
    /// Failover rounds per candidate count (after resign).
    #[arg(long, default_value_t = 200)]
    pub rounds: usize,
    /// Candidate counts for the failover scenarios.
    #[arg(long, value_delimiter = ',', default_value = "3,50")]
    pub candidates: Vec<usize>,
    /// Crashes per candidate count.
    #[arg(long, default_value_t = 100)]
    pub crash_rounds: usize,
    /// The crashing leaders' term.
    #[arg(long, default_value = "250ms", value_parser = duration)]
    pub crash_term: Duration,
    /// The crashing leaders' terms with release on disconnect.
    #[arg(long, value_delimiter = ',', default_value = "1s,30s", value_parser = duration)]
    pub release_terms: Vec<Duration>,
    /// Crashes per term and candidate count with release on disconnect
    /// (each takes about the Will's delay).
    #[arg(long, default_value_t = 12)]
    pub release_rounds: usize,
    /// The Will Delay Interval of the release scenario.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub release_delay: Duration,
    /// Candidate counts for the density scenario.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub density: Vec<usize>,
    /// Term of the density candidates; they renew every third of it.
    #[arg(long, default_value = "3s", value_parser = duration)]
    pub density_term: Duration,
    /// How long the density scenario watches idle CPU.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub idle_window: Duration,
    /// Concurrent client counts for the service throughput scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub clients: Vec<usize>,
    /// How long each throughput measurement runs.
    #[arg(long, default_value = "3s", value_parser = duration)]
    pub load_time: Duration,
    /// Process starts timed per startup variant.
    #[arg(long, default_value_t = 10)]
    pub startup_runs: usize,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

impl BenchArgs {
    /// Whether `scenario` was asked for (everything, when nothing was).
    pub fn wants(&self, scenario: BenchScenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}
