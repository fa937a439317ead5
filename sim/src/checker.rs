//! The safety and liveness properties every schedule must keep. Each one
//! holds a candidate's claims, or the system's progress, against the
//! store's own record of what happened (see `history.rs`), never against
//! what the elector says about itself.
//!
//! (a) **Tokens come from the store.** Every fenced write the store
//!     accepted carries a token the store issued to that same writer, for a
//!     write of the position that applied. (The store's fencing keeps
//!     accepted tokens rising by construction; what it cannot check is
//!     where a token came from.)
//! (b) **No update lost or applied twice.** campaign-and-update-value
//!     increments a counter: every write is the previous value plus one (or
//!     the same value, a claim), and the final count lies between the
//!     updates acknowledged and those plus the ones whose outcome is
//!     unknown.
//! (c) **No belief the store contradicts.** Whenever a candidate acts as
//!     leader, and throughout every lease it reported (`elected`,
//!     `renewed`, `lease-shortened`, until `leadership-lost` or the lease's
//!     deadline, as the host reports them), the store holds that
//!     candidate's value. The one exemption: a hold an operator released
//!     (`elector resign --name`), which a leader can only learn of.
//! (d) **Progress.** Once the faults stop, the position is never free for
//!     longer than a bound; and a campaigning candidate whose own value is
//!     in the store claims it within a bound.
//! (e) **Well-formed events.** No `elected` while a lease reported before
//!     was not reported lost; no `renewed` or `lease-shortened` without one.
//! (f) **One leader at a time.** No two candidates' reported leases
//!     overlap, judged from their reports alone, whatever the store
//!     holds: (c) already implies it while the store keeps its record, but
//!     a store that restarts empty breaks (c) for every lease it forgets,
//!     and (f) tells whether anybody else was let in meanwhile. A lease
//!     ends early where an operator released its hold.

use std::collections::HashMap;

use elector_statestore as ss;

use crate::history::{Claim, History};
use crate::world::{MS, Nanos};

/// One broken property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: char,
    pub detail: String,
}

/// What progress must look like (property (d)).
#[derive(Clone, Copy, Debug)]
pub struct Liveness {
    /// Longest stretch with nobody holding the position after the faults.
    pub gap_bound: Nanos,
    /// Longest a campaigning candidate may leave its own value unclaimed.
    pub own_value_bound: Nanos,
}

/// What the run measured for property (d).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Longest stretch with nobody holding the position after the faults.
    pub longest_gap: Nanos,
    /// Longest a campaigning candidate left its own value unclaimed, and
    /// who.
    pub longest_unclaimed: Nanos,
    pub unclaimed_by: String,
}

pub fn check(
    history: &History,
    final_counter: u64,
    progress: &Progress,
    liveness: Liveness,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut report = |property, detail: String| violations.push(Violation { property, detail });
    tokens_come_from_the_store(history, &mut report);
    no_update_lost_or_doubled(history, final_counter, &mut report);
    beliefs_match_the_store(history, &mut report);
    progress_is_made(progress, liveness, &mut report);
    events_are_well_formed(history, &mut report);
    one_leader_at_a_time(history, &mut report);
    violations
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

/// (a)
fn tokens_come_from_the_store(history: &History, report: &mut impl FnMut(char, String)) {
    for write in &history.shared_writes {
        let mut parts = write.value.split('|');
        let (writer, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let Ok(token) = token.parse::<ss::Hlc>() else {
            report('a', format!("unreadable shared write {:?}", write.value));
            continue;
        };
        match history.issued.get(&token) {
            Some(holder) if holder == writer.as_bytes() => {}
            Some(holder) => report(
                'a',
                format!(
                    "at {} ms {writer} wrote with token {token}, which the store issued to {}",
                    write.at / MS,
                    text(holder)
                ),
            ),
            None => report(
                'a',
                format!(
                    "at {} ms {writer} wrote with token {token}, which the store never issued \
                     for the position",
                    write.at / MS
                ),
            ),
        }
    }
}

/// (b)
fn no_update_lost_or_doubled(
    history: &History,
    final_counter: u64,
    report: &mut impl FnMut(char, String),
) {
    let mut previous = 0u64;
    for &value in &history.counter_writes {
        if value != previous && value != previous + 1 {
            report('b', format!("the counter went from {previous} to {value}"));
        }
        previous = value;
    }
    let (acknowledged, unknown) = (history.updates_acknowledged, history.updates_unknown);
    if final_counter < acknowledged {
        report(
            'b',
            format!("{acknowledged} updates acknowledged but the counter is {final_counter}: lost"),
        );
    }
    if final_counter > acknowledged + unknown {
        report(
            'b',
            format!(
                "the counter is {final_counter} but only {acknowledged} (+{unknown} unknown) \
                 updates ran: applied twice"
            ),
        );
    }
}

/// (c)
fn beliefs_match_the_store(history: &History, report: &mut impl FnMut(char, String)) {
    let mut judge = |value: &[u8], from: Nanos, to: Nanos, what: &str| {
        if let Some(problem) = contradiction(history, value, from, to) {
            report('c', format!("{} {what}, but {problem}", text(value)));
        }
    };
    for claimed in &history.claims {
        if let Claim::Acting { token } = &claimed.claim {
            judge(
                &claimed.lock_value,
                claimed.at,
                claimed.at,
                &format!("acts as leader at {} ms (token {token})", claimed.at / MS),
            );
        }
    }
    for lease in reported_leases(history) {
        judge(
            lease.value,
            lease.since,
            lease.until,
            &lease_text(lease.since, lease.until),
        );
    }
}

/// One lease a candidate reported: from `elected` (or a renewal) until
/// the next report, its loss, or its deadline.
struct Lease<'h> {
    value: &'h [u8],
    since: Nanos,
    until: Nanos,
}

fn reported_leases(history: &History) -> Vec<Lease<'_>> {
    // Leases reported and not yet over, by lock value: (since, until).
    let mut open: HashMap<&[u8], (Nanos, Nanos)> = HashMap::new();
    let mut leases = Vec::new();
    let close = |value, since, until: Nanos, at: Nanos| Lease {
        value,
        since,
        until: until.min(at),
    };
    for claimed in &history.claims {
        let value = claimed.lock_value.as_slice();
        match &claimed.claim {
            Claim::Acting { .. } => {}
            Claim::LeadsUntil { until, .. } => {
                if let Some((since, old_until)) = open.remove(value) {
                    leases.push(close(value, since, old_until, claimed.at));
                }
                open.insert(value, (claimed.at, *until));
            }
            Claim::Lost => {
                if let Some((since, until)) = open.remove(value) {
                    leases.push(close(value, since, until, claimed.at));
                }
            }
        }
    }
    leases.extend(
        open.into_iter()
            .map(|(value, (since, until))| close(value, since, until, until)),
    );
    leases
}

/// (f)
fn one_leader_at_a_time(history: &History, report: &mut impl FnMut(char, String)) {
    let mut leases = reported_leases(history);
    for lease in &mut leases {
        // Reported after an operator released the hold it renewed (the
        // renewal's answer was on its way): over before it began.
        let released_before = history.holder_at(lease.since) != Some(lease.value)
            && history
                .end_of_hold_before(lease.value, lease.since)
                .is_some_and(|end| end.external);
        if released_before {
            lease.until = lease.since;
        } else if let Some(release) = history.position.iter().find(|change| {
            change.external
                && (lease.since..lease.until).contains(&change.at)
                && history.holder_at(change.at.saturating_sub(1)) == Some(lease.value)
        }) {
            lease.until = release.at;
        }
    }
    leases.retain(|lease| lease.since < lease.until);
    leases.sort_by_key(|lease| lease.since);
    for (i, earlier) in leases.iter().enumerate() {
        for later in leases[i + 1..]
            .iter()
            .take_while(|later| later.since < earlier.until)
        {
            if later.value != earlier.value {
                report(
                    'f',
                    format!(
                        "{} {} while {} {}",
                        text(later.value),
                        lease_text(later.since, later.until),
                        text(earlier.value),
                        lease_text(earlier.since, earlier.until)
                    ),
                );
            }
        }
    }
}

fn lease_text(since: Nanos, until: Nanos) -> String {
    format!(
        "reported leading from {:.3} to {:.3} ms",
        since as f64 / 1e6,
        until as f64 / 1e6
    )
}

/// Why the store's record contradicts `value` leading from `from` to `to`
/// (inclusive of `from`, exclusive of `to` unless both are equal), if it
/// does.
fn contradiction(history: &History, value: &[u8], from: Nanos, to: Nanos) -> Option<String> {
    if to < from {
        return None;
    }
    let describe = |at: Nanos, holder: Option<&[u8]>| match holder {
        Some(other) => format!(
            "the store let {} in at {:.3} ms",
            text(other),
            at as f64 / 1e6
        ),
        None => format!("the store had nobody at {:.3} ms", at as f64 / 1e6),
    };
    if history.holder_at(from) != Some(value) {
        return match history.end_of_hold_before(value, from) {
            Some(end) if end.external => None,
            Some(end) => Some(describe(end.at, end.holder.as_deref())),
            None => Some(describe(from, history.holder_at(from))),
        };
    }
    let first = history.position.partition_point(|c| c.at <= from);
    for change in &history.position[first..] {
        if change.at >= to {
            break;
        }
        if change.holder.as_deref() != Some(value) {
            return (!change.external).then(|| describe(change.at, change.holder.as_deref()));
        }
    }
    None
}

/// (d)
fn progress_is_made(progress: &Progress, bounds: Liveness, report: &mut impl FnMut(char, String)) {
    if progress.longest_gap > bounds.gap_bound {
        report(
            'd',
            format!(
                "after the faults stopped nobody held the position for {} ms (bound {} ms)",
                progress.longest_gap / MS,
                bounds.gap_bound / MS
            ),
        );
    }
    if progress.longest_unclaimed > bounds.own_value_bound {
        report(
            'd',
            format!(
                "{} campaigned for {} ms while the store held its own value (bound {} ms)",
                progress.unclaimed_by,
                progress.longest_unclaimed / MS,
                bounds.own_value_bound / MS
            ),
        );
    }
}

/// (e)
fn events_are_well_formed(history: &History, report: &mut impl FnMut(char, String)) {
    let mut leading: HashMap<&[u8], bool> = HashMap::new();
    for claimed in &history.claims {
        let value = claimed.lock_value.as_slice();
        let was = leading.get(value).copied().unwrap_or(false);
        let problem = match &claimed.claim {
            Claim::LeadsUntil { event, .. } => {
                leading.insert(value, true);
                match (*event, was) {
                    ("elected", true) => Some("elected again with no loss reported between"),
                    ("renewed", false) => Some("renewed with no lease"),
                    ("lease-shortened", false) => Some("shortened a lease it did not hold"),
                    _ => None,
                }
            }
            Claim::Lost => {
                leading.insert(value, false);
                None
            }
            Claim::Acting { .. } => None,
        };
        if let Some(problem) = problem {
            report(
                'e',
                format!("{} {problem} at {} ms", text(value), claimed.at / MS),
            );
        }
    }
}

#[cfg(test)]
mod tests;
