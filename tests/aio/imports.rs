//! What each form of the AIO elector imports: AIO's operator interfaces
//! and WASI 0.2 clocks and poll, nothing else. Read from the components'
//! own types (wasmtime), so a new import anywhere in them (a `wasi:cli`
//! pulled in by the standard library, say) fails these tests.

use elector_host::aio::instance::AioOperator;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::artifacts::{COUNTER, COUNTER_COMPOSED, ELECTOR_AIO, SINGLETON, SINGLETON_SOCKET, read};

/// Interfaces of AIO's operator world (`wasm-graph:processor@1.1.0`).
const AIO: &[&str] = &[
    "wasm-graph:processor/state-store@1.1.0",
    "wasm-graph:processor/state-store-types@1.1.0",
    "wasm-graph:processor/hybrid-logical-clock@1.1.0",
    "wasm-graph:processor/logger@1.1.0",
    "wasm-graph:processor/metrics@1.1.0",
    "wasm-graph:processor/types@1.1.0",
];
/// WASI 0.2 interfaces allowed besides, any 0.2 patch version.
const WASI: &[&str] = &[
    "wasi:clocks/monotonic-clock@0.2.",
    "wasi:clocks/wall-clock@0.2.",
    "wasi:io/poll@0.2.",
];

fn imports_and_exports(path_or_bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let engine = Engine::new(&Config::new()).unwrap();
    let component = Component::new(&engine, path_or_bytes).expect("a component");
    let ty = component.component_type();
    (
        ty.imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
        ty.exports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
    )
}

/// The imports outside AIO's world and WASI clocks/poll, besides `extra`.
fn foreign(imports: &[String], extra: &[&str]) -> Vec<String> {
    imports
        .iter()
        .filter(|name| {
            !AIO.contains(&name.as_str())
                && !extra.contains(&name.as_str())
                && !WASI.iter().any(|prefix| name.starts_with(prefix))
        })
        .cloned()
        .collect()
}

#[test]
fn elector_aio_wasm_imports_only_aio_interfaces_and_wasi_clocks_and_poll() {
    let (imports, exports) = imports_and_exports(&read(ELECTOR_AIO));
    assert_eq!(
        foreign(&imports, &[]),
        Vec::<String>::new(),
        "imports: {imports:?}"
    );
    assert!(imports.contains(&"wasm-graph:processor/state-store@1.1.0".to_owned()));
    assert_eq!(
        exports,
        vec!["elector:aio/leader-election@0.1.0".to_owned()]
    );
}

/// Form (a) is a crate: checked through an operator that links it.
#[test]
fn an_operator_with_the_elector_crate_imports_only_aio_interfaces_and_wasi_clocks_and_poll() {
    let (imports, exports) = imports_and_exports(&read(COUNTER));
    assert_eq!(
        foreign(&imports, &[]),
        Vec::<String>::new(),
        "imports: {imports:?}"
    );
    assert_eq!(exports, vec!["wasm-graph:processor/map@1.1.0".to_owned()]);
}

/// Form (b) composed: the singleton and the composed counter.
#[test]
fn the_composed_operators_are_plain_aio_map_operators() {
    let (socket_imports, _) = imports_and_exports(&read(SINGLETON_SOCKET));
    assert!(socket_imports.contains(&"elector:aio/leader-election@0.1.0".to_owned()));
    for composed in [SINGLETON, COUNTER_COMPOSED] {
        let (imports, exports) = imports_and_exports(&read(composed));
        assert_eq!(
            foreign(&imports, &[]),
            Vec::<String>::new(),
            "{composed}: {imports:?}"
        );
        assert_eq!(exports, vec!["wasm-graph:processor/map@1.1.0".to_owned()]);
        AioOperator::load(&read(composed)).expect("the composed operator loads in the AIO host");
    }
}

/// The check can fail: `elector.wasm` (built with the standard library's
/// default imports, for hosts with full WASI) imports `wasi:cli` and
/// `elector:election`, and the check names them; the AIO host refuses to
/// load it.
#[test]
fn a_component_importing_more_is_caught_and_refused() {
    let wasm = elector_host::artifacts::ELECTOR_WASM;
    let (imports, _) = imports_and_exports(wasm);
    let foreign = foreign(&imports, &[]);
    assert!(
        foreign.iter().any(|name| name.starts_with("wasi:cli/")),
        "{foreign:?}"
    );
    assert!(
        foreign
            .iter()
            .any(|name| name.starts_with("elector:election/")),
        "{foreign:?}"
    );
    let refused = AioOperator::load(wasm).err().expect("refused").to_string();
    assert!(refused.contains("does not give"), "{refused}");
}
