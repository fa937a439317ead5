//! Behaviour of the election logic, run natively in the simulator's
//! scripted worlds (`elector_sim::scripted`): every operation and error
//! path, with exact timings in simulated time.
//!
//! `elector-sim` is a dev-dependency of this crate and depends on it in
//! turn: cargo builds one `elector_guest` for both, so the candidates here
//! and the simulator's are the same type. The dev-dependency switches on
//! the `sabotage` feature, so the scenarios can show that each window
//! opens again when its defect is put back.

mod cadence;
mod campaign;
mod lost_answers;
mod operations;
mod release;
mod renewal;
mod update;
mod windows;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::cell::RefCell;
use std::rc::Rc;

use elector_guest::NeverCancel;
use elector_guest::types::CandidateEvent;
use elector_sim::{EventLog, Sim, SimCandidate, Task, task};

pub const TERM: Duration = Duration::from_secs(1);
pub const TERM_MS: u64 = 1_000;
pub const LIMIT: Duration = Duration::from_secs(600);

/// Runs one scripted task to completion in `sim`.
pub fn run(sim: &Sim, future: impl std::future::Future<Output = ()> + 'static) {
    sim.run(vec![task(future)], LIMIT);
}

/// A task that waits `delay` of simulated time, then does `action`: one
/// scripted event (a heal, a cancellation) at a fixed moment.
pub fn after(sim: &Sim, delay: Duration, action: impl FnOnce(&Sim) + 'static) -> Task {
    let sim = sim.clone();
    task(async move {
        sim.sleep(delay).await;
        action(&sim);
    })
}

/// A task in which `candidate` campaigns for `term_ms` until elected, and
/// the cell that then holds when that was, in simulated time.
pub fn campaign_until_elected(
    sim: &Sim,
    mut candidate: SimCandidate,
    term_ms: u64,
) -> (Task, Rc<RefCell<Option<Duration>>>) {
    let sim = sim.clone();
    let elected_at = shared(None);
    let campaign = task({
        let elected_at = elected_at.clone();
        async move {
            candidate
                .campaign(term_ms, None, None::<&NeverCancel>)
                .await
                .unwrap();
            *elected_at.borrow_mut() = Some(sim.elapsed());
        }
    });
    (campaign, elected_at)
}

/// Shared, mutable test state across simulated tasks.
pub fn shared<T>(value: T) -> Rc<RefCell<T>> {
    Rc::new(RefCell::new(value))
}

/// Options with nothing but a position and a name.
pub fn options(position: &str, name: &str) -> elector_guest::CandidateOptions {
    elector_guest::CandidateOptions {
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
            CandidateEvent::LeadershipLost(elector_guest::LostReason::Resigned) => {
                Some("lost:resigned")
            }
            CandidateEvent::LeadershipLost(elector_guest::LostReason::LeaseExpired) => {
                Some("lost:expired")
            }
            CandidateEvent::LeadershipLost(elector_guest::LostReason::TakenOver) => {
                Some("lost:taken")
            }
            _ => None,
        })
        .collect()
}

/// When `log` first reports `wanted` (`"elected"` or `"lost"`), if ever.
pub fn first(log: &EventLog, wanted: &str) -> Option<Duration> {
    log.timed().into_iter().find_map(|(at, event)| {
        let name = match event {
            CandidateEvent::Elected(_) => "elected",
            CandidateEvent::LeadershipLost(_) => "lost",
            _ => return None,
        };
        (name == wanted).then_some(at)
    })
}

/// The outcome of a store call on an instant link, which completes on its
/// first poll (and may be made outside any task).
pub fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("calls on an instant link never wait"),
    }
}
