//! The elector: leader election over the Azure IoT Operations state store.
//!
//! This crate is the election logic as plain Rust, written against small
//! traits ([`ports`]) so that the same code runs natively (tests, the
//! simulator, the native benchmark baseline) and, through the thin adapter
//! in `component`, as the WASI 0.2 component `elector.wasm`.
//!
//! # The contract
//!
//! A candidate holds a position by writing its lock value (`name`, or
//! `name:session-id`) with `SET <position> <value> NEX PX <term>`. The
//! version the store gives that write is the **fencing token**; every
//! renewal is a new write, so the token changes with every renewal and the
//! newest one is the one to use.
//!
//! **When leadership ends, locally.** A lease won by a write *sent* at `t`
//! is trusted until `t + term - margin` on the candidate's own monotonic
//! clock (margin: a tenth of the term, at most one second, or as
//! configured). The store expires the key no earlier than `t + term` by its
//! clock, since it receives the write after `t`. So as long as the clocks
//! run at about the same rate and a write takes less than `margin` to reach
//! the store, a candidate stops calling itself leader before anyone else
//! can win — without asking the store, so this holds while the store is
//! unreachable. Past that instant [`Candidate::is_leader`] is false and a
//! `leadership-lost(lease-expired)` event is sent.
//!
//! **What fencing adds.** Timing alone cannot stop a write that is delayed
//! in the network past its lease. Writes to shared keys carry the fencing
//! token, and the store refuses a token older than the one already on the
//! key. campaign-and-update-value also claims the key before writing (see
//! `update.rs`), so a delayed write from an old leader cannot slip in
//! between its read and its write.
//!
//! **Campaigns wait, they do not poll.** A blocked campaign sleeps on the
//! key's notifications, a timer at the holder's expected expiry (a lost
//! notification delays an election by at most one term), the caller's
//! cancellation and its deadline. It has no retry budget: it returns only
//! when elected, cancelled, timed out or refused by the store.
//!
//! **Renewal is opt-in.** With automatic renewal set, an elected candidate
//! writes again every period while its caller is idle (the host calls
//! [`Candidate::tick`] when asked). Renewal stops at the first attempt that
//! finds another holder; other failures are reported as
//! `renewal-failed` events and retried, never swallowed.
//!
//! Nothing here guarantees fairness: any waiting candidate may win.

pub mod campaign;
pub mod candidate;
pub mod doubt;
mod lease;
pub mod ports;
pub mod position;
mod renewal;
pub mod sabotage;
pub mod timing;
pub mod types;
pub mod update;
pub mod wait;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod component;

pub use candidate::Candidate;
pub use ports::{Cancel, Clock, EventSink, KeyWatch, NeverCancel, StateStore, Updater};
pub use types::*;
