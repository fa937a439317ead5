//! The `elector` command line: each command's flags, checked while they are
//! parsed (see [`values`]) so that a wrong argument is refused before
//! anything connects.

mod bench;
mod broker;
mod campaign;
mod dataflow;
mod demo;
mod position;
mod run;
mod store;
pub mod values;

use clap::{Parser, Subcommand};

pub use bench::{BenchArgs, BenchScenario};
pub use broker::{BROKER_HEADING, BrokerArgs};
pub use campaign::CampaignArgs;
pub use dataflow::DataflowArgs;
pub use demo::DemoArgs;
pub use position::{GetArgs, PositionArgs, ResignArgs};
pub use run::RunArgs;
pub use store::{ConnectionArgs, StoreArgs, StoreChoice, UsageError};
pub use values::duration;

use crate::logging::LogFormat;

/// Leader election for sandboxed edge modules.
///
/// The election logic runs as a WebAssembly component (WASI 0.2) inside
/// this Wasmtime host, one sandbox per candidate, over the Azure IoT
/// Operations state store: over MQTT 5 against an AIO broker or
/// `elector statestore` on any MQTT 5 broker, or in process. Broker flags
/// can also come from the AIO environment (AIO_BROKER_HOSTNAME,
/// AIO_MQTT_USE_TLS, ...). Commands that campaign or read a store refuse to
/// start without one: give --broker, the AIO environment, or --embedded.
#[derive(Debug, Parser)]
// `about` is the short help (`-h`); it was the description of the crate
// that held the binary, elector-host, and is kept word for word.
#[command(
    name = "elector",
    version,
    about = "Wasmtime host for the elector component: state-store backends, timers, sandboxed candidates and the elector CLI",
    long_about
)]
pub struct Cli {
    /// Log format on stderr (RUST_LOG sets the level).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run sandboxed candidates and show them elect a leader, renew, and
    /// fail over after a resignation and after a leader stops renewing.
    /// Uses an embedded store unless a broker is given. Ends by itself.
    Demo(DemoArgs),
    /// Campaign for POSITION; once elected, print the fencing token and
    /// hold the position (renewing it) until Ctrl-C or SIGTERM, then
    /// resign. With -- COMMAND, run COMMAND while leading.
    #[command(after_help = crate::exit::campaign_help())]
    Campaign(CampaignArgs),
    /// Print who leads POSITION.
    Leader(PositionArgs),
    /// Print who leads POSITION, then every change, until stopped.
    Observe(PositionArgs),
    /// Release POSITION if it is held under --name (by any process).
    /// Exits with 1 if it was not.
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
    /// Run instances of an Azure IoT Operations map operator (a component
    /// of AIO's map-impl world) over a message stream, in a host with AIO's
    /// interfaces; print each instance's outcome. Embedded store unless a
    /// broker is given.
    Dataflow(DataflowArgs),
}

impl Command {
    /// Whether the command was asked for JSON lines, errors included.
    pub fn json(&self) -> bool {
        match self {
            Command::Demo(args) => args.json,
            Command::Campaign(args) => args.connection.json,
            Command::Leader(args) | Command::Observe(args) => args.connection.json,
            Command::Resign(args) => args.connection.json,
            Command::Get(args) => args.connection.json,
            Command::Bench(args) => args.json,
            Command::Dataflow(args) => args.json,
            Command::Statestore(_) | Command::Run(_) => false,
        }
    }

    /// The log filter unless RUST_LOG says otherwise: the services log
    /// their state changes, the other commands only warnings.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Run(_) | Command::Statestore(_) => crate::logging::SERVICE_DEFAULT,
            _ => crate::logging::COMMAND_DEFAULT,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct StatestoreArgs {
    /// Node id in the versions this service issues.
    #[arg(long, default_value = "elector-statestore")]
    pub node_id: String,
    /// Most keys stored at once.
    #[arg(long, default_value_t = elector_statestore::Limits::default().max_keys)]
    pub max_keys: usize,
    /// Largest value accepted, in bytes.
    #[arg(long, default_value_t = elector_statestore::Limits::default().max_value_bytes)]
    pub max_value_bytes: usize,
    /// Most bytes all keys and values may take: the store's memory budget.
    #[arg(long, default_value_t = elector_statestore::Limits::default().max_store_bytes)]
    pub max_store_bytes: usize,
    /// Most KEYNOTIFY registrations in all (any client can name any id).
    #[arg(long, default_value_t = elector_statestore::Limits::default().max_watches)]
    pub max_watches: usize,
    /// Most clients watching one key: what one change may cost.
    #[arg(long, default_value_t = elector_statestore::Limits::default().max_watchers_per_key)]
    pub max_watchers_per_key: usize,
    /// A client's registrations lapse once it has sent nothing for this
    /// long (a service behind a plain broker cannot see it disconnect).
    #[arg(long, default_value = "24h", value_parser = values::duration)]
    pub watch_lease: std::time::Duration,
    /// Serve Prometheus metrics on /metrics (requests, latency, keys,
    /// watches, expirations, drops), health on /healthz and readiness on
    /// /readyz here.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Keep the store in a database here (created if missing): every change
    /// is on disk before it is answered, and a restart, even `kill -9`,
    /// loses nothing acknowledged. Default: elector/statestore/HOST-PORT
    /// under the user's state directory (~/.local/state on Linux).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["in_memory", "etcd"])]
    pub data_dir: Option<std::path::PathBuf>,
    /// Serve as one of any number of frontends of a store kept in this etcd
    /// cluster (members' `http://HOST:PORT`, comma-separated): no frontend
    /// holds state of its own, and the store survives the loss of any
    /// frontend and of a minority of etcd members (docs/statestore.md).
    /// Needs a build with `--features etcd`.
    #[arg(
        long,
        value_name = "URL",
        value_delimiter = ',',
        conflicts_with = "in_memory"
    )]
    pub etcd: Vec<String>,
    /// Keep the store in memory only: a restart loses every key, lock and
    /// registration, so after a start no position is granted for
    /// --lock-delay.
    #[arg(long)]
    pub in_memory: bool,
    /// For this long after a start without state, no SET NX/NEX takes an
    /// absent key, so nobody wins a position whose previous holder may still
    /// believe it leads; make it longer than any client's term. Default: 60s
    /// with --in-memory; 0s for a new --data-dir (give it when replacing a
    /// store whose disk was lost). A restored store needs none.
    #[arg(long, value_parser = values::duration)]
    pub lock_delay: Option<std::time::Duration>,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

impl StatestoreArgs {
    /// Where the store keeps its state, as the flags say.
    pub fn storage(
        &self,
        settings: &elector_host::mqtt::ConnectionSettings,
    ) -> anyhow::Result<elector_service::Storage> {
        if !self.etcd.is_empty() {
            return Ok(elector_service::Storage::Etcd {
                endpoints: self.etcd.clone(),
                lock_delay_if_new: self.lock_delay.unwrap_or_default(),
            });
        }
        if self.in_memory {
            return Ok(elector_service::Storage::InMemory {
                lock_delay: self
                    .lock_delay
                    .unwrap_or(elector_service::DEFAULT_LOCK_DELAY),
            });
        }
        let data_dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir(&settings.hostname, settings.port)?,
        };
        Ok(elector_service::Storage::Durable {
            data_dir,
            lock_delay_if_new: self.lock_delay.unwrap_or_default(),
        })
    }
}

/// `<state dir>/elector/statestore/<host>-<port>`: one directory per
/// broker, so services for two brokers on one machine never share one.
fn default_data_dir(host: &str, port: u16) -> anyhow::Result<std::path::PathBuf> {
    let base = dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no state directory for this user (is HOME set?): give --data-dir DIR, \
                 or --in-memory"
            )
        })?;
    let broker: String = format!("{host}-{port}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(base.join("elector").join("statestore").join(broker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
