//! The Azure IoT Operations (AIO) distributed state store's semantics, as a
//! sans-IO state machine.
//!
//! The elector keeps its leases in the AIO state store. Three parts of the
//! project need the store's exact behaviour without a real broker: the
//! embedded in-process store, the `elector statestore` MQTT service (an
//! emulator for any MQTT 5 broker) and the deterministic simulator. They all
//! drive the one [`StateStore`] defined here, so they cannot disagree with
//! each other about what AIO does.
//!
//! The crate does no IO, starts no threads and never reads the system clock:
//! every operation takes the wall-clock time as a parameter, and returns the
//! response plus the notifications to deliver. Drivers own sockets, timers
//! and clocks (see `docs/state-store-protocol.md` for the wire
//! contract this implements).
//!
//! - [`client`]: the store as its clients see it ([`SetOptions`],
//!   [`SetResponse`], [`VersionedValue`], [`KeyNotification`],
//!   [`StoreError`]) and the readings of a store's answers, shared by every
//!   client of the store.
//! - [`newest`]: [`NewestChange`], the newest change a client has seen of
//!   a watched key, so its watchers hear only newer ones.
//! - [`local`]: [`LocalStore`], the state machine with a client's side
//!   attached, for drivers in this process.
//! - [`hlc`]: hybrid-logical-clock versions ([`Hlc`]), their text form, and
//!   the monotonic clock that issues them ([`HlcClock`]).
//! - [`error`]: the AIO error texts ([`StoreErrorKind`]).
//! - [`command`]: requests and responses ([`Request`], [`Command`],
//!   [`Reply`], [`Response`]).
//! - [`limits`]: quotas ([`Limits`]).
//! - [`notify`]: KEYNOTIFY events ([`Notification`], [`KeyEvent`]).
//! - [`machine`]: the store ([`StateStore`]).
//! - [`outcome`]: what a reply means for its command ([`ReplyError`],
//!   [`DeleteOutcome`]), for every client of the store.
//! - [`resp`]: the RESP3 wire codec of requests ([`encode_request`],
//!   [`decode_request`]), replies ([`encode_reply`], [`decode_reply`],
//!   [`decode_reply_for`]) and notifications ([`encode_notification`],
//!   [`decode_notification`]).
//! - [`release`]: what a client may believe while its connection carries a
//!   Will that releases its position ([`release::LinkTrust`]).
//! - [`protocol`]: the MQTT-level contract: topics
//!   ([`protocol::REQUEST_TOPIC`], [`protocol::response_topic`],
//!   [`protocol::notification_topic`], ...) and user-property names and
//!   values ([`protocol::TIMESTAMP`], ...).

#![warn(missing_docs)]

pub mod client;
pub mod command;
pub mod error;
mod expiry;
mod fencing;
pub mod fuzzing;
pub mod hlc;
mod idle;
pub mod limits;
pub mod local;
pub mod machine;
pub mod newest;
pub mod notify;
pub mod outcome;
pub mod protocol;
mod quota;
pub mod release;
pub mod resp;
pub mod service;
#[cfg(test)]
mod test_rng;

pub use client::{
    KeyNotification, SetOptions, SetResponse, StoreError, StoreResult, VersionedValue,
};
pub use command::{Command, Reply, Request, Response, SetCondition};
pub use error::StoreErrorKind;
pub use hlc::{
    Hlc, HlcClock, HlcParseError, MAX_CLOCK_SKEW_MS, is_too_far_ahead, validate_node_id,
};
pub use limits::Limits;
pub use local::LocalStore;
pub use machine::{Changes, Snapshot, StateStore, StoredEntry};
pub use newest::NewestChange;
pub use notify::{KeyEvent, Notification};
pub use outcome::{DeleteOutcome, ReplyError};
pub use resp::{
    ReplyDecodeError, decode_notification, decode_reply, decode_reply_for, decode_request,
    encode_notification, encode_reply, encode_request,
};
