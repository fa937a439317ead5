//! `elector dataflow`'s flags.

use std::path::PathBuf;
use std::time::Duration;

use super::values::duration;
use crate::cli::BrokerArgs;

/// `KEY=VALUE`, an operator's configuration property.
fn property(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{text} is not KEY=VALUE"))
}

#[derive(Debug, clap::Args)]
pub struct DataflowArgs {
    /// The operator: a WASI 0.2 component of AIO's `map-impl` world.
    pub operator: PathBuf,
    /// Instances of the operator running at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub instances: u16,
    /// Messages each instance processes.
    #[arg(long, default_value_t = 500)]
    pub messages: usize,
    /// Time between two messages to one instance.
    #[arg(long, default_value = "10ms", value_parser = duration)]
    pub interval: Duration,
    /// Every this many messages is an over-temperature reading (0: none).
    #[arg(long, default_value_t = 3)]
    pub over_every: usize,
    /// A configuration property for the operator's `init` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = property)]
    pub properties: Vec<(String, String)>,
    /// Stop the leading instance this long after the start, without
    /// resigning, and measure the hand-over.
    #[arg(long, value_parser = duration)]
    pub stop_leader_after: Option<Duration>,
    /// Print this state-store key's value at the end.
    #[arg(long)]
    pub read_key: Option<String>,
    /// Bound of a state-store request whose operator names none.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub request_timeout: Duration,
    /// Print the operator's Prometheus metrics at the end.
    #[arg(long)]
    pub metrics: bool,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Without a broker, the store is inside this process.
    #[command(flatten)]
    pub broker: BrokerArgs,
}
