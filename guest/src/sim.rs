//! A deterministic world for running candidates natively: the shared
//! state-store state machine, virtual time, and an executor that advances
//! time only when every task is waiting.
//!
//! Tests use it to run several candidates against one store and check what
//! happens, to the millisecond, with no real sleeping and no flakiness.
//! Store requests complete at once unless [`Transport`] faults are set;
//! notifications are queued per watch the moment the store emits them;
//! keys expire exactly on time.

use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use elector_statestore as ss;

use crate::ports::{Cancel, Clock, EventSink, KeyWatch, Store};
use crate::types::*;

/// Milliseconds since the epoch at virtual time zero.
const EPOCH_MS: u64 = 1_800_000_000_000;

struct World {
    now_ns: Cell<u64>,
    machine: RefCell<ss::StateStore<u64>>,
    client_clock: RefCell<ss::HlcClock>,
    queues: RefCell<BTreeMap<u64, Rc<RefCell<VecDeque<KeyNotification>>>>>,
    next_client: Cell<u64>,
    /// Deadlines some task is sleeping until.
    timers: RefCell<Vec<u64>>,
    /// Store operations so far; the executor's measure of progress.
    operations: Cell<u64>,
    /// SET requests the store received.
    sets: Cell<u64>,
    /// When false, notifications are dropped (a lossy network).
    deliver_notifications: Cell<bool>,
    /// When false, every request fails with `Disconnected`.
    store_reachable: Cell<bool>,
    /// How requests travel (see [`Transport`]).
    transport: Cell<Transport>,
    /// Requests on their way to the store, in sending order.
    in_flight: RefCell<Vec<InFlight>>,
}

/// How the simulated transport treats requests, to reproduce the faults
/// that make an outcome unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transport {
    /// A request reaches the store this long after it was sent.
    pub landing_delay: Duration,
    /// The answer reaches the caller this long after the store applied the
    /// request.
    pub answer_delay: Duration,
    /// Answers never arrive: the store applies the request and the caller
    /// gets `Timeout` after `timeout`.
    pub answers_lost: bool,
    /// How long a caller waits for an answer before `Timeout`.
    pub timeout: Duration,
    /// Only requests with this verb (`"SET"`, `"GET"`, `"VDEL"`, ...) on
    /// this key travel so; the rest apply and answer at once.
    pub only: Option<(&'static str, &'static [u8])>,
}

impl Transport {
    /// Whether `command` applies and answers at once.
    fn is_instant_for(&self, command: &ss::Command) -> bool {
        let instant =
            self.landing_delay.is_zero() && self.answer_delay.is_zero() && !self.answers_lost;
        let selected = self
            .only
            .is_none_or(|(verb, key)| command.verb() == verb && command.key() == key);
        instant || !selected
    }
}

/// A request on its way.
struct InFlight {
    lands_at: u64,
    client: u64,
    command: ss::Command,
    token: Option<Hlc>,
    /// Filled in when the store applies it, with the time it did.
    outcome: Rc<RefCell<Option<(u64, ss::Response)>>>,
}

/// A handle to the simulated world: clock, store and scheduler.
#[derive(Clone)]
pub struct Sim {
    world: Rc<World>,
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    pub fn new() -> Sim {
        Sim {
            world: Rc::new(World {
                now_ns: Cell::new(0),
                machine: RefCell::new(ss::StateStore::new("sim", ss::Limits::default())),
                client_clock: RefCell::new(ss::HlcClock::new("sim-client")),
                queues: RefCell::new(BTreeMap::new()),
                next_client: Cell::new(1),
                timers: RefCell::new(Vec::new()),
                operations: Cell::new(0),
                sets: Cell::new(0),
                deliver_notifications: Cell::new(true),
                store_reachable: Cell::new(true),
                transport: Cell::new(Transport::default()),
                in_flight: RefCell::new(Vec::new()),
            }),
        }
    }

    pub fn store(&self) -> SimStore {
        SimStore { sim: self.clone() }
    }

    pub fn clock(&self) -> SimClock {
        SimClock { sim: self.clone() }
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.world.now_ns.get())
    }

    /// Drops every notification from now on (or delivers them again).
    pub fn set_notifications(&self, deliver: bool) {
        self.world.deliver_notifications.set(deliver);
    }

    /// Makes the store unreachable (every request fails with
    /// `Disconnected`) or reachable again.
    pub fn set_store_reachable(&self, reachable: bool) {
        self.world.store_reachable.set(reachable);
    }

    /// Sets how requests sent from now on travel.
    pub fn set_transport(&self, transport: Transport) {
        self.world.transport.set(transport);
    }

    /// Sleeps in virtual time.
    pub fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + use<> {
        let deadline = Instant(self.world.now_ns.get()).saturating_add(duration);
        sleep_until(self.world.clone(), deadline)
    }

    fn now_ms(&self) -> u64 {
        EPOCH_MS + self.world.now_ns.get() / 1_000_000
    }

    /// SET requests the store received so far.
    pub fn sets(&self) -> u64 {
        self.world.sets.get()
    }

    fn request(&self, client: u64, command: ss::Command, token: Option<&Hlc>) -> ss::Response {
        self.world.operations.set(self.world.operations.get() + 1);
        if matches!(command, ss::Command::Set { .. }) {
            self.world.sets.set(self.world.sets.get() + 1);
        }
        let now_ms = self.now_ms();
        let timestamp = self.world.client_clock.borrow_mut().now(now_ms);
        let mut request = ss::Request::new(client, command).with_timestamp(timestamp);
        if let Some(token) = token {
            request = request.with_fencing_token(token.clone());
        }
        let (response, notifications) = self.world.machine.borrow_mut().handle(now_ms, request);
        self.world
            .client_clock
            .borrow_mut()
            .merge(&response.version, now_ms);
        self.deliver(notifications);
        response
    }

    fn deliver(&self, notifications: Vec<ss::Notification<u64>>) {
        if !self.world.deliver_notifications.get() {
            return;
        }
        let queues = self.world.queues.borrow();
        for notification in notifications {
            if let Some(queue) = queues.get(&notification.client) {
                queue.borrow_mut().push_back(KeyNotification {
                    event: match notification.event {
                        ss::KeyEvent::Set(value) => KeyEvent::Set(value),
                        ss::KeyEvent::Delete => KeyEvent::Delete,
                    },
                    version: notification.version,
                });
            }
        }
    }

    /// Runs the tasks until all of them finish. Time advances to the next
    /// timer or key expiry whenever no task can make progress. Panics if the
    /// tasks wait forever, or after `limit` of virtual time.
    pub fn run(&self, tasks: Vec<Task>, limit: Duration) {
        let mut tasks: Vec<Option<Task>> = tasks.into_iter().map(Some).collect();
        let mut context = Context::from_waker(Waker::noop());
        loop {
            loop {
                let before = self.world.operations.get();
                let mut finished_any = false;
                self.world.timers.borrow_mut().clear();
                for slot in tasks.iter_mut() {
                    if let Some(task) = slot
                        && task.as_mut().poll(&mut context).is_ready()
                    {
                        *slot = None;
                        finished_any = true;
                    }
                }
                if !finished_any && self.world.operations.get() == before {
                    break;
                }
            }
            if tasks.iter().all(Option::is_none) {
                return;
            }
            let next_timer = self.world.timers.borrow().iter().copied().min();
            let next_expiry = self
                .world
                .machine
                .borrow()
                .next_expiry()
                .map(|ms| (ms - EPOCH_MS) * 1_000_000);
            let next_landing = self
                .world
                .in_flight
                .borrow()
                .iter()
                .map(|r| r.lands_at)
                .min();
            let next = [next_timer, next_expiry, next_landing]
                .into_iter()
                .flatten()
                .min()
                .expect("every task waits with nothing to wake it");
            assert!(
                next <= u64::try_from(limit.as_nanos()).unwrap(),
                "simulation passed its time limit of {limit:?}"
            );
            self.world.now_ns.set(next.max(self.world.now_ns.get()));
            let expired = self.world.machine.borrow_mut().expire(self.now_ms());
            self.world.operations.set(self.world.operations.get() + 1);
            self.deliver(expired);
            self.land_due_requests();
        }
    }

    /// Applies every request in flight that has reached the store by now.
    fn land_due_requests(&self) {
        let now = self.world.now_ns.get();
        let due: Vec<InFlight> = {
            let mut in_flight = self.world.in_flight.borrow_mut();
            let (due, later) = in_flight.drain(..).partition(|r| r.lands_at <= now);
            *in_flight = later;
            due
        };
        for request in due {
            let response = self.request(request.client, request.command, request.token.as_ref());
            *request.outcome.borrow_mut() = Some((now, response));
        }
    }

    /// Sends a request over the transport and waits for its answer, or for
    /// the timeout when the answer is slow or lost.
    async fn send(
        &self,
        client: u64,
        command: ss::Command,
        token: Option<&Hlc>,
    ) -> Result<ss::Response, StoreError> {
        let transport = self.world.transport.get();
        if transport.is_instant_for(&command) {
            return Ok(self.request(client, command, token));
        }
        let sent_at = self.world.now_ns.get();
        let outcome = Rc::new(RefCell::new(None));
        self.world.in_flight.borrow_mut().push(InFlight {
            lands_at: sent_at + nanos(transport.landing_delay),
            client,
            command,
            token: token.cloned(),
            outcome: outcome.clone(),
        });
        self.world.operations.set(self.world.operations.get() + 1);
        let gives_up_at = sent_at + nanos(transport.timeout);
        let world = self.world.clone();
        poll_fn(move |_| {
            let now = world.now_ns.get();
            let answered_at = outcome
                .borrow()
                .as_ref()
                .map(|(applied_at, _)| applied_at + nanos(transport.answer_delay))
                .filter(|_| !transport.answers_lost);
            if let Some(at) = answered_at
                && at <= now
                && at <= gives_up_at
            {
                let (_, response) = outcome.borrow_mut().take().expect("answered");
                return Poll::Ready(Ok(response));
            }
            if now >= gives_up_at {
                return Poll::Ready(Err(StoreError::Timeout));
            }
            let mut timers = world.timers.borrow_mut();
            timers.push(gives_up_at);
            if let Some(at) = answered_at {
                timers.push(at);
            }
            Poll::Pending
        })
        .await
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The simulated store.
#[derive(Clone)]
pub struct SimStore {
    sim: Sim,
}

impl SimStore {
    async fn run(
        &self,
        command: ss::Command,
        token: Option<&Hlc>,
    ) -> Result<ss::Response, StoreError> {
        if !self.sim.world.store_reachable.get() {
            return Err(StoreError::Disconnected);
        }
        self.sim.send(0, command, token).await
    }
}

impl Store for SimStore {
    type Watch = SimWatch;

    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> Result<SetResponse, StoreError> {
        let command = options.command(key, value);
        let response = self.run(command, options.fencing_token.as_ref()).await?;
        ss::client::set_result(response)
    }

    async fn get(&self, key: &[u8]) -> Result<Option<VersionedValue>, StoreError> {
        ss::client::get_result(self.run(ss::client::get_command(key), None).await?)
    }

    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> Result<DeleteOutcome, StoreError> {
        ss::client::delete_result(self.run(ss::client::del_command(key), token).await?)
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> Result<DeleteOutcome, StoreError> {
        let command = ss::client::vdel_command(key, value);
        ss::client::delete_result(self.run(command, token).await?)
    }

    async fn watch(&self, key: &[u8]) -> Result<SimWatch, StoreError> {
        let world = &self.sim.world;
        if !world.store_reachable.get() {
            return Err(StoreError::Disconnected);
        }
        let client = world.next_client.get();
        world.next_client.set(client + 1);
        let queue = Rc::new(RefCell::new(VecDeque::new()));
        world.queues.borrow_mut().insert(client, queue.clone());
        let command = ss::client::keynotify_command(key, false);
        ss::client::keynotify_result(self.sim.request(client, command, None))?;
        Ok(SimWatch {
            sim: self.sim.clone(),
            client,
            queue,
        })
    }
}

/// A simulated key watch; dropping it unregisters.
pub struct SimWatch {
    sim: Sim,
    client: u64,
    queue: Rc<RefCell<VecDeque<KeyNotification>>>,
}

impl SimWatch {
    fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }
}

impl KeyWatch for SimWatch {
    fn take(&mut self) -> Vec<KeyNotification> {
        self.queue.borrow_mut().drain(..).collect()
    }

    fn changed(&self) -> impl Future<Output = ()> {
        poll_fn(|_| {
            if self.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
    }
}

impl Drop for SimWatch {
    fn drop(&mut self) {
        self.sim.world.queues.borrow_mut().remove(&self.client);
        self.sim
            .world
            .machine
            .borrow_mut()
            .forget_client(&self.client);
    }
}

impl SimStore {
    /// KEYNOTIFY registrations alive in the store.
    pub fn watch_count(&self) -> usize {
        self.sim.world.machine.borrow().watch_count()
    }
}

/// Virtual time.
#[derive(Clone)]
pub struct SimClock {
    sim: Sim,
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        Instant(self.sim.world.now_ns.get())
    }

    fn wall_clock_ms(&self) -> u64 {
        self.sim.now_ms()
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        sleep_until(self.sim.world.clone(), deadline)
    }
}

fn sleep_until(world: Rc<World>, deadline: Instant) -> impl Future<Output = ()> {
    poll_fn(move |_| {
        if world.now_ns.get() >= deadline.0 {
            Poll::Ready(())
        } else {
            world.timers.borrow_mut().push(deadline.0);
            Poll::Pending
        }
    })
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

/// Collects events, stamped with virtual time, for assertions.
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

    /// Every event with the virtual time it was delivered at.
    pub fn timed(&self) -> Vec<(Duration, CandidateEvent)> {
        self.events.borrow().clone()
    }
}

impl EventSink for EventLog {
    fn deliver(&mut self, event: CandidateEvent) {
        let at = Duration::from_nanos(self.world.now_ns.get());
        self.events.borrow_mut().push((at, event));
    }
}

/// Keeps a candidate's background work going, as a host driver does:
/// `tick` when asked and when its watch has news, until `until`.
pub async fn drive_until(candidate: &mut SimCandidate, sim: &Sim, until: Duration) {
    let until = Instant(u64::try_from(until.as_nanos()).unwrap());
    loop {
        let next = candidate.tick().await;
        let now = sim.clock().now();
        if now >= until {
            return;
        }
        let wake_at = next.map_or(until, |next| next.min(until));
        crate::wait::wait_for(
            &sim.clock(),
            candidate.watch.as_ref(),
            Some(wake_at),
            None,
            None::<&crate::NeverCancel>,
        )
        .await;
    }
}

/// A candidate wired to a simulated world.
pub type SimCandidate = crate::Candidate<SimStore, SimClock, EventLog>;

impl Sim {
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

    /// A candidate with these options, and its event log.
    pub fn candidate_with(&self, options: CandidateOptions) -> (SimCandidate, EventLog) {
        let log = self.event_log();
        let candidate = crate::Candidate::new(options, self.store(), self.clock(), log.clone())
            .expect("valid options");
        (candidate, log)
    }

    /// An empty event log stamped with this world's time.
    pub fn event_log(&self) -> EventLog {
        EventLog {
            world: self.world.clone(),
            events: Rc::default(),
        }
    }
}
