//! Behaviour of the election logic, run natively in the simulated world
//! (`sim.rs`): every operation and error path, with exact virtual timings.

mod campaign;
mod operations;
mod renewal;
mod update;
mod windows;

use core::time::Duration;
use std::cell::RefCell;
use std::rc::Rc;

use crate::sim::{EventLog, Sim, SimCandidate};
use crate::types::CandidateEvent;

pub const TERM: Duration = Duration::from_secs(1);
pub const TERM_MS: u64 = 1_000;
pub const LIMIT: Duration = Duration::from_secs(600);

pub type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

pub fn task(future: impl std::future::Future<Output = ()> + 'static) -> Task {
    Box::pin(future)
}

/// Runs one scripted task to completion in `sim`.
pub fn run(sim: &Sim, future: impl std::future::Future<Output = ()> + 'static) {
    sim.run(vec![task(future)], LIMIT);
}

/// Shared, mutable test state across simulated tasks.
pub fn shared<T>(value: T) -> Rc<RefCell<T>> {
    Rc::new(RefCell::new(value))
}

/// Options with nothing but a position and a name.
pub fn options(position: &str, name: &str) -> crate::CandidateOptions {
    crate::CandidateOptions {
        position: position.into(),
        name: name.into(),
        session_id: None,
        safety_margin_ms: None,
        request_lifetime_ms: None,
    }
}

pub fn candidates(sim: &Sim, names: &[&str]) -> Vec<(SimCandidate, EventLog)> {
    names.iter().map(|n| sim.candidate("position", n)).collect()
}

/// The `elected`/`lost` transitions in a log, for compact assertions.
pub fn transitions(log: &EventLog) -> Vec<&'static str> {
    log.events()
        .iter()
        .filter_map(|event| match event {
            CandidateEvent::Elected(_) => Some("elected"),
            CandidateEvent::Renewed(_) => Some("renewed"),
            CandidateEvent::LeadershipLost(crate::LostReason::Resigned) => Some("lost:resigned"),
            CandidateEvent::LeadershipLost(crate::LostReason::LeaseExpired) => Some("lost:expired"),
            CandidateEvent::LeadershipLost(crate::LostReason::TakenOver) => Some("lost:taken"),
            _ => None,
        })
        .collect()
}
