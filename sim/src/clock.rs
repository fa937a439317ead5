//! Time as a candidate sees it: a monotonic clock that may run a little
//! fast or slow and a wall clock offset from the store's, both derived from
//! the world's true time; and sleeping in true time.

use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::task::Poll;

use elector_guest::Clock;
use elector_guest::types::Instant;

use crate::world::{EPOCH_MS, MS, Nanos, World};

/// A client's own clocks: a wall clock offset from the store's (as far as
/// the protocol's one-minute bound allows) and a monotonic clock that runs
/// a little fast or slow.
#[derive(Clone, Copy, Debug)]
pub struct Skew {
    pub wall_offset_ms: i64,
    /// Local seconds per true second.
    pub rate: f64,
}

impl Skew {
    /// Clocks that agree with the store's.
    pub const NONE: Skew = Skew {
        wall_offset_ms: 0,
        rate: 1.0,
    };
}

/// A candidate's monotonic clock: `rate` local seconds per true second,
/// reading `reads_at_origin` at true time `origin`.
#[derive(Clone)]
pub struct SimClock {
    pub world: Rc<World>,
    pub skew: Skew,
    /// True time when this clock started (a restarted candidate gets a
    /// fresh clock).
    pub origin: Nanos,
    /// What it reads then.
    pub reads_at_origin: Nanos,
}

impl SimClock {
    /// A process's fresh clock, started now: it reads one second, so that
    /// no instant a candidate computes is near zero.
    pub fn started(world: &Rc<World>, skew: Skew) -> SimClock {
        SimClock {
            world: world.clone(),
            skew,
            origin: world.now.get(),
            reads_at_origin: 1_000 * MS,
        }
    }

    /// A clock that reads the world's true time, for scripted tests whose
    /// expectations are written in it.
    pub fn true_time_of(world: &Rc<World>) -> SimClock {
        SimClock {
            world: world.clone(),
            skew: Skew::NONE,
            origin: 0,
            reads_at_origin: 0,
        }
    }

    /// The clock's reading function, without the world (for what the
    /// world keeps of a client).
    pub fn reading(&self) -> Reading {
        Reading {
            skew: self.skew,
            origin: self.origin,
            reads_at_origin: self.reads_at_origin,
        }
    }

    fn local(&self, true_ns: Nanos) -> u64 {
        self.reading().local(true_ns)
    }

    /// The true time at which this clock reads `local_ns`.
    pub fn true_time(&self, local_ns: u64) -> Nanos {
        self.reading().true_time(local_ns)
    }
}

/// What a [`SimClock`] reads at any true time.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    pub skew: Skew,
    pub origin: Nanos,
    pub reads_at_origin: Nanos,
}

impl Reading {
    /// The monotonic reading at true time `true_ns` (not before `origin`).
    pub fn local(&self, true_ns: Nanos) -> u64 {
        (true_ns.saturating_sub(self.origin) as f64 * self.skew.rate) as u64 + self.reads_at_origin
    }

    /// The true time at which the clock reads `local_ns`.
    pub fn true_time(&self, local_ns: u64) -> Nanos {
        let local = local_ns.saturating_sub(self.reads_at_origin);
        self.origin + (local as f64 / self.skew.rate).ceil() as u64
    }

    /// The wall clock, in milliseconds, at true time `true_ns`.
    pub fn wall_ms(&self, true_ns: Nanos) -> u64 {
        (EPOCH_MS as i64 + (true_ns / MS) as i64 + self.skew.wall_offset_ms).max(0) as u64
    }
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        Instant(self.local(self.world.now.get()))
    }

    fn wall_clock_ms(&self) -> u64 {
        (EPOCH_MS as i64 + (self.world.now.get() / MS) as i64 + self.skew.wall_offset_ms) as u64
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let world = self.world.clone();
        let wake = if deadline.0 == u64::MAX {
            Nanos::MAX
        } else {
            self.true_time(deadline.0)
        };
        poll_fn(move |_| {
            if world.now.get() >= wake {
                Poll::Ready(())
            } else {
                if wake != Nanos::MAX {
                    world.wake_at(wake);
                }
                Poll::Pending
            }
        })
    }
}

/// Sleeps in true time.
pub fn sleep(world: &Rc<World>, duration: Nanos) -> impl Future<Output = ()> + use<> {
    let world = world.clone();
    let wake = world.now.get().saturating_add(duration);
    poll_fn(move |_| {
        if world.now.get() >= wake {
            Poll::Ready(())
        } else {
            world.wake_at(wake);
            Poll::Pending
        }
    })
}
