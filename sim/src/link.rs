//! A client's link to the broker: its state, and how it delays, loses and
//! duplicates what it carries (the randomized faults of the schedules).

use crate::time::Nanos;

/// How a client's link to the broker behaves now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Up,
    /// Disconnected: the client knows; requests fail at once, the store
    /// forgets the client's KEYNOTIFY registrations.
    Down,
    /// Messages vanish both ways; nobody knows.
    Blackhole,
    /// Requests reach the store, answers and notifications vanish: writes
    /// land and their senders never learn it.
    Deaf,
    /// The broker dropped the connection and the client has not noticed
    /// yet (it will, by its keep-alive): messages vanish both ways.
    Dropped,
}

/// Which way a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ToStore,
    ToClient,
}

#[derive(Clone, Debug)]
pub struct Link {
    pub state: LinkState,
    /// Bumped at every reconnect; answers to older requests are void.
    pub generation: u64,
    pub loss: f64,
    pub duplication: f64,
    pub delay_min: Nanos,
    pub delay_max: Nanos,
}

impl Link {
    /// A link that carries everything at once, in order, without loss:
    /// a request is applied, and its answer and notifications delivered,
    /// within the call that sends it (the scripted tests' default, where
    /// faults come from [`crate::transport::Transport`] instead).
    pub fn instant() -> Link {
        Link {
            state: LinkState::Up,
            generation: 0,
            loss: 0.0,
            duplication: 0.0,
            delay_min: 0,
            delay_max: 0,
        }
    }

    /// Whether this link delivers at once (see [`Link::instant`]).
    pub fn is_instant(&self) -> bool {
        self.state == LinkState::Up
            && self.delay_max == 0
            && self.loss == 0.0
            && self.duplication == 0.0
    }

    /// Whether it carries a message going `direction` now.
    pub fn carries(&self, direction: Direction) -> bool {
        match self.state {
            LinkState::Up => true,
            LinkState::Deaf => direction == Direction::ToStore,
            LinkState::Down | LinkState::Blackhole | LinkState::Dropped => false,
        }
    }
}
