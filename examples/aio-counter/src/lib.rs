//! A map operator for Azure IoT Operations data flows that counts
//! over-temperature readings (`{"temperature": t}` with t > 100) into one
//! state-store key shared by every instance of the operator.
//!
//! The `lock` property of the graph's configuration picks how instances
//! take turns on the key:
//!
//! - `elector` (the default): `campaign-and-update-value` of the elector,
//!   linked in as a crate (`elector-aio`, form (a)): one instance at a time
//!   reads and writes, fenced by its lease. No increment is lost.
//! - `hand-rolled`: the lock of Microsoft's `enrichment` sample operator,
//!   rewritten here from its description: `set(lock, "module2",
//!   only-if-equal-or-does-not-exist, expires 10 s)`, its version as
//!   fencing token for the read-modify-write, `vdel(lock, "module2")`,
//!   three tries. Every instance writes the same lock value, so "equal or
//!   does not exist" admits them all at once, and increments are lost. It
//!   is here to measure that loss (`docs/aio-dataflow.md`).
//!
//! `update-timeout-ms` bounds how long one `process` call waits for the
//! elector (default 20 s).
//!
//! Every message passes through unchanged; a failed count fails the
//! message's `process`, so the host's report shows it.

pub mod reading;

#[cfg(target_arch = "wasm32")]
mod operator;
