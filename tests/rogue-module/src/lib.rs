//! An edge module that misbehaves on purpose, for `elector run`'s isolation
//! tests. On every tick it writes `beat/<replica>`; then a replica whose
//! name contains
//! - `trap`, `spin` or `hog` traps, loops forever or allocates until its
//!   memory limit;
//! - `chatter` loops forever over `is-leader` (a host call in each turn);
//! - `reader` loops forever over `fenced-store.get`;
//! - `flood` logs long lines, with newlines that try to forge host lines;
//! - `filler` writes new keys until the store refuses one;
//! - `escape` writes keys that look like paths out of its prefix.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        world: "edge-module",
        path: "../../wit",
        generate_all,
    });

    use std::cell::RefCell;

    use elector::election::{fenced_store, leadership, log};
    use exports::elector::election::lifecycle::{Guest, LeadershipGrant, LostReason};

    thread_local! {
        static HOARD: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    struct Rogue;

    impl Guest for Rogue {
        fn on_elected(_: LeadershipGrant) -> Result<(), String> {
            Ok(())
        }

        fn on_tick() -> Result<(), String> {
            let name = leadership::candidate_name();
            fenced_store::put(&format!("beat/{name}"), b"alive").map_err(|e| format!("{e:?}"))?;
            if name.contains("trap") {
                panic!("rogue module traps on purpose");
            }
            if name.contains("spin") {
                let mut counter = 0u64;
                loop {
                    counter = core::hint::black_box(counter.wrapping_add(1));
                }
            }
            if name.contains("hog") {
                loop {
                    HOARD.with(|hoard| hoard.borrow_mut().push(vec![1u8; 1 << 20]));
                }
            }
            if name.contains("chatter") {
                loop {
                    core::hint::black_box(leadership::is_leader());
                }
            }
            if name.contains("reader") {
                loop {
                    let _ = core::hint::black_box(fenced_store::get("beat/x"));
                }
            }
            if name.contains("flood") {
                let forged = format!(
                    "\n2026-12-01T00:00:00.000000Z  INFO elector_host: leads replica=SOMEONE-ELSE {}",
                    "x".repeat(8 << 10)
                );
                for _ in 0..100_000 {
                    log::log(log::Level::Info, &forged);
                }
            }
            if name.contains("filler") {
                for n in 0.. {
                    if let Err(error) = fenced_store::put(&format!("fill/{n}"), b"x") {
                        return Err(format!("refused after {n} keys: {error:?}"));
                    }
                }
            }
            if name.contains("escape") {
                for key in ["../escaped", "/escaped", "..\\escaped"] {
                    fenced_store::put(key, b"outside?").map_err(|e| format!("{e:?}"))?;
                }
                let position = leadership::position();
                fenced_store::put(&format!("../../{position}"), b"stolen?")
                    .map_err(|e| format!("{e:?}"))?;
            }
            Ok(())
        }

        fn on_lost(_: LostReason) {}
    }

    export!(Rogue);
}
