//! What happened, as the checker needs it: every write the store applied to
//! the shared keys, and the workload's own account of its updates.

use elector_statestore as ss;

use crate::world::Nanos;

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

#[derive(Clone, Debug)]
pub struct SharedWrite {
    pub at: Nanos,
    pub client: u32,
    /// `name|token|sequence`: the writer's own account of its term.
    pub value: String,
}

#[derive(Debug, Default)]
pub struct History {
    /// Writes to [`SHARED`] the store applied, in order.
    pub shared_writes: Vec<SharedWrite>,
    /// Values written to [`COUNTER`] that the store applied, in order.
    pub counter_writes: Vec<u64>,
    /// Updates the workload saw succeed.
    pub updates_acknowledged: u64,
    /// Updates whose outcome nobody learned (crash, error).
    pub updates_unknown: u64,
    /// Candidates acting as leader past their term (plus the drift
    /// tolerance), with a description: property (c).
    pub false_beliefs: Vec<String>,
    /// Times a candidate acted as leader, within its term, while the store
    /// already showed another holder or none (a resignation sent by an
    /// earlier incarnation landing late, for one). Fencing keeps shared
    /// state safe then; reported, not a violation.
    pub contradicted_beliefs: u64,
    /// Times a candidate acted as leader (the checks made).
    pub leader_actions: u64,
    /// Longest time after the faults stopped with nobody holding the
    /// position, and when it started.
    pub longest_gap: Nanos,
    pub gap_started: Option<Nanos>,
    /// Counts for the report.
    pub requests: u64,
    pub faults: u64,
    pub crashes: u64,
    pub elections: u64,
}

impl History {
    /// Called for every request the store handled.
    pub fn applied(
        &mut self,
        at: Nanos,
        client: u32,
        command: &ss::Command,
        _fencing_token: Option<&ss::Hlc>,
        response: &ss::Response,
    ) {
        self.requests += 1;
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
            if std::env::var_os("ELECTOR_SIM_TRACE").is_some() {
                eprintln!(
                    "{:>8.3} ms client{client} counter := {number} (token {:?})",
                    at as f64 / 1e6,
                    _fencing_token.map(ToString::to_string)
                );
            }
        } else if key == POSITION.as_bytes() {
            self.elections += 1;
        }
    }
}
