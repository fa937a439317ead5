//! The operations endpoint of elector's long-running commands: an HTTP
//! server for `/metrics` (OpenMetrics text), `/healthz` and `/readyz`
//! ([`serve`]), the [`Readiness`] conditions behind `/readyz`, the
//! `elector_build_info` metric ([`register_build_info`]), and
//! [`registered`] for the metrics each command registers.
//!
//! It is a crate of its own because both the `elector` CLI (`campaign`,
//! `run`) and the state-store service (`elector statestore`) serve one,
//! each with its own metrics and checks, while the embeddable library
//! (`elector-host`) needs no HTTP server at all: the endpoint knows nothing
//! of elections, modules or the store, only what to expose and what to
//! check.

mod build_info;
mod readiness;
mod registered;
mod server;

pub use build_info::register as register_build_info;
pub use readiness::Readiness;
pub use registered::registered;
pub use server::{Check, Endpoints, Exposition, serve, verdict};
