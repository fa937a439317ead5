//! The checker judged on hand-made histories: each property catches what
//! it should, and a clean history passes.

use super::*;
use crate::history::SharedWrite;

const LIVENESS: Liveness = Liveness {
    gap_bound: 1_000 * MS,
    own_value_bound: 1_000 * MS,
};

fn token(wall: u64) -> ss::Hlc {
    ss::Hlc::new(wall, 0, "store")
}

fn properties(history: &History, final_counter: u64, progress: &Progress) -> Vec<char> {
    check(history, final_counter, progress, LIVENESS)
        .into_iter()
        .map(|v| v.property)
        .collect()
}

/// `a` wins at 10 ms (token 10), holds until 100 ms.
fn clean() -> History {
    let mut history = History::default();
    history.issued.insert(token(10), b"a:1".to_vec());
    history.position_changed(10 * MS, Some(b"a:1".to_vec()), false);
    history.position_changed(100 * MS, None, false);
    let lease_until = |until| Claim::LeadsUntil {
        event: "elected",
        until,
    };
    history.claim(11 * MS, b"a:1", lease_until(90 * MS));
    history.claim(20 * MS, b"a:1", Claim::Acting { token: token(10) });
    history.claim(95 * MS, b"a:1", Claim::Lost);
    history.shared_writes.push(SharedWrite {
        at: 21 * MS,
        client: 0,
        value: format!("a:1|{}|1", token(10)),
    });
    history
}

#[test]
fn a_clean_history_passes() {
    assert_eq!(
        properties(&clean(), 0, &Progress::default()),
        Vec::<char>::new()
    );
}

#[test]
fn a_token_the_store_did_not_issue_to_the_writer_is_caught() {
    let mut history = clean();
    history.shared_writes[0].value = format!("a:1|{}|1", token(11));
    assert_eq!(properties(&history, 0, &Progress::default()), ['a']);
    history.issued.insert(token(11), b"b:1".to_vec());
    assert_eq!(properties(&history, 0, &Progress::default()), ['a']);
}

#[test]
fn lost_and_doubled_updates_are_caught() {
    let mut history = clean();
    history.counter_writes = vec![1, 3];
    history.updates_acknowledged = 3;
    assert_eq!(properties(&history, 3, &Progress::default()), ['b']);
    history.counter_writes = vec![1, 2];
    assert_eq!(properties(&history, 2, &Progress::default()), ['b']);
    history.updates_acknowledged = 1;
    assert_eq!(properties(&history, 2, &Progress::default()), ['b']);
}

#[test]
fn a_belief_past_the_stores_hold_is_caught() {
    // Acting after the store freed the position.
    let mut history = clean();
    history.claim(101 * MS, b"a:1", Claim::Acting { token: token(10) });
    assert_eq!(properties(&history, 0, &Progress::default()), ['c']);
    // A lease reported past the store's expiry, never reported lost.
    let mut history = clean();
    history.claims.pop();
    history.claims.pop();
    history.claim(
        50 * MS,
        b"a:1",
        Claim::LeadsUntil {
            event: "renewed",
            until: 120 * MS,
        },
    );
    assert_eq!(properties(&history, 0, &Progress::default()), ['c']);
    // The same after an operator's release is not the elector's fault.
    let mut history = clean();
    history.position.pop();
    history.position_changed(100 * MS, None, true);
    history.claim(101 * MS, b"a:1", Claim::Acting { token: token(10) });
    assert_eq!(
        properties(&history, 0, &Progress::default()),
        Vec::<char>::new()
    );
}

#[test]
fn stalls_are_caught() {
    let stalled = Progress {
        longest_gap: 2_000 * MS,
        ..Progress::default()
    };
    assert_eq!(properties(&clean(), 0, &stalled), ['d']);
    let unclaimed = Progress {
        longest_unclaimed: 2_000 * MS,
        unclaimed_by: "a:2".into(),
        ..Progress::default()
    };
    assert_eq!(properties(&clean(), 0, &unclaimed), ['d']);
}

#[test]
fn two_elections_without_a_loss_are_caught() {
    let mut history = clean();
    history.claims.pop();
    history.claim(
        80 * MS,
        b"a:1",
        Claim::LeadsUntil {
            event: "elected",
            until: 90 * MS,
        },
    );
    assert_eq!(properties(&history, 0, &Progress::default()), ['e']);
}
