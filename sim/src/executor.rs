//! The one executor: runs tasks (candidates, operators, scripted tests) in
//! the world, polling them until nothing moves at the current instant,
//! then advancing true time to the next thing that can happen: a timer a
//! future waits for, a scheduled event, or a key's expiry. No real time
//! passes, so a run is exact to the nanosecond and the same every time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use crate::world::{EPOCH_MS, MS, Nanos, World};

pub type Task = Pin<Box<dyn Future<Output = ()>>>;

/// A future as a task for [`World::run`].
pub fn task(future: impl Future<Output = ()> + 'static) -> Task {
    Box::pin(future)
}

/// Why [`World::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Every task finished.
    Finished,
    /// Every unfinished task waits with nothing left that could wake it;
    /// time was run to the end (so a stall shows in liveness checks).
    Stalled,
    /// The next thing to happen lies past the end.
    TimeUp,
}

impl World {
    /// Runs `tasks` until they all finish or time reaches `until`.
    /// `after_step` runs after every event (the safety checks).
    pub fn run(
        &self,
        tasks: &mut [Option<Task>],
        until: Nanos,
        mut after_step: impl FnMut(&World),
    ) -> Ended {
        let mut context = Context::from_waker(Waker::noop());
        loop {
            // Poll until nothing moves at this instant.
            loop {
                let before = self.progress.get();
                self.timers.borrow_mut().clear();
                let mut finished = false;
                for slot in tasks.iter_mut() {
                    if let Some(task) = slot
                        && task.as_mut().poll(&mut context).is_ready()
                    {
                        *slot = None;
                        finished = true;
                    }
                }
                if !finished && self.progress.get() == before {
                    break;
                }
            }
            if tasks.iter().all(Option::is_none) {
                return Ended::Finished;
            }
            let next_timer = self.timers.borrow().iter().copied().min();
            let next_event = self.events.borrow().peek().map(|s| s.at);
            let next_expiry = self
                .store
                .borrow()
                .next_expiry()
                .map(|ms| (ms.saturating_sub(EPOCH_MS)) * MS);
            let next = [next_timer, next_event, next_expiry]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next.filter(|next| *next <= until) else {
                self.now.set(until);
                after_step(self);
                return if next.is_none() {
                    Ended::Stalled
                } else {
                    Ended::TimeUp
                };
            };
            self.now.set(next.max(self.now.get()));
            self.bump();
            self.expire_keys();
            while self
                .events
                .borrow()
                .peek()
                .is_some_and(|s| s.at <= self.now.get())
            {
                let scheduled = self.events.borrow_mut().pop().expect("peeked");
                self.handle(scheduled.event);
                after_step(self);
            }
            after_step(self);
        }
    }
}
