//! The Wasmtime host for the elector component, as a library to embed:
//! everything a Rust program needs to run sandboxed leader-election
//! candidates and edge modules against a state store, and nothing of the
//! `elector` command line (`elector-cli`), its HTTP endpoint (`elector-ops`)
//! or the MQTT state-store service (`elector-service`), which are crates of
//! their own so that an embedder pulls in no argument parser, HTTP server
//! or service it does not run.
//!
//! - [`runtime`]: the engine, the compiled component, sandboxes.
//! - [`embed`]: the elector's imports for another Wasmtime host
//!   ([`embed::add_to_linker`], [`embed::ElectorView`]).
//! - [`sandbox`]: one instance: its imports and typed calls into it.
//! - [`store`]: the state-store backends behind the `state-store` import.
//! - [`client`]: [`LeaderElectionClient`], the Rust API over one sandboxed
//!   candidate.
//! - [`mqtt`]: how to reach an MQTT broker, shared by the MQTT store client
//!   and the state-store service.
//! - [`module`]: edge modules, the `edge-module` world's host side.
//! - [`artifacts`]: the embedded elector component; [`errors`]: how
//!   failures read.

pub mod aio;
pub mod artifacts;
pub mod bindings;
pub mod budget;
pub mod client;
pub mod clock;
pub mod embed;
pub mod errors;
pub mod module;
pub mod mqtt;
pub mod runtime;
pub mod sandbox;
pub mod store;

pub use client::{
    AutomaticRenewal, ClientError, ClientOptions, LeaderElectionClient, ResignOptions,
};
pub use runtime::{ElectorRuntime, RuntimeConfig};
pub use store::{EmbeddedStore, StateStoreBackend};
