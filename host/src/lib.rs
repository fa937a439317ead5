//! The Wasmtime host for the elector component.
//!
//! - [`runtime`]: the engine, the compiled component, sandboxes.
//! - [`embed`]: the elector's imports for another Wasmtime host
//!   ([`embed::add_to_linker`], [`embed::ElectorView`]).
//! - [`sandbox`]: one instance: its imports and typed calls into it.
//! - [`store`]: the state-store backends behind the `state-store` import.
//! - [`client`]: [`LeaderElectionClient`], the Rust API over one sandboxed
//!   candidate.
//! - [`demo`], [`cli`], [`commands`], [`run`]: the `elector` command;
//!   [`exit`], [`logging`], [`shutdown`], [`errors`]: how it reports and
//!   stops.

pub mod artifacts;
pub mod bench;
pub mod bindings;
pub mod budget;
pub mod cli;
pub mod client;
pub mod clock;
pub mod commands;
pub mod demo;
pub mod embed;
pub mod errors;
pub mod exit;
pub mod logging;
pub mod module;
pub mod mqtt;
pub mod ops;
pub mod output;
pub mod run;
pub mod runtime;
pub mod sandbox;
pub mod service;
pub mod shutdown;
pub mod store;

pub use client::{
    AutomaticRenewal, ClientError, ClientOptions, LeaderElectionClient, ResignOptions,
};
pub use runtime::{ElectorRuntime, RuntimeConfig};
pub use store::{EmbeddedStore, StateStoreBackend};
