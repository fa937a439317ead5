//! A host for Azure IoT Operations' WebAssembly `map` operators, as AIO's
//! data-flow graph host runs them: the operator world `map-impl` of
//! `wasm-graph:processor@1.1.0` (`wit/aio`), with
//!
//! - `state-store` over any [`StateStoreBackend`] (the embedded store, or
//!   the AIO / `elector statestore` store over MQTT), each request bounded
//!   by the operator's `timeout` or the host's default ([`state_store`]);
//! - `logger` into `tracing` ([`logger`]); `metrics` into a Prometheus
//!   registry ([`metrics`]); the `types` interface's host buffers
//!   ([`buffer`]);
//! - WASI 0.2 clocks and poll, and no other WASI: what elector assumes of
//!   AIO's host (`docs/aio-dataflow.md`), so an operator needing more does
//!   not load here.
//!
//! [`dataflow`] runs N instances of one operator concurrently over a
//! message stream, as a data-flow profile with N instances would.
//!
//! [`StateStoreBackend`]: crate::store::StateStoreBackend

pub mod buffer;
pub mod dataflow;
pub mod instance;
pub mod logger;
pub mod metrics;
pub mod state_store;

mod bindings {
    wasmtime::component::bindgen!({
        world: "wasm-graph:processor/map-impl",
        path: "../wit/aio",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasm-graph:processor/types.buffer": crate::aio::buffer::Buffer,
        },
    });
}

pub use bindings::MapImpl;
pub use bindings::wasm_graph::processor::state_store as wit_state_store;
pub use bindings::wasm_graph::processor::{hybrid_logical_clock, metrics as wit_metrics, types};
pub use bindings::wasm_graph::processor::{logger as wit_logger, state_store_types};
