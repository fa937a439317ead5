//! What the world schedules: messages on their way and planned faults,
//! each at an instant, run in the order they were scheduled when several
//! fall on the same one.

use elector_statestore as ss;

use crate::link::LinkState;
use crate::time::Nanos;

/// A request in flight to the store.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub client: u32,
    pub id: u64,
    pub generation: u64,
    pub request: ss::Request<u32>,
    pub answer: AnswerRoute,
}

/// How the answer to a request travels back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerRoute {
    /// Over the client's link, like everything else.
    Link,
    /// This long after the store applied the request, whatever the link
    /// (a [`crate::transport::Transport`] fault).
    After(Nanos),
    /// Never (a [`crate::transport::Transport`] fault).
    Lost,
}

/// Something that happens at an instant.
#[derive(Debug)]
pub enum Event {
    /// A request reaches the store.
    Request(Envelope),
    /// An answer reaches its client.
    Response {
        client: u32,
        id: u64,
        generation: u64,
        response: ss::Response,
    },
    /// A notification reaches its client.
    Notification {
        client: u32,
        generation: u64,
        key: Vec<u8>,
        event: ss::KeyEvent,
        version: ss::Hlc,
    },
    /// A fault (or the end of one) scheduled by the fault plan.
    Link { client: u32, state: LinkState },
    /// The store forgets a client's registrations without telling it.
    ForgetRegistrations { client: u32 },
    /// The store restarts, as an `elector statestore` does after a crash
    /// (see [`StoreRestart`]).
    StoreRestart(StoreRestart),
    /// Messages on a client's link take up to `delay_max` (a congested or
    /// queueing link); writes can land long after they were sent.
    Delay { client: u32, delay_max: Nanos },
    /// The broker drops a client's connection (`epoch`; `None`: whichever
    /// it holds), whether or not the client notices.
    BrokerLost { client: u32, epoch: Option<u64> },
    /// The broker shuts down (a restart): as mosquitto does, it publishes
    /// the Will of every connection it holds at once, whatever the delay,
    /// persistent sessions included, then drops the connections.
    BrokerShutdown { client: u32 },
    /// The Will Delay Interval of a lost connection ran out.
    WillDue { client: u32, epoch: u64 },
    /// A client's link probe reaches the broker, which sends it back.
    Probe {
        client: u32,
        generation: u64,
        sequence: u64,
    },
    /// A probe is back at its client.
    ProbeBack {
        client: u32,
        generation: u64,
        sequence: u64,
    },
}

/// How the store comes back from a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreRestart {
    /// Empty, as an in-memory store without a lock-delay (or a second
    /// instance taking over the broker) looks to its clients: every key,
    /// token and registration gone.
    Empty,
    /// Empty, holding absent keys from conditional SETs for this many
    /// milliseconds (`--in-memory --lock-delay`).
    EmptyHoldingNewPositions { lock_delay_ms: u64 },
    /// With everything it kept (the durable store): the snapshot a
    /// restore starts from is exactly what a durable driver wrote down.
    Restored,
}

/// An event and when it happens; `sequence` keeps same-instant events in
/// the order they were scheduled.
pub(crate) struct Scheduled {
    pub at: Nanos,
    pub sequence: u64,
    pub event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.sequence) == (other.at, other.sequence)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.sequence).cmp(&(self.at, self.sequence))
    }
}
