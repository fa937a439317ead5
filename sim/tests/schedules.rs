//! The fault simulation as part of the test suite: many schedules must
//! keep every property, the broken variants must be caught, and a seed must
//! replay exactly.
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
    assert!(totals.faults > schedules, "faults were injected");
    assert!(totals.crashes > schedules / 2, "candidates crashed");
    assert!(totals.fenced_writes > schedules * 20, "leaders wrote");
    assert!(totals.updates > schedules, "updates ran");
}

/// Properties the broken variant violates within the first `seeds` seeds.
fn caught(options: Options, seeds: u64) -> Vec<char> {
    let mut properties = Vec::new();
    run_many(0, seeds, options, |outcome| {
        properties.extend(outcome.violations.iter().map(|v| v.property));
    });
    properties.sort();
    properties.dedup();
    properties
}

#[test]
fn writing_without_fencing_tokens_is_caught() {
    let sabotage = Sabotage {
        no_fencing: true,
        ..Sabotage::default()
    };
    let properties = caught(
        Options {
            sabotage,
            ..Options::default()
        },
        2_000,
    );
    assert!(
        properties.contains(&'a'),
        "out-of-order fenced writes: {properties:?}"
    );
    assert!(properties.contains(&'b'), "lost updates: {properties:?}");
}

#[test]
fn campaigning_without_the_expiry_timer_is_caught_when_notifications_are_lost() {
    let sabotage = Sabotage {
        no_expiry_timer: true,
        ..Sabotage::default()
    };
    let options = Options {
        sabotage,
        lose_all_notifications: true,
    };
    assert!(caught(options, 2_000).contains(&'d'), "a stalled election");
    // The real elector survives the same loss.
    let sound = Options {
        lose_all_notifications: true,
        ..Options::default()
    };
    assert_eq!(caught(sound, 2_000), Vec::<char>::new());
}

#[test]
fn renewing_past_a_lost_lease_is_caught() {
    let sabotage = Sabotage {
        lease_never_ends: true,
        ..Sabotage::default()
    };
    let properties = caught(
        Options {
            sabotage,
            ..Options::default()
        },
        500,
    );
    assert!(
        properties.contains(&'c'),
        "a leader acting after its lease: {properties:?}"
    );
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 77, 1_234] {
        let (first, second) = (run(seed, Options::default()), run(seed, Options::default()));
        assert_eq!(first.to_string(), second.to_string());
        assert_eq!(first.requests, second.requests);
    }
}
