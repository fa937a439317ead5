//! Builds the workspace's WebAssembly components from a build script, so
//! `cargo run` and `cargo test` need no manual step on a fresh clone.
//!
//! Components are built by a nested cargo for `wasm32-wasip2` with the
//! workspace's `guest` profile (small code, abort on panic), in their own
//! target directory (`target/wasm`, or `ELECTOR_WASM_TARGET_DIR`) so the
//! nested build never waits on the outer build's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, from a member's build script.
pub fn workspace_root() -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    manifest_dir
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|text| text.contains("[workspace]"))
        })
        .expect("inside the elector workspace")
        .to_path_buf()
}

/// Builds `package` (whose library is `crate_file`) and copies the
/// component into `OUT_DIR`; returns its path there. Sets
/// `ELECTOR_COMPONENT_<CRATE_FILE>` to that path for the crate being built,
/// and asks cargo to build again when the component's sources change.
pub fn component(package: &str, crate_file: &str, sources: &[&str]) -> PathBuf {
    let workspace = workspace_root();
    for source in sources.iter().chain(&["wit", "Cargo.lock"]) {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(source).display()
        );
    }
    println!("cargo:rerun-if-env-changed=ELECTOR_WASM_TARGET_DIR");
    let target_dir = env::var_os("ELECTOR_WASM_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target").join("wasm"));
    ensure_wasm_target();
    build(&workspace, &target_dir, package);
    let built = target_dir
        .join("wasm32-wasip2")
        .join("guest")
        .join(format!("{crate_file}.wasm"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("run from a build script"));
    let copy = out_dir.join(format!("{crate_file}.wasm"));
    std::fs::copy(&built, &copy).unwrap_or_else(|error| {
        panic!("copying {} to {}: {error}", built.display(), copy.display())
    });
    println!(
        "cargo:rustc-env=ELECTOR_COMPONENT_{}={}",
        crate_file.to_uppercase(),
        copy.display()
    );
    copy
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
    if sysroot.is_some_and(|root| root.join("lib/rustlib/wasm32-wasip2/lib").is_dir()) {
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

fn build(workspace: &Path, target_dir: &Path, package: &str) {
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

#[cfg(feature = "compose")]
pub mod compose;
