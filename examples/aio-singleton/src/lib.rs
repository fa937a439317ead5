//! A map operator for Azure IoT Operations data flows whose leading
//! instance alone emits a summary of each closed window; the others pass
//! messages through.
//!
//! It is written against `elector:aio/map-with-election`: the election is
//! the `leader-election` import, which the build satisfies by composing it
//! with `elector-aio.wasm` (form (b)), leaving a plain AIO `map` operator.
//!
//! Per message, the instance renews or tries to take the position
//! (`try-campaign`), so a stopped leader's hold runs out after one term
//! and the next message of another instance takes over. Windows are cut
//! from the messages' timestamps. When the leader sees a message of window
//! `w`, it summarises windows `w-1` and `w-2` that nobody has summarised
//! yet: the summary of a window is claimed with an only-if-absent write of
//! `aio-singleton/summary/<window>` carrying its fencing token, so even a
//! hand-over at a window's end never yields two summaries of it.
//!
//! Each output message carries the user property `elector-leader`
//! (`true`/`false`), which is how the host measures hand-overs.
//!
//! Configuration properties: `term-ms` (default 1000), `window-ms`
//! (default 2000), `election` = `off` makes every instance act as leader
//! without claiming windows: the broken variant the tests show failing.

pub mod window;

#[cfg(target_arch = "wasm32")]
mod operator;
