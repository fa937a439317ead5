//! Builds the components the tests load (see `build-support`): the example
//! module, and the misbehaving fixtures of the isolation tests. The
//! `elector` binary itself embeds none of them.

fn main() {
    use elector_build_support::component;
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
