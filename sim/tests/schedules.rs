//! The fault simulation as part of the test suite: many schedules must
//! keep every property, every deliberately broken variant must be caught —
//! by the property meant to catch it, and by that one alone — and a seed
//! must replay exactly.
//!
//! `ELECTOR_SIM_SCHEDULES=N` runs N schedules instead of 10,000 (a soak);
//! `ELECTOR_SIM_FIRST_SEED=S` starts elsewhere.

use elector_sim::{Options, Outcome, Sabotage, run, run_many};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn ten_thousand_schedules_keep_every_property() {
    let schedules = env_u64("ELECTOR_SIM_SCHEDULES", 10_000);
    let first = env_u64("ELECTOR_SIM_FIRST_SEED", 0);
    let mut failures = Vec::new();
    let totals = run_many(first, schedules, Options::default(), |outcome: &Outcome| {
        failures.push(outcome.to_string());
    });
    eprintln!("{totals}");
    assert!(
        failures.is_empty(),
        "{} schedules failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(totals.faults > schedules, "faults happened");
    assert!(totals.crashes > schedules / 2, "candidates crashed");
    assert!(
        totals.external_releases > schedules / 2,
        "operators released"
    );
    assert!(totals.fenced_writes > schedules * 20, "leaders wrote");
    assert!(totals.updates > schedules, "updates ran");
    assert!(totals.claims > schedules * 50, "claims were checked");
}

#[test]
fn the_real_elector_survives_losing_every_notification() {
    let options = Options {
        lose_all_notifications: true,
        ..Options::default()
    };
    assert_eq!(caught(options, 2_000), Vec::<char>::new());
}

/// A store that restarts empty (an in-memory `elector statestore` after a
/// crash, or a second instance taking over the broker) frees a position
/// its holder still believes it holds: the checker sees two leaders. The
/// service's one-instance-per-broker check (`tests/mqtt/instance.rs`)
/// removes one cause; a store that keeps its state removes the rest.
#[test]
fn a_store_that_restarts_empty_is_caught_granting_twice() {
    let options = Options {
        restart_store_empty: true,
        ..Options::default()
    };
    let properties = caught(options, 500);
    assert!(!properties.is_empty(), "the restart went unnoticed");
    eprintln!("a store restarting empty violates {properties:?}");
}

/// Properties the variant violates within the first `seeds` seeds.
fn caught(options: Options, seeds: u64) -> Vec<char> {
    let mut properties = Vec::new();
    run_many(0, seeds, options, |outcome| {
        properties.extend(outcome.violations.iter().map(|v| v.property));
    });
    properties.sort();
    properties.dedup();
    properties
}

fn sabotaged(sabotage: Sabotage, seeds: u64) -> Vec<char> {
    caught(
        Options {
            sabotage,
            ..Options::default()
        },
        seeds,
    )
}

#[test]
fn a_forged_fencing_token_is_caught_by_a_alone() {
    let sabotage = Sabotage {
        forged_token: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 100), ['a']);
}

#[test]
fn updating_without_fencing_tokens_is_caught_by_b_alone() {
    let sabotage = Sabotage {
        no_fencing: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 2_000), ['b']);
}

#[test]
fn forgetting_an_update_in_doubt_is_caught_by_b_alone() {
    let sabotage = Sabotage {
        forget_unconfirmed_update: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 2_000), ['b']);
}

#[test]
fn a_lease_measured_from_the_reply_is_caught_by_c_alone() {
    let sabotage = Sabotage {
        lease_from_reply: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 1_000), ['c']);
}

#[test]
fn a_lease_that_never_ends_is_caught_by_c_alone() {
    let sabotage = Sabotage {
        lease_never_ends: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 500), ['c']);
}

#[test]
fn keeping_the_lease_after_a_shorter_write_is_caught_by_c_alone() {
    let sabotage = Sabotage {
        keep_lease_on_unknown_write: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 1_000), ['c']);
}

#[test]
fn ending_the_lease_after_the_resignation_answer_is_caught_by_c_alone() {
    let sabotage = Sabotage {
        end_lease_after_resign_answer: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 200), ['c']);
}

#[test]
fn an_understated_request_lifetime_is_caught_by_c_alone() {
    let options = Options {
        understate_lifetime: true,
        ..Options::default()
    };
    assert_eq!(caught(options, 4_000), ['c']);
}

#[test]
fn campaigning_without_the_expiry_timer_is_caught_by_d_alone_when_notifications_are_lost() {
    let options = Options {
        sabotage: Sabotage {
            no_expiry_timer: true,
            ..Sabotage::default()
        },
        lose_all_notifications: true,
        ..Options::default()
    };
    assert_eq!(caught(options, 1_000), ['d']);
}

#[test]
fn ignoring_its_own_value_is_caught_by_d_alone() {
    let sabotage = Sabotage {
        ignore_own_value: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 4_000), ['d']);
}

#[test]
fn renewing_before_expiring_is_caught_by_e_alone() {
    let sabotage = Sabotage {
        renew_before_expiry: true,
        ..Sabotage::default()
    };
    assert_eq!(sabotaged(sabotage, 1_000), ['e']);
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 77, 1_234] {
        let (first, second) = (run(seed, Options::default()), run(seed, Options::default()));
        assert_eq!(first.to_string(), second.to_string());
        assert_eq!(first.requests, second.requests);
    }
}
