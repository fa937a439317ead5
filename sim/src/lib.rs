//! Deterministic fault simulation of the elector.
//!
//! The real election logic (`elector-guest`, natively) and the real
//! state-store state machine (`elector-statestore`) run in a simulated world
//! ([`world`]) whose network loses, delays, reorders and duplicates
//! messages, drops links (the store then forgets the client's watches) and
//! black-holes them, restarts the broker, forgets registrations silently,
//! and gives every client a skewed wall clock and a drifting monotonic
//! clock; candidates crash and restart. A seed decides everything, so a
//! failing schedule replays exactly: `cargo run --release -p elector-sim --
//! --seed N`.
//!
//! Candidates on one position may use different terms, renewal periods and
//! margins; they act as leader, read the leader in the middle of it (a call
//! that holds up their ticks), try again with shorter terms, update a
//! shared counter, resign; an operator now and then releases whoever holds
//! the position. The client behaves as the host's MQTT client does,
//! including how long a request whose answer was lost may still land.
//!
//! After each schedule the [`checker`] holds every claim the candidates
//! made against the store's own record: tokens the store issued, no lost
//! or doubled update, no belief in a hold the store no longer had,
//! progress once the faults stop, and well-formed events.
//!
//! The same world, client and executor also run the elector's scripted
//! behaviour tests ([`scripted`], used by `guest/tests/`): instant links,
//! and faults a test opens on purpose ([`Transport`]) instead of random
//! ones, so that each window is shown to the millisecond.

pub mod checker;
pub mod client;
pub mod clock;
pub mod connection;
pub mod driver;
pub mod event;
pub mod executor;
pub mod history;
pub mod link;
pub mod mailbox;
pub mod mirror;
pub mod plan;
pub mod rng;
pub mod schedule;
pub mod scripted;
pub mod time;
pub mod transport;
pub mod workload;
pub mod world;

pub use checker::Violation;
pub use connection::ReleaseFlaw;
pub use elector_guest::sabotage::Sabotage;
pub use executor::{Task, task};
pub use schedule::{Options, Outcome, RestartPlan, run};
pub use scripted::{EventLog, Sim, SimCancel, SimCandidate, drive_until};
pub use transport::Transport;

/// Totals over many schedules.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub schedules: u64,
    pub faults: u64,
    pub crashes: u64,
    pub requests: u64,
    pub elections: u64,
    pub fenced_writes: u64,
    pub updates: u64,
    pub claims: u64,
    pub external_releases: u64,
    pub broker_losses: u64,
    pub wills_published: u64,
    pub will_releases: u64,
    pub failing: Vec<u64>,
}

/// The one-line summary the test suite and `elector-sim` print.
impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} schedules: {} faults, {} crashes, {} operator releases, {} requests, \
             {} elections, {} fenced writes, {} updates, {} claims checked against the store, \
             {} connections with a Will lost by the broker, {} Wills published, {} of them \
             releasing a hold; {} failing",
            self.schedules,
            self.faults,
            self.crashes,
            self.external_releases,
            self.requests,
            self.elections,
            self.fenced_writes,
            self.updates,
            self.claims,
            self.broker_losses,
            self.wills_published,
            self.will_releases,
            self.failing.len()
        )
    }
}

/// Runs the schedules of seeds `first..first + count`.
pub fn run_many(
    first: u64,
    count: u64,
    options: Options,
    mut on_failure: impl FnMut(&Outcome),
) -> Totals {
    let mut totals = Totals::default();
    for seed in first..first + count {
        let outcome = run(seed, options);
        totals.schedules += 1;
        totals.faults += outcome.faults;
        totals.crashes += outcome.crashes;
        totals.requests += outcome.requests;
        totals.elections += outcome.elections;
        totals.fenced_writes += outcome.shared_writes as u64;
        totals.updates += outcome.updates;
        totals.claims += outcome.claims;
        totals.external_releases += outcome.external_releases;
        totals.broker_losses += outcome.broker_losses;
        totals.wills_published += outcome.wills_published;
        totals.will_releases += outcome.will_releases;
        if !outcome.violations.is_empty() {
            on_failure(&outcome);
            totals.failing.push(seed);
        }
    }
    totals
}
