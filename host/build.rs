//! Builds the elector component (and the misbehaving test components) from
//! their crates for `wasm32-wasip2`, so that `cargo run` and `cargo test` on
//! a fresh clone need no manual step. The `.wasm` files are embedded into
//! the host with `include_bytes!` (see `src/artifacts.rs`).
//!
//! The nested cargo uses its own target directory (`target/wasm`), so it
//! never waits on the lock of the outer build, and the `guest` profile
//! (small code, abort on panic).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, crate file name) of every component the host embeds.
const COMPONENTS: &[(&str, &str)] = &[
    ("elector-guest", "elector_guest"),
    ("elector-rogue-guest", "elector_rogue_guest"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.parent().unwrap().to_path_buf();
    for watched in [
        "wit",
        "guest/src",
        "guest/Cargo.toml",
        "tests/rogue-guest",
        "statestore/src",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=ELECTOR_WASM_TARGET_DIR");

    let target_dir = env::var_os("ELECTOR_WASM_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target").join("wasm"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    ensure_wasm_target();
    for (package, file) in COMPONENTS {
        build_component(&workspace, &target_dir, package);
        let built = target_dir
            .join("wasm32-wasip2")
            .join("guest")
            .join(format!("{file}.wasm"));
        let embedded = out_dir.join(format!("{file}.wasm"));
        std::fs::copy(&built, &embedded).unwrap_or_else(|error| {
            panic!(
                "copying {} to {}: {error}",
                built.display(),
                embedded.display()
            )
        });
    }
}

/// rust-toolchain.toml asks rustup for the wasm32-wasip2 target, but a
/// machine with `RUSTUP_AUTO_INSTALL=0` (or an older rustup) skips that.
/// Install it here, so a fresh clone builds with plain `cargo`.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed = sysroot.is_some_and(|root| root.join("lib/rustlib/wasm32-wasip2/lib").is_dir());
    if installed {
        return;
    }
    println!("cargo:warning=installing the wasm32-wasip2 target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status();
    if !matches!(status, Ok(status) if status.success()) {
        println!(
            "cargo:warning=could not install wasm32-wasip2; run: rustup target add wasm32-wasip2"
        );
    }
}

fn build_component(workspace: &Path, target_dir: &Path, package: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "guest",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    // Settings meant for the host build must not leak into the wasm one:
    // clippy's wrapper, coverage or sanitizer flags, a host-only target.
    for variable in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        command.env_remove(variable);
    }
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("could not run cargo to build {package}: {error}"));
    if !status.success() {
        panic!(
            "building the {package} component failed ({status}). If the error says \
             \"can't find crate for `std`\", install the target: rustup target add wasm32-wasip2"
        );
    }
}
