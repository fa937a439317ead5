//! The elector inside Azure IoT Operations data-flow operators, through the
//! real components (`aio/`, `examples/aio-*`) in the AIO host of
//! `elector_host::aio` (see `docs/aio-dataflow.md`): what each form
//! imports, the counter and the singleton examples, over the embedded
//! store and over MQTT to `elector statestore`.

#[path = "../mqtt/support.rs"]
#[allow(dead_code)]
mod support;

mod artifacts;
mod counter;
mod imports;
mod singleton;
