//! Builds the elector component (the `elector-guest` crate, for
//! `wasm32-wasip2`) and hands its path to `src/main.rs` as
//! `ELECTOR_COMPONENT_ELECTOR_GUEST`, so `cargo run` needs no manual step.

fn main() {
    elector_build_support::component(
        "elector-guest",
        "elector_guest",
        &["guest", "statestore/src"],
    );
}
