//! `examples/aio-counter`'s count, written against the `leader-election`
//! import of `elector:aio/map-with-election` instead of the crate: what an
//! operator in another language does with `elector-aio.wasm` (form (b)).
//! The build composes it with elector-aio.wasm.
//!
//! Per over-temperature reading it reads the count, then calls
//! `campaign-and-replace-value(key, expected = what it read, replacement =
//! one more)`; when another instance got there first (`changed`), it
//! retries with the value found, at most [`MAX_TRIES`] times, then fails
//! the message. The write itself is fenced by the elector's lease.

/// The readings and the increment of the form (a) counter, the same file.
#[path = "../../aio-counter/src/reading.rs"]
pub mod reading;

/// Compare-and-replace rounds per reading before the message fails.
pub const MAX_TRIES: usize = 100;

#[cfg(target_arch = "wasm32")]
mod operator;
