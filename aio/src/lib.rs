//! The elector for Azure IoT Operations data-flow operators, linked into a
//! Rust operator (form (a) of `docs/aio-dataflow.md`; form (b), the
//! component `elector-aio.wasm` for operators in any language, wraps this
//! crate in `aio/component`).
//!
//! It runs the same election core as `elector.wasm` (`elector-guest`), with
//! its ports served by what AIO's host gives an operator:
//!
//! - the store is AIO's `wasm-graph:processor/state-store` import, every
//!   request carrying a bounded `timeout`;
//! - there are no key notifications, so a waiting campaign wakes at the
//!   holder's expected expiry (the core's own timer) and re-reads the
//!   position every poll interval ([`watch`]), both bounded by the call's
//!   timeout: one `process` call never stalls the graph;
//! - time is `wasi:clocks`, and waiting is `wasi:io/poll` (a timer's
//!   pollable, [`executor`]);
//! - events go to AIO's `logger`.
//!
//! So an operator linking this crate imports AIO's interfaces and WASI 0.2
//! clocks and poll, nothing else from the elector (see
//! `tests/aio/imports.rs`).
//!
//! On other targets only the conversions between AIO's and the store's
//! versions ([`convert`]) are built, so they are tested natively.

pub mod convert;

#[cfg(target_arch = "wasm32")]
pub mod bindings;
#[cfg(target_arch = "wasm32")]
mod candidate;
#[cfg(target_arch = "wasm32")]
pub mod executor;
#[cfg(target_arch = "wasm32")]
mod identity;
#[cfg(target_arch = "wasm32")]
mod no_cli;
#[cfg(target_arch = "wasm32")]
mod ports;
#[cfg(target_arch = "wasm32")]
pub mod watch;

#[cfg(target_arch = "wasm32")]
pub use candidate::{AioCandidate, AioOptions};
pub use elector_guest::{CampaignResponse, ElectionError, Hlc};
#[cfg(target_arch = "wasm32")]
pub use identity::instance_name;
