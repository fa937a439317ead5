//! Builds the example edge module (`examples/fenced-log`, see
//! `build-support`). The `elector` binary does not embed it, but the
//! `elector run` walkthroughs (README, `docs/modules.md`) run it from where
//! `cargo build --release` leaves it, and the tests load it through
//! `ELECTOR_COMPONENT_ELECTOR_EXAMPLE_FENCED_LOG`.

fn main() {
    elector_build_support::component(
        "elector-example-fenced-log",
        "elector_example_fenced_log",
        &["examples/fenced-log"],
    );
}
