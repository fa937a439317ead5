//! The `elector` command line.

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::mqtt::BrokerArgs;

/// Leader election for sandboxed edge modules.
///
/// The election logic runs as a WebAssembly component (WASI 0.2) inside
/// this Wasmtime host, one sandbox per candidate, over the Azure IoT
/// Operations state store: in process (demo), or over MQTT 5 against an AIO
/// broker or `elector statestore` on any MQTT 5 broker. Broker flags can also
/// come from the AIO environment (AIO_BROKER_HOSTNAME, AIO_MQTT_USE_TLS, ...).
#[derive(Debug, Parser)]
#[command(name = "elector", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run sandboxed candidates and show them elect a leader, renew, and
    /// fail over after a resignation and after a leader stops renewing.
    /// Uses an embedded store unless a broker is given. Ends by itself.
    Demo(DemoArgs),
    /// Campaign for POSITION, print the fencing token once elected, and hold
    /// it until Ctrl-C or SIGTERM, then resign. Exits with 3 if leadership
    /// is lost first.
    Campaign(CampaignArgs),
    /// Print who leads POSITION.
    Leader(PositionArgs),
    /// Print who leads POSITION, then every change, until stopped.
    Observe(PositionArgs),
    /// Release POSITION if it is held under --name. Exits with 1 if it was not.
    Resign(ResignArgs),
    /// Print the value of a state-store key (for example an edge module's
    /// data: module/POSITION/...). Exits with 1 if the key does not exist.
    Get(GetArgs),
    /// Serve the AIO state-store protocol on any MQTT 5 broker (for
    /// development and tests without an AIO broker).
    Statestore(StatestoreArgs),
    /// Run replicas of an edge module (a WASI component of the edge-module
    /// world) active/passive: the elected replica works, the others wait.
    /// Crashed modules are restarted. Runs until Ctrl-C or SIGTERM, then
    /// resigns.
    Run(RunArgs),
    /// Measure performance: startup, round trips, WASM overhead, failover
    /// after resign and after a crash, service throughput and density.
    /// Prints a table with the goal of each number (or JSON lines). Runs on
    /// the embedded store, and over MQTT with --broker or --local-broker.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The module: a .wasm component of the elector:election/edge-module world.
    pub module: std::path::PathBuf,
    /// The position the replicas campaign for.
    #[arg(long)]
    pub position: String,
    /// Replicas to run in this process.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Replica name (with several replicas: NAME-1, NAME-2, ...)
    /// [default: the host name and process id].
    #[arg(long)]
    pub name: Option<String>,
    /// Key prefix the module's keys live under [default: module/POSITION/].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Election term; renewals run every third of it.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub term: Duration,
    /// How often the leading replica's module gets `on-tick`.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub tick: Duration,
    /// Linear memory per module instance, in MiB.
    #[arg(long, default_value_t = 64)]
    pub module_memory_mib: usize,
    /// CPU a module hook may use in all, host calls included.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub module_cpu: Duration,
    /// Let modules write to the host's stdout and stderr.
    #[arg(long)]
    pub allow_stdio: bool,
    /// Let modules read the host's environment variables.
    #[arg(long)]
    pub allow_env: bool,
    /// Let modules use the network (TCP, UDP, name lookups).
    #[arg(long)]
    pub allow_network: bool,
    /// Give modules a directory: HOST_PATH or HOST_PATH::GUEST_PATH.
    #[arg(long, value_name = "DIR")]
    pub allow_dir: Vec<String>,
    /// Serve Prometheus metrics on /metrics and health on /healthz here.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Longest wait for any state-store answer.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub request_timeout: Duration,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

impl RunArgs {
    pub fn into_request(self) -> (crate::run::RunRequest, BrokerArgs) {
        let dirs = self
            .allow_dir
            .iter()
            .map(|spec| match spec.split_once("::") {
                Some((host, guest)) => (host.into(), guest.to_owned()),
                None => (spec.into(), spec.clone()),
            })
            .collect();
        let name = self.name.unwrap_or_else(default_replica_name);
        let request = crate::run::RunRequest {
            module: self.module,
            position: self.position,
            replicas: self.replicas,
            name,
            prefix: self.prefix,
            term: self.term,
            tick: self.tick,
            limits: crate::module::ModuleLimits {
                memory: self.module_memory_mib << 20,
                compute: self.module_cpu,
                ..crate::module::ModuleLimits::default()
            },
            grants: crate::module::Grants {
                stdio: self.allow_stdio,
                env: self.allow_env,
                dirs,
                network: self.allow_network,
            },
            metrics_addr: self.metrics_addr,
            request_timeout: self.request_timeout,
        };
        (request, self.broker)
    }
}

/// `host-pid`: unique on a machine, readable in logs.
fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "elector".into());
    format!("{}-{}", host.replace(':', "-"), std::process::id())
}

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

/// A duration such as `5s`, `500ms` or `2m`. Every duration flag takes
/// this one form; a bare number is refused rather than guessed at.
pub fn duration(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} has no unit: write it as {text}ms or {text}s, for example"
        ));
    }
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
pub struct ConnectionArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Longest wait for any state-store answer.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub request_timeout: Duration,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The demo's term: long enough that renewals show, short enough that the
/// demo ends in a minute or so.
fn demo_term(text: &str) -> Result<Duration, String> {
    let term = duration(text)?;
    if !(Duration::from_millis(30)..=Duration::from_secs(60)).contains(&term) {
        return Err(format!("{text} is outside 30ms..60s"));
    }
    Ok(term)
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many candidates campaign (each in its own sandbox).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub candidates: u16,
    /// Election term, 30ms to 60s; renewals run every third of it.
    #[arg(long, default_value = "1s", value_parser = demo_term)]
    pub term: Duration,
    /// Print the timeline as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// The position (state-store key) the candidates campaign for.
    #[arg(long, default_value = "demo-leader")]
    pub position: String,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

impl DemoArgs {
    /// The options, with the store the flags name (embedded if none).
    pub async fn into_options(self) -> anyhow::Result<crate::demo::DemoOptions> {
        use std::sync::Arc;
        let (store, store_name): (Arc<dyn crate::store::StateStoreBackend>, String) =
            if self.broker.names_a_broker() {
                let store = crate::commands::connect(&self.broker, Duration::from_secs(5)).await?;
                let settings = self.broker.settings()?;
                let name = format!("the state store at {}:{}", settings.hostname, settings.port);
                (Arc::new(store), name)
            } else {
                (
                    Arc::new(crate::store::EmbeddedStore::new()),
                    "the embedded store".into(),
                )
            };
        Ok(crate::demo::DemoOptions {
            store,
            store_name,
            candidates: usize::from(self.candidates),
            term: self.term,
            json: self.json,
            position: self.position,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// The position (state-store key) to campaign for.
    pub position: String,
    /// This candidate's name (the lock value).
    #[arg(long)]
    pub name: String,
    /// Lock value `name:session-id`.
    #[arg(long)]
    pub session_id: Option<String>,
    /// Election term, such as 5s.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub term: Duration,
    /// Renew automatically every third of the term while held.
    #[arg(long)]
    pub renew: bool,
    /// Give up if not elected within this time.
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
pub struct PositionArgs {
    /// The position (state-store key).
    pub position: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The key.
    pub key: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
pub struct ResignArgs {
    /// The position (state-store key).
    pub position: String,
    /// The name the position is held under.
    #[arg(long)]
    pub name: String,
    /// The session id it was campaigned with, if any.
    #[arg(long)]
    pub session_id: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatestoreArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Node id in the versions this service issues.
    #[arg(long, default_value = "elector-statestore")]
    pub node_id: String,
    /// Most keys stored at once.
    #[arg(long, default_value_t = 100_000)]
    pub max_keys: usize,
    /// Largest value accepted, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_value_bytes: usize,
}
