//! What the frontends append to the log: requests as they arrived, the
//! expirer's "expire now", and the cluster's first entry. Encoded with
//! postcard (a compact serde format), never by hand.

use elector_statestore as ss;
use serde::{Deserialize, Serialize};

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The frontend that appended it: the one that publishes what applying
    /// it produces (answers, notifications).
    pub origin: String,
    /// The appender's wall clock when it appended (ms since the epoch).
    /// Replicas apply every entry at the greatest such time seen so far,
    /// so they all apply it at the same time, and time never goes back.
    pub now_ms: u64,
    pub kind: EntryKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// The cluster's first entry: what every replica must agree on. A
    /// second one (two frontends started on an empty log at once) is
    /// ignored.
    Genesis {
        node_id: String,
        limits: ss::Limits,
        digest_key: [u8; 16],
        /// No absent key is granted before this (the lock-delay of a new
        /// cluster).
        hold_until_ms: u64,
    },
    /// A state-store request, as the MQTT message carried it.
    Request {
        response_topic: Option<String>,
        correlation: Option<Vec<u8>>,
        user_properties: Vec<(String, String)>,
        payload: Vec<u8>,
        /// When the request's message expiry runs out (appender's clock):
        /// a replica that reaches the entry later drops it unanswered, as
        /// the single-node service does with a request that waited too
        /// long in its queue.
        deadline_ms: Option<u64>,
    },
    /// Expire every key due by `now_ms` (appended by the expirer only).
    Expire,
}

impl LogEntry {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("log entries always encode")
    }

    pub fn decode(bytes: &[u8]) -> Result<LogEntry, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}
