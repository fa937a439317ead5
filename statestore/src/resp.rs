//! The RESP3-style codec of the state store's MQTT payloads.
//!
//! Requests, replies and KEYNOTIFY notifications travel as RESP3 values (see
//! `docs/state-store-protocol.md`). The MQTT client, the MQTT
//! state-store service and fuzz targets all need the same bytes, so the
//! codec lives here, once, as plain functions: bytes in, values out.
//!
//! - Requests: [`encode_request`] (client) and [`decode_request`] (service).
//!   A request is an array of bulk strings; decoding refuses bad input with
//!   the [`StoreErrorKind`](crate::StoreErrorKind) the service answers.
//! - Replies: [`encode_reply`] (service), [`decode_reply`] and
//!   [`decode_reply_for`] (client).
//! - Notifications: [`encode_notification`] (service) and
//!   [`decode_notification`] (client).
//!
//! # Strictness
//!
//! Clients compare payloads byte for byte, so every decoder is strict about
//! framing: exact lengths, CRLF terminators, canonical decimal lengths (no
//! sign, no leading zeros) and no bytes after the value. The one leniency is
//! on the service side: [`decode_request`] matches verbs and options
//! case-insensitively (see its docs).
//!
//! # Hostile input
//!
//! Decoders never panic and allocate at most about the payload's size: an
//! array longer than [`MAX_ELEMENTS`], or a count or length that promises
//! more bytes than the payload holds, is refused before anything is
//! allocated for it.

mod frame;
#[cfg(test)]
mod fuzz_tests;
mod notification;
mod reply;
mod request;

pub use notification::{decode_notification, encode_notification};
pub use reply::{decode_reply, decode_reply_for, encode_reply};
pub use request::{decode_request, encode_request};

use crate::command::Reply;

/// The most elements a decoded array may have.
///
/// The longest legitimate payload is `SET key value NEX PX ms` (6 elements);
/// the cap bounds the work and memory a hostile array header can ask for.
pub const MAX_ELEMENTS: usize = 16;

/// Why a reply or notification payload could not be read.
///
/// The client treats any of these as a protocol failure of the service, not
/// as a state-store error (those decode successfully, as
/// [`Reply::Error`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyDecodeError {
    /// The payload ends inside a value (or is empty), or promises more bytes
    /// than it holds.
    #[error("the payload ends inside a RESP3 value")]
    Truncated,
    /// The bytes break a framing rule (missing CRLF, bad number, too many
    /// elements, ...); the text says which.
    #[error("malformed RESP3: {0}")]
    Malformed(&'static str),
    /// A RESP3 type the state store never sends where one was expected.
    #[error("unexpected RESP3 type byte 0x{0:02x}")]
    UnexpectedType(u8),
    /// A complete value followed by this many more bytes.
    #[error("{0} bytes after the end of the RESP3 value")]
    TrailingBytes(usize),
    /// A simple string other than `+OK`, kept (lossily as UTF-8) for logs.
    #[error("unexpected simple string {0:?}")]
    UnexpectedSimpleString(String),
    /// A well-formed reply that cannot answer the command it was read for
    /// (for example `+OK` to a GET).
    #[error("reply {reply:?} does not answer {command}")]
    WrongShape {
        /// The verb of the command that was asked.
        command: &'static str,
        /// What came back.
        reply: Reply,
    },
    /// A well-formed array that is not `NOTIFY DELETE` or
    /// `NOTIFY SET VALUE <value>`; the text says what is wrong.
    #[error("not a state-store notification: {0}")]
    NotANotification(&'static str),
}
