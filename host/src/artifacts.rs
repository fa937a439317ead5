//! The component built by `build.rs`, embedded in the library (and so in
//! the `elector` binary) so that the `elector` executable is all an
//! operator has to ship.

/// The elector component (`guest/`), built for `wasm32-wasip2`.
pub const ELECTOR_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/elector_guest.wasm"));
