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
    /// Serve the AIO state-store protocol on any MQTT 5 broker (for
    /// development and tests without an AIO broker).
    Statestore(StatestoreArgs),
    /// Measure request round trips and failover latency; prints a table
    /// (or JSON lines). Uses the embedded store unless a broker is given.
    Bench(BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Run the state-store service inside this process (with --broker).
    #[arg(long)]
    pub with_service: bool,
    /// Request round trips to time.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Failover rounds per candidate count.
    #[arg(long, default_value_t = 200)]
    pub rounds: usize,
    /// Candidate counts for the failover scenario.
    #[arg(long, value_delimiter = ',', default_value = "3,50")]
    pub candidates: Vec<usize>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

/// A duration such as `5s`, `500ms` or `2m`.
fn duration(text: &str) -> Result<Duration, String> {
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

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many candidates campaign (each in its own sandbox).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub candidates: u16,
    /// Election term in milliseconds; renewals run every third of it.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(30..=60_000))]
    pub term: u64,
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
            term: Duration::from_millis(self.term),
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
