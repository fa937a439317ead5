//! Builds the example edge module (`examples/fenced-log`) and the Azure
//! IoT Operations pieces (`aio/component`, `examples/aio-counter`,
//! `examples/aio-counter-composed`, `examples/aio-singleton`, see
//! `build-support`). The `elector` binary
//! embeds none of them, but the walkthroughs (README, `docs/modules.md`,
//! `docs/aio-dataflow.md`) run them from where `cargo build --release`
//! leaves them, and the tests load them through the
//! `ELECTOR_COMPONENT_*` variables. The operators written against
//! elector-aio.wasm are composed with it here
//! (`ELECTOR_COMPONENT_AIO_SINGLETON_COMPOSED`,
//! `ELECTOR_COMPONENT_AIO_COUNTER_COMPOSED`).

use std::path::Path;

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
        &[
            "examples/aio-singleton",
            "aio",
            "guest/src",
            "statestore/src",
        ],
    );
    let counter = component(
        "elector-example-aio-counter-composed",
        "elector_example_aio_counter_composed",
        &[
            "examples/aio-counter-composed",
            "examples/aio-counter",
            "aio",
        ],
    );
    with_elector(&elector_aio, &singleton, "aio_singleton_composed");
    with_elector(&elector_aio, &counter, "aio_counter_composed");
}

/// Composes `operator` with elector-aio.wasm into `name.wasm` next to it;
/// sets `ELECTOR_COMPONENT_<NAME>` to its path.
fn with_elector(elector_aio: &Path, operator: &Path, name: &str) {
    let composed = operator.with_file_name(format!("{name}.wasm"));
    compose::plug(elector_aio, operator, &composed).unwrap_or_else(|error| {
        panic!(
            "composing {} with elector-aio.wasm: {error}",
            operator.display()
        )
    });
    println!(
        "cargo:rustc-env=ELECTOR_COMPONENT_{}={}",
        name.to_uppercase(),
        composed.display()
    );
}
