//! Scripted worlds for the elector's behaviour tests (`guest/tests/`):
//! candidates on instant links, so every store call completes within the
//! call that makes it unless the test says otherwise, clocks that read true
//! time, and switches for the faults a test opens on purpose (notifications
//! lost, the store unreachable, a [`Transport`] for chosen requests).
//!
//! Tests written against it state timings to the millisecond, with no real
//! sleeping and no flakiness; they run on the same world, client and
//! executor as the randomized schedules.

use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::task::Poll;
use core::time::Duration;
use std::rc::Rc;

use elector_guest::types::{CandidateEvent, CandidateOptions};
use elector_guest::{Cancel, Candidate, EventSink};
use elector_statestore as ss;

use crate::client::SimClient;
use crate::clock::{Reading, SimClock, Skew, sleep};
use crate::connection::{ReleaseConfig, ReleaseFlaw};
use crate::driver::drive;
use crate::event::Event;
use crate::executor::{Ended, Task};
use crate::link::Link;
use crate::link::LinkState;
use crate::transport::{Transport, nanos};
use crate::world::World;

/// How long a request on an instant link may wait; it never does.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A candidate wired to a scripted world.
pub type SimCandidate = Candidate<SimClient, SimClock, EventLog>;

/// A handle to a scripted world: its clock, its store and its executor.
#[derive(Clone)]
pub struct Sim {
    world: Rc<World>,
    /// The test's own connection to the store.
    store: SimClient,
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    pub fn new() -> Sim {
        let world = World::new(0, 0, Link::instant());
        let store = connect(&world);
        Sim { world, store }
    }

    /// The test's own client of the store.
    pub fn store(&self) -> SimClient {
        self.store.clone()
    }

    /// A clock that reads true time.
    pub fn clock(&self) -> SimClock {
        SimClock::true_time_of(&self.world)
    }

    /// True time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.world.now.get())
    }

    /// Drops every notification from now on (or delivers them again).
    pub fn set_notifications(&self, deliver: bool) {
        self.world.drop_notifications.set(!deliver);
    }

    /// Makes every request fail with `disconnected` before it leaves, or
    /// lets them through again.
    pub fn set_store_reachable(&self, reachable: bool) {
        self.world.refuse_requests.set(!reachable);
    }

    /// Sets how the requests it selects travel from now on.
    pub fn set_transport(&self, transport: Transport) {
        self.world.transport.set(transport);
    }

    /// Sleeps in true time.
    pub fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + use<> {
        sleep(&self.world, nanos(duration))
    }

    /// SET requests the store received so far.
    pub fn sets(&self) -> u64 {
        self.world.history.borrow().sets
    }

    /// KEYNOTIFY registrations alive in the store.
    pub fn watch_count(&self) -> usize {
        self.world.watch_count()
    }

    /// Runs the tasks until all of them finish. Panics if they wait with
    /// nothing left to wake them, or past `limit` of true time.
    pub fn run(&self, tasks: Vec<Task>, limit: Duration) {
        let mut tasks: Vec<Option<Task>> = tasks.into_iter().map(Some).collect();
        match self.world.run(&mut tasks, nanos(limit), |_| {}) {
            Ended::Finished => {}
            Ended::Stalled => panic!("every task waits with nothing to wake it"),
            Ended::TimeUp => panic!("simulation passed its time limit of {limit:?}"),
        }
    }

    /// A candidate for `position` named `name`, and its event log.
    pub fn candidate(&self, position: &str, name: &str) -> (SimCandidate, EventLog) {
        self.candidate_with(CandidateOptions {
            position: position.into(),
            name: name.into(),
            session_id: None,
            safety_margin_ms: None,
            request_lifetime_ms: None,
        })
    }

    /// A candidate with these options, on a connection of its own, and its
    /// event log.
    pub fn candidate_with(&self, options: CandidateOptions) -> (SimCandidate, EventLog) {
        let log = self.event_log();
        let client = connect(&self.world);
        let candidate =
            Candidate::new(options, client, self.clock(), log.clone()).expect("valid options");
        (candidate, log)
    }

    /// A candidate with these options whose connection carries a Will
    /// releasing its position (Will Delay Interval `delay`; a published
    /// Will lands within `lifetime`), its event log, and its client id
    /// for the connection faults below. Its probes run only while a test
    /// runs [`Sim::probe`].
    pub fn candidate_with_will(
        &self,
        options: CandidateOptions,
        delay: Duration,
        lifetime: Duration,
    ) -> (SimCandidate, EventLog, SimClient) {
        let lock_value = match &options.session_id {
            Some(session) => format!("{}:{session}", options.name),
            None => options.name.clone(),
        };
        let will = ss::client::vdel_command(options.position.as_bytes(), lock_value.as_bytes());
        let (candidate, log) = self.candidate_with(options);
        let client = candidate_client(&self.world);
        let config = ReleaseConfig {
            delay: nanos(delay),
            session_expiry: nanos(delay),
            will_lifetime: nanos(lifetime),
        };
        let clock = Reading {
            skew: Skew::NONE,
            origin: 0,
            reads_at_origin: 0,
        };
        self.world
            .start_life(client.id, 1, Some((will, config, ReleaseFlaw::None)), clock);
        (candidate, log, client)
    }

    /// Wills take this long from the broker to the store from now on (on
    /// the scripted worlds' instant links they otherwise land at once).
    pub fn set_will_transit(&self, transit: Duration) {
        self.world.scripted_will_transit.set(nanos(transit));
    }

    /// The broker drops `client`'s connection; the client does not notice
    /// (nothing reaches either side) until [`Sim::reconnect`].
    pub fn drop_connection(&self, client: &SimClient) {
        self.world.handle(Event::BrokerLost {
            client: client.id,
            epoch: None,
        });
        self.set_link(client, LinkState::Dropped);
    }

    /// Messages to and from `client` vanish, and neither end notices (a
    /// blip shorter than the keep-alive), until [`Sim::reconnect`].
    pub fn blackhole(&self, client: &SimClient) {
        self.set_link(client, LinkState::Blackhole);
    }

    /// Both ends see `client`'s connection close.
    pub fn disconnect(&self, client: &SimClient) {
        self.world.handle(Event::BrokerLost {
            client: client.id,
            epoch: None,
        });
        self.set_link(client, LinkState::Down);
    }

    /// `client` connects again, resuming its session if the broker still
    /// keeps it.
    pub fn reconnect(&self, client: &SimClient) {
        self.set_link(client, LinkState::Up);
    }

    fn set_link(&self, client: &SimClient, state: LinkState) {
        self.world.handle(Event::Link {
            client: client.id,
            state,
        });
        self.world.bump();
    }

    /// `client`'s link probes, every fifth of its Will's delay; runs
    /// forever, so run it beside the test's own future (see
    /// [`crate::driver::first_of`]).
    pub fn probe(&self, client: &SimClient) -> impl Future<Output = ()> + use<> {
        let client = client.clone();
        async move { client.probe().await }
    }

    /// An empty event log stamped with this world's time.
    pub fn event_log(&self) -> EventLog {
        EventLog {
            world: self.world.clone(),
            events: Rc::default(),
        }
    }
}

/// The client the newest candidate was connected with.
fn candidate_client(world: &Rc<World>) -> SimClient {
    let id = u32::try_from(world.links.borrow().len() - 1).expect("fewer than 2^32 clients");
    SimClient::new(world.clone(), id, Skew::NONE, nanos(REQUEST_TIMEOUT), 0)
}

/// A new client of `world` on an instant link.
fn connect(world: &Rc<World>) -> SimClient {
    let id = world.add_client(Link::instant());
    SimClient::new(world.clone(), id, Skew::NONE, nanos(REQUEST_TIMEOUT), 0)
}

/// Keeps a candidate's background work going, as a host driver does, until
/// true time `until`.
pub async fn drive_until(candidate: &mut SimCandidate, sim: &Sim, until: Duration) {
    let left = nanos(until).saturating_sub(sim.world.now.get());
    drive(candidate, &sim.clock(), left).await;
}

/// Collects events, stamped with true time, for assertions.
#[derive(Clone)]
pub struct EventLog {
    world: Rc<World>,
    events: Rc<RefCell<Vec<(Duration, CandidateEvent)>>>,
}

impl EventLog {
    pub fn events(&self) -> Vec<CandidateEvent> {
        self.events
            .borrow()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Every event with the time it was delivered at.
    pub fn timed(&self) -> Vec<(Duration, CandidateEvent)> {
        self.events.borrow().clone()
    }
}

impl EventSink for EventLog {
    fn deliver(&mut self, event: CandidateEvent) {
        let at = Duration::from_nanos(self.world.now.get());
        self.events.borrow_mut().push((at, event));
    }
}

/// A cancellation the test fires by hand.
#[derive(Clone, Default)]
pub struct SimCancel(Rc<Cell<bool>>);

impl SimCancel {
    pub fn cancel(&self) {
        self.0.set(true);
    }
}

impl Cancel for SimCancel {
    fn is_cancelled(&self) -> bool {
        self.0.get()
    }

    fn cancelled(&self) -> impl Future<Output = ()> {
        let flag = self.0.clone();
        poll_fn(move |_| {
            if flag.get() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}
