//! Builds the elector component (`guest/`, see `build-support`), which
//! the library embeds (`src/artifacts.rs`).

fn main() {
    elector_build_support::component(
        "elector-guest",
        "elector_guest",
        &["guest", "statestore/src"],
    );
}
