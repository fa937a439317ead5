//! Builds the components the host embeds or tests load (see
//! `build-support`): the elector itself, the example module, and the
//! misbehaving fixtures of the isolation tests.

fn main() {
    use elector_build_support::component;
    component(
        "elector-guest",
        "elector_guest",
        &["guest", "statestore/src"],
    );
    component(
        "elector-rogue-guest",
        "elector_rogue_guest",
        &["tests/rogue-guest"],
    );
    component(
        "elector-example-fenced-log",
        "elector_example_fenced_log",
        &["examples/fenced-log"],
    );
    component(
        "elector-rogue-module",
        "elector_rogue_module",
        &["tests/rogue-module"],
    );
}
