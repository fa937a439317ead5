//! The safety and liveness properties every schedule must keep.
//!
//! (a) Fenced writes the store accepted come in fencing-token order: no
//!     older term's write lands after a newer term's.
//! (b) campaign-and-update-value loses and duplicates nothing: every write
//!     to the counter is the previous value plus one (or a same-value
//!     claim), and the final count lies between the updates acknowledged
//!     and those plus the ones whose outcome is unknown.
//! (c) No candidate acts as leader while the store says it is not: checked
//!     each time a candidate is about to write as leader.
//! (d) Once the faults stop, nobody-holds-the-position never lasts longer
//!     than a term plus a bound.

use std::time::Duration;

use elector_statestore as ss;

use crate::history::History;
use crate::world::Nanos;

/// One broken property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub property: char,
    pub detail: String,
}

pub fn check(history: &History, final_counter: u64, liveness_bound: Duration) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut report = |property, detail: String| violations.push(Violation { property, detail });

    // (a)
    let mut newest: Option<(ss::Hlc, &str)> = None;
    for write in &history.shared_writes {
        let mut parts = write.value.split('|');
        let (writer, token) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let Ok(token) = token.parse::<ss::Hlc>() else {
            report('a', format!("unreadable shared write {:?}", write.value));
            continue;
        };
        if let Some((previous, previous_writer)) = &newest
            && token.cmp_version(previous).is_lt()
        {
            report(
                'a',
                format!(
                    "at {} ms {writer} wrote with token {token} after {previous_writer} had written with the newer {previous}",
                    write.at / 1_000_000
                ),
            );
            continue;
        }
        newest = Some((token, writer));
    }

    // (b)
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
                "the counter is {final_counter} but only {acknowledged} (+{unknown} unknown) updates ran: duplicated"
            ),
        );
    }

    // (c)
    for belief in &history.false_beliefs {
        report('c', belief.clone());
    }

    // (d)
    let bound = liveness_bound.as_nanos() as Nanos;
    if history.longest_gap > bound {
        report(
            'd',
            format!(
                "after the faults stopped nobody held the position for {} ms (bound {} ms)",
                history.longest_gap / 1_000_000,
                bound / 1_000_000
            ),
        );
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::SharedWrite;

    fn write(writer: &str, wall: u64, counter: u32) -> SharedWrite {
        SharedWrite {
            at: 0,
            client: 0,
            value: format!("{writer}|{}|1", ss::Hlc::new(wall, counter, "store")),
        }
    }

    fn properties(history: &History, final_counter: u64) -> Vec<char> {
        check(history, final_counter, Duration::from_secs(1))
            .into_iter()
            .map(|v| v.property)
            .collect()
    }

    #[test]
    fn a_clean_history_passes() {
        let history = History {
            shared_writes: vec![write("a", 10, 0), write("a", 10, 0), write("b", 20, 1)],
            counter_writes: vec![1, 1, 2, 3],
            updates_acknowledged: 2,
            updates_unknown: 1,
            ..History::default()
        };
        assert_eq!(properties(&history, 3), Vec::<char>::new());
    }

    #[test]
    fn each_property_bites() {
        let mut history = History {
            shared_writes: vec![write("b", 20, 1), write("a", 10, 0)],
            ..History::default()
        };
        assert_eq!(properties(&history, 0), vec!['a']);
        history.shared_writes.clear();
        history.counter_writes = vec![1, 3];
        history.updates_acknowledged = 3;
        assert_eq!(properties(&history, 3), vec!['b']);
        history.counter_writes = vec![1, 2];
        assert_eq!(
            properties(&history, 2),
            vec!['b'],
            "an acknowledged update is missing"
        );
        history.updates_acknowledged = 1;
        assert_eq!(
            properties(&history, 2),
            vec!['b'],
            "one update counted twice"
        );
        history.updates_acknowledged = 2;
        history.false_beliefs.push("x acts as leader".into());
        assert_eq!(properties(&history, 2), vec!['c']);
        history.false_beliefs.clear();
        history.longest_gap = 5_000_000_000;
        assert_eq!(properties(&history, 2), vec!['d']);
    }
}
