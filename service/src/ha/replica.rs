//! One frontend's copy of the store: the deterministic state machine fed
//! the log's entries in order. Every replica applies the same entries at
//! the same times, so all hold the same state and would give the same
//! answers; only an entry's origin publishes them.

use elector_statestore as ss;
use serde::{Deserialize, Serialize};
use ss::service::{DigestKey, Incoming, Outgoing, Service};

use super::entry::{EntryKind, LogEntry};

/// The store and how far into the log it got.
#[derive(Serialize, Deserialize)]
pub struct Replica {
    /// `None` until the genesis entry.
    service: Option<Service>,
    /// The time entries are applied at: the greatest `now_ms` seen.
    now_ms: u64,
    /// The log revision of the last entry applied.
    applied: i64,
}

/// What applying one entry produced.
#[derive(Debug, Default)]
pub struct Applied {
    /// For the entry's origin to publish, in order.
    pub outgoing: Vec<Outgoing>,
    /// The entry was a request whose deadline had passed.
    pub expired_in_log: bool,
}

impl Replica {
    /// Before the first entry.
    pub fn empty() -> Replica {
        Replica {
            service: None,
            now_ms: 0,
            applied: 0,
        }
    }

    /// The revision of the last entry applied (0: none).
    pub fn applied(&self) -> i64 {
        self.applied
    }

    /// True once the cluster's genesis entry was applied.
    pub fn has_begun(&self) -> bool {
        self.service.is_some()
    }

    /// The replica's clock: the greatest `now_ms` of the entries applied.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// When the next key expires, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        self.service.as_ref()?.next_expiry()
    }

    /// What the store holds.
    pub fn usage(&self) -> ss::service::Usage {
        self.service
            .as_ref()
            .map(Service::usage)
            .unwrap_or_default()
    }

    /// Applies the entry at `revision` (entries come in revision order; an
    /// entry at or below the last applied one is ignored, so a re-delivered
    /// one does no harm).
    pub fn apply(&mut self, revision: i64, entry: &LogEntry) -> Applied {
        if revision <= self.applied {
            return Applied::default();
        }
        self.applied = revision;
        self.now_ms = self.now_ms.max(entry.now_ms);
        let now_ms = self.now_ms;
        match (&entry.kind, &mut self.service) {
            (
                EntryKind::Genesis {
                    node_id,
                    limits,
                    digest_key,
                    hold_until_ms,
                },
                None,
            ) => {
                let mut service = Service::with_digest_key(
                    node_id.clone(),
                    limits.clone(),
                    DigestKey(*digest_key),
                );
                service.hold_new_positions_until(*hold_until_ms);
                self.service = Some(service);
                Applied::default()
            }
            (EntryKind::Genesis { .. }, Some(_)) | (_, None) => Applied::default(),
            (EntryKind::Expire, Some(service)) => Applied {
                outgoing: service.expire(now_ms),
                expired_in_log: false,
            },
            (
                EntryKind::Request {
                    response_topic,
                    correlation,
                    user_properties,
                    payload,
                    deadline_ms,
                },
                Some(service),
            ) => {
                if deadline_ms.is_some_and(|deadline| deadline <= now_ms) {
                    return Applied {
                        outgoing: Vec::new(),
                        expired_in_log: true,
                    };
                }
                let incoming = Incoming {
                    response_topic: response_topic.as_deref(),
                    correlation: correlation.as_deref(),
                    user_properties,
                    payload,
                };
                Applied {
                    outgoing: service.handle(now_ms, &incoming).unwrap_or_default(),
                    expired_in_log: false,
                }
            }
        }
    }

    /// The replica as bytes, for a snapshot.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a replica always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Replica, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    fn genesis(origin: &str, key: u8) -> LogEntry {
        LogEntry {
            origin: origin.into(),
            now_ms: T0,
            kind: EntryKind::Genesis {
                node_id: "cluster".into(),
                limits: ss::Limits::default(),
                digest_key: [key; 16],
                hold_until_ms: 0,
            },
        }
    }

    fn request(
        origin: &str,
        client: &str,
        correlation: &[u8],
        payload: &[u8],
        at: u64,
    ) -> LogEntry {
        LogEntry {
            origin: origin.into(),
            now_ms: at,
            kind: EntryKind::Request {
                response_topic: Some(ss::protocol::response_topic(client)),
                correlation: Some(correlation.to_vec()),
                user_properties: vec![
                    ("__srcId".into(), client.into()),
                    ("__ts".into(), format!("{at:015}:00000:{client}")),
                ],
                payload: payload.to_vec(),
                deadline_ms: Some(at + 5_000),
            },
        }
    }

    const SET_A: &[u8] =
        b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$1\r\na\r\n$2\r\nNX\r\n$2\r\nPX\r\n$4\r\n1000\r\n";
    const SET_B: &[u8] =
        b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$1\r\nb\r\n$2\r\nNX\r\n$2\r\nPX\r\n$4\r\n1000\r\n";

    fn log() -> Vec<LogEntry> {
        vec![
            genesis("f1", 1),
            genesis("f2", 2),
            request("f1", "a", b"1", SET_A, T0 + 1),
            // f2's clock is behind: applied at f1's time, never earlier.
            request("f2", "b", b"1", SET_B, T0 - 50),
            // A re-send of a's request (the same message) through f2: the
            // first answer again.
            LogEntry {
                now_ms: T0 + 2,
                ..request("f2", "a", b"1", SET_A, T0 + 1)
            },
            LogEntry {
                origin: "f1".into(),
                now_ms: T0 + 1_001,
                kind: EntryKind::Expire,
            },
            request("f2", "b", b"2", SET_B, T0 + 1_002),
        ]
    }

    fn answers(replica: &mut Replica) -> Vec<Vec<u8>> {
        log()
            .iter()
            .enumerate()
            .flat_map(|(i, entry)| replica.apply(i as i64 + 1, entry).outgoing)
            .map(|out| out.payload)
            .collect()
    }

    #[test]
    fn two_replicas_fed_the_same_log_answer_alike_and_grant_once() {
        let (mut one, mut two) = (Replica::empty(), Replica::empty());
        let first = answers(&mut one);
        assert_eq!(first, answers(&mut two));
        assert_eq!(
            first,
            [&b"+OK\r\n"[..], b":-1\r\n", b"+OK\r\n", b"+OK\r\n"],
            "a wins, b waits, a's re-send gets its answer, b wins after the expiry"
        );
        assert_eq!(one.encode(), two.encode(), "the same state, byte for byte");
    }

    #[test]
    fn a_replica_from_a_snapshot_carries_on_as_the_others() {
        let mut whole = Replica::empty();
        let entries = log();
        for (i, entry) in entries.iter().enumerate().take(4) {
            whole.apply(i as i64 + 1, entry);
        }
        let mut restored = Replica::decode(&whole.encode()).unwrap();
        for (i, entry) in entries.iter().enumerate().skip(4) {
            let a = whole.apply(i as i64 + 1, entry).outgoing;
            let b = restored.apply(i as i64 + 1, entry).outgoing;
            assert_eq!(a, b);
        }
        assert_eq!(restored.applied(), entries.len() as i64);
    }

    #[test]
    fn a_request_reached_after_its_deadline_is_dropped_and_an_old_entry_ignored() {
        let mut replica = Replica::empty();
        replica.apply(1, &genesis("f1", 1));
        replica.apply(2, &request("f1", "x", b"1", SET_A, T0 + 10_000));
        let late = request("f2", "b", b"1", SET_B, T0);
        let applied = replica.apply(3, &late);
        assert!(applied.expired_in_log && applied.outgoing.is_empty());
        assert!(
            replica.apply(3, &late).outgoing.is_empty(),
            "already applied"
        );
    }
}
