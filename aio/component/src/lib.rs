//! `elector-aio.wasm` (form (b) of `docs/aio-dataflow.md`): the elector
//! of `elector-aio` as a component, for operators written in any language.
//! Composed with an operator of the `elector:aio/map-with-election` world
//! (the build does it with `wac-graph`), it leaves a plain AIO `map`
//! operator whose only imports are AIO's and WASI 0.2 clocks and poll.
//!
//! This file is the wit-bindgen glue only: each export converts and calls
//! [`elector_aio::AioCandidate`].

#[cfg(target_arch = "wasm32")]
mod component;
