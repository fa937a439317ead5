//! Behaviour of the real elector component (`elector.wasm`, built from
//! `guest/`), loaded by the Wasmtime host and driven through
//! `LeaderElectionClient`, on the embedded store.
//!
//! Timing assertions are generous bounds that only guard against hangs;
//! exact timings are checked natively in the guest's simulated world.

mod cli;
mod contention;
mod isolation;
mod observe;
mod renewal;
mod support;
mod update;
mod windows;
