//! What happened, as the checker needs it. Two kinds of record, kept apart
//! on purpose:
//!
//! - what the **store** did (the world records it; the elector cannot
//!   touch it): who held the position when, which version it issued to
//!   which lock value, every write to the shared keys;
//! - what each **candidate** claimed (the workload records it): each time
//!   it said it leads before acting, each event it reported.
//!
//! The checker judges the claims against the store's record.

use std::collections::HashMap;

use elector_statestore as ss;

use crate::time::Nanos;

/// The key the leaders write under their fencing token.
pub const SHARED: &[u8] = b"shared";
/// The key campaign-and-update-value increments.
pub const COUNTER: &[u8] = b"counter";
/// The position every candidate campaigns for.
pub const POSITION: &str = "leader";

/// `ELECTOR_SIM_TRACE=1` prints what happens to the position, as it
/// happens (for replaying one seed).
pub fn trace_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("ELECTOR_SIM_TRACE").is_some())
}

/// A write to [`SHARED`] the store applied.
#[derive(Clone, Debug)]
pub struct SharedWrite {
    pub at: Nanos,
    pub client: u32,
    /// `lock value|token|sequence`: the writer's own account of its term.
    pub value: String,
}

/// A change of who holds the position, as the store made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub at: Nanos,
    /// The lock value held from then on; `None`: nobody.
    pub holder: Option<Vec<u8>>,
    /// Made by an operator's release (`elector resign --name`), not by any
    /// candidate or by expiry: a candidate learns of it only through its
    /// watch, and fencing is what protects shared state meanwhile.
    pub external: bool,
}

/// What a candidate claimed about its own leadership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// It leads, by `is-leader` just before acting, with this token.
    Acting { token: ss::Hlc },
    /// `elected`, `renewed` or `lease-shortened`: it leads until this
    /// (true) time, unless it reports the loss sooner.
    LeadsUntil { event: &'static str, until: Nanos },
    /// `leadership-lost`.
    Lost,
}

/// One claim, by whom, when.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub at: Nanos,
    /// The candidate's lock value: unique to one life of one candidate.
    pub lock_value: Vec<u8>,
    pub claim: Claim,
}

#[derive(Debug, Default)]
pub struct History {
    /// Writes to [`SHARED`] the store applied, in order.
    pub shared_writes: Vec<SharedWrite>,
    /// Values written to [`COUNTER`] that the store applied, in order.
    pub counter_writes: Vec<u64>,
    /// Updates the workload saw succeed.
    pub updates_acknowledged: u64,
    /// Updates whose outcome nobody learned (a crash, `outcome-unknown`).
    pub updates_unknown: u64,
    /// Who held the position when, oldest first; starts empty-handed.
    pub position: Vec<Change>,
    /// Every version the store issued to a write of the position that
    /// applied, with the lock value it wrote.
    pub issued: HashMap<ss::Hlc, Vec<u8>>,
    /// Every claim of every candidate, in the order made.
    pub claims: Vec<Claimed>,
    /// Counts for the report.
    pub requests: u64,
    /// SET requests among them.
    pub sets: u64,
    /// Faults that happened (not the ones planned).
    pub faults: u64,
    pub crashes: u64,
    pub elections: u64,
    pub external_releases: u64,
    /// Connections with a Will that the broker lost.
    pub broker_losses: u64,
    /// Wills the broker published.
    pub wills_published: u64,
    /// Wills that released the position (their candidate still held it).
    pub will_releases: u64,
}

impl History {
    /// Called for every request the store handled.
    pub fn applied(
        &mut self,
        at: Nanos,
        client: u32,
        command: &ss::Command,
        fencing_token: Option<&ss::Hlc>,
        response: &ss::Response,
    ) {
        self.requests += 1;
        if matches!(command, ss::Command::Set { .. }) {
            self.sets += 1;
        }
        if trace_enabled() && command.key() == POSITION.as_bytes() {
            eprintln!(
                "{:>9.3} ms store: client{client} {command:?} -> {:?} v{}",
                at as f64 / 1e6,
                response.reply,
                response.version
            );
        }
        let ss::Command::Set { key, value, .. } = command else {
            return;
        };
        if response.reply != ss::Reply::Ok {
            return;
        }
        if key == SHARED {
            self.shared_writes.push(SharedWrite {
                at,
                client,
                value: String::from_utf8_lossy(value).into_owned(),
            });
        } else if key == COUNTER {
            let number = String::from_utf8_lossy(value).parse().unwrap_or(u64::MAX);
            self.counter_writes.push(number);
            if trace_enabled() {
                eprintln!(
                    "{:>8.3} ms client{client} counter := {number} (token {:?})",
                    at as f64 / 1e6,
                    fencing_token.map(ToString::to_string)
                );
            }
        } else if key == POSITION.as_bytes() {
            self.elections += 1;
            self.issued.insert(response.version.clone(), value.to_vec());
        }
    }

    /// Called after anything that may have changed the position's holder.
    pub fn position_changed(&mut self, at: Nanos, holder: Option<Vec<u8>>, external: bool) {
        let current = self.position.last().and_then(|c| c.holder.as_ref());
        if current == holder.as_ref() {
            return;
        }
        if external {
            self.external_releases += 1;
        }
        self.position.push(Change {
            at,
            holder,
            external,
        });
    }

    /// Records a candidate's claim.
    pub fn claim(&mut self, at: Nanos, lock_value: &[u8], claim: Claim) {
        self.claims.push(Claimed {
            at,
            lock_value: lock_value.to_vec(),
            claim,
        });
    }

    /// The holder at `at` (after everything that happened at that instant).
    pub fn holder_at(&self, at: Nanos) -> Option<&[u8]> {
        let after = self.position.partition_point(|c| c.at <= at);
        after
            .checked_sub(1)
            .and_then(|i| self.position[i].holder.as_deref())
    }

    /// The change that ended `lock_value`'s latest hold before `at`, if it
    /// held the position at some time before.
    pub fn end_of_hold_before(&self, lock_value: &[u8], at: Nanos) -> Option<&Change> {
        let before = self.position.partition_point(|c| c.at <= at);
        let held = self.position[..before]
            .iter()
            .rposition(|c| c.holder.as_deref() == Some(lock_value))?;
        self.position.get(held + 1).filter(|c| c.at <= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_and_the_end_of_a_hold_are_read_off_the_record() {
        let mut history = History::default();
        history.position_changed(10, Some(b"a".to_vec()), false);
        history.position_changed(20, None, false);
        history.position_changed(30, Some(b"b".to_vec()), false);
        history.position_changed(40, None, true);
        assert_eq!(history.holder_at(5), None);
        assert_eq!(history.holder_at(10), Some(&b"a"[..]));
        assert_eq!(history.holder_at(25), None);
        assert_eq!(history.end_of_hold_before(b"a", 35).unwrap().at, 20);
        assert!(history.end_of_hold_before(b"b", 35).is_none());
        assert!(history.end_of_hold_before(b"b", 45).unwrap().external);
        assert_eq!(history.external_releases, 1);
    }
}
