//! The `elector` command line.

use std::time::Duration;

use clap::{Parser, Subcommand};

/// Leader election for sandboxed edge modules.
///
/// The election logic runs as a WebAssembly component (WASI 0.2) inside
/// this Wasmtime host, one sandbox per candidate, over the Azure IoT
/// Operations state-store semantics.
#[derive(Debug, Parser)]
#[command(name = "elector", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run sandboxed candidates on an embedded store and show them elect a
    /// leader, renew, and fail over after a resignation and after a leader
    /// stops renewing. Ends by itself in a few seconds.
    Demo(DemoArgs),
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
}

impl DemoArgs {
    pub fn into_options(self) -> crate::demo::DemoOptions {
        crate::demo::DemoOptions {
            candidates: usize::from(self.candidates),
            term: Duration::from_millis(self.term),
            json: self.json,
            position: self.position,
        }
    }
}
