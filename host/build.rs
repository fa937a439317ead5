//! Builds the components the host embeds or tests load (see
//! `build-support`): the elector itself, the example module, and the
//! misbehaving fixtures of the isolation tests. Also records the compiler's
//! version for `elector_build_info`.

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or_else(|| "unknown".into(), |v| v.trim().to_owned());
    println!("cargo:rustc-env=ELECTOR_RUSTC_VERSION={version}");

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
