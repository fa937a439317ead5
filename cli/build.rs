//! Builds the example edge module (`examples/fenced-log`) and the Azure
//! IoT Operations pieces (`aio/component`, `examples/aio-counter`,
//! `examples/aio-singleton`, see `build-support`). The `elector` binary
//! embeds none of them, but the walkthroughs (README, `docs/modules.md`,
//! `docs/aio-dataflow.md`) run them from where `cargo build --release`
//! leaves them, and the tests load them through the
//! `ELECTOR_COMPONENT_*` variables. The singleton operator is composed with
//! elector-aio.wasm here (`ELECTOR_COMPONENT_AIO_SINGLETON_COMPOSED`).

use elector_build_support::{component, compose};

fn main() {
    component(
        "elector-example-fenced-log",
        "elector_example_fenced_log",
        &["examples/fenced-log"],
    );
    let aio_sources = ["aio", "guest/src", "statestore/src"];
    let elector_aio = component(
        "elector-aio-component",
        "elector_aio_component",
        &aio_sources,
    );
    component(
        "elector-example-aio-counter",
        "elector_example_aio_counter",
        &["examples/aio-counter", "aio", "guest/src", "statestore/src"],
    );
    let singleton = component(
        "elector-example-aio-singleton",
        "elector_example_aio_singleton",
        &["examples/aio-singleton", "aio"],
    );
    let composed = singleton.with_file_name("aio_singleton_composed.wasm");
    compose::plug(&elector_aio, &singleton, &composed)
        .unwrap_or_else(|error| panic!("composing the singleton with elector-aio.wasm: {error}"));
    println!(
        "cargo:rustc-env=ELECTOR_COMPONENT_AIO_SINGLETON_COMPOSED={}",
        composed.display()
    );
}
