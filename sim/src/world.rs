//! The simulated world: true time, the state store (the real state
//! machine), the network between it and each client, and an executor that
//! runs the candidates' futures and advances time only when all of them
//! wait.
//!
//! Everything happens in one thread in an order fixed by the seed: message
//! delays, losses and duplicates are drawn from the world's generator, and
//! events at the same instant run in the order they were scheduled.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Waker};

use elector_guest::types::{KeyEvent, KeyNotification};
use elector_statestore as ss;

use crate::history::{History, POSITION};
use crate::rng::Rng;

/// Wall-clock milliseconds of the store at true time zero.
pub const EPOCH_MS: u64 = 1_800_000_000_000;

/// Nanoseconds of true time.
pub type Nanos = u64;

pub const MS: Nanos = 1_000_000;

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

/// A request in flight to the store.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub client: u32,
    pub id: u64,
    pub generation: u64,
    pub request: ss::Request<u32>,
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
    /// Messages on a client's link take up to `delay_max` (a congested or
    /// queueing link); writes can land long after they were sent.
    Delay { client: u32, delay_max: Nanos },
}

struct Scheduled {
    at: Nanos,
    sequence: u64,
    event: Event,
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

/// What a client's side of the world holds: answers and notifications.
#[derive(Default)]
pub struct Mailbox {
    pub answers: HashMap<u64, Result<ss::Response, elector_guest::StoreError>>,
    /// Watched keys, the queues of the watches on each, and the newest
    /// change seen (for catching up after a reconnect).
    pub watches: BTreeMap<Vec<u8>, Watched>,
}

#[derive(Default)]
pub struct Watched {
    pub queues: BTreeMap<u64, Rc<RefCell<Vec<KeyNotification>>>>,
    pub last: Option<(Option<Vec<u8>>, ss::Hlc)>,
}

impl Watched {
    pub fn deliver(&mut self, value: Option<Vec<u8>>, version: ss::Hlc) {
        if let Some((_, newest)) = &self.last
            && version.cmp_version(newest).is_lt()
        {
            return;
        }
        let notification = KeyNotification {
            event: match &value {
                Some(value) => KeyEvent::Set(value.clone()),
                None => KeyEvent::Delete,
            },
            version: version.clone(),
        };
        self.last = Some((value, version));
        for queue in self.queues.values() {
            queue.borrow_mut().push(notification.clone());
        }
    }
}

pub struct World {
    pub now: Cell<Nanos>,
    pub rng: RefCell<Rng>,
    pub store: RefCell<ss::StateStore<u32>>,
    pub links: RefCell<Vec<Link>>,
    pub mailboxes: RefCell<Vec<Mailbox>>,
    pub history: RefCell<History>,
    events: RefCell<BinaryHeap<Scheduled>>,
    sequence: Cell<u64>,
    /// Deadlines futures wait for, gathered during one round of polls.
    timers: RefCell<Vec<Nanos>>,
    /// Bumped by anything that may let a future progress.
    progress: Cell<u64>,
    /// Clients whose link just came up and must register again.
    reconnected: RefCell<Vec<u32>>,
    /// When set, every notification is lost.
    pub drop_notifications: Cell<bool>,
    /// Clients that send releases on an operator's behalf: their releases
    /// of a position are external (see `history::Change`).
    pub operators: RefCell<Vec<u32>>,
    /// First answers by (client, request id): a duplicated request gets the
    /// same answer again, as `elector statestore` does for a re-sent one.
    answered: RefCell<HashMap<(u32, u64), ss::Response>>,
}

pub type Task = Pin<Box<dyn Future<Output = ()>>>;

impl World {
    pub fn new(seed: u64, clients: usize, link: Link) -> Rc<World> {
        Rc::new(World {
            now: Cell::new(0),
            rng: RefCell::new(Rng::new(seed)),
            store: RefCell::new(ss::StateStore::new("sim-store", ss::Limits::default())),
            links: RefCell::new(vec![link; clients]),
            mailboxes: RefCell::new((0..clients).map(|_| Mailbox::default()).collect()),
            history: RefCell::new(History::default()),
            events: RefCell::new(BinaryHeap::new()),
            sequence: Cell::new(0),
            timers: RefCell::new(Vec::new()),
            progress: Cell::new(0),
            reconnected: RefCell::new(Vec::new()),
            drop_notifications: Cell::new(false),
            operators: RefCell::new(Vec::new()),
            answered: RefCell::new(HashMap::new()),
        })
    }

    pub fn store_ms(&self) -> u64 {
        EPOCH_MS + self.now.get() / MS
    }

    pub fn bump(&self) {
        self.progress.set(self.progress.get() + 1);
    }

    pub fn schedule(&self, at: Nanos, event: Event) {
        let sequence = self.sequence.get();
        self.sequence.set(sequence + 1);
        self.events.borrow_mut().push(Scheduled {
            at,
            sequence,
            event,
        });
    }

    /// A future is waiting until `at`.
    pub fn wake_at(&self, at: Nanos) {
        self.timers.borrow_mut().push(at);
    }

    /// Sends `event` over `client`'s link in `direction`: delayed, maybe
    /// lost, maybe duplicated, or dropped if the link does not carry it.
    pub fn transmit(&self, client: u32, direction: Direction, event: impl Fn() -> Event) {
        let link = self.links.borrow()[client as usize].clone();
        let carried = match link.state {
            LinkState::Up => true,
            LinkState::Deaf => direction == Direction::ToStore,
            LinkState::Down | LinkState::Blackhole => false,
        };
        if !carried {
            return;
        }
        let mut rng = self.rng.borrow_mut();
        if rng.chance(link.loss) {
            return;
        }
        let copies = if rng.chance(link.duplication) { 2 } else { 1 };
        let mut at = self.now.get();
        for _ in 0..copies {
            at += rng.between(link.delay_min, link.delay_max);
            self.schedule(at, event());
        }
    }

    /// Runs `tasks` until they all finish or time reaches `until`.
    /// `after_step` runs after every event (the safety checks).
    pub fn run(
        &self,
        tasks: &mut Vec<Option<Task>>,
        until: Nanos,
        mut after_step: impl FnMut(&World),
    ) {
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
                return;
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
            // Nothing left to happen: everyone waits forever. Time still
            // runs to the end, so a stall shows in the liveness checks.
            let Some(next) = next.filter(|next| *next <= until) else {
                self.now.set(until);
                after_step(self);
                return;
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

    fn expire_keys(&self) {
        let notifications = self.store.borrow_mut().expire(self.store_ms());
        self.record_position(None);
        self.notify(notifications);
    }

    /// Records a change of the position's holder, if there was one, and
    /// who made it (`None`: the store's expiry).
    fn record_position(&self, by: Option<(u32, &ss::Command)>) {
        let holder = self
            .store
            .borrow()
            .peek(self.store_ms(), POSITION.as_bytes())
            .map(|(value, _)| value.to_vec());
        let external = by.is_some_and(|(client, _)| self.operators.borrow().contains(&client));
        self.history
            .borrow_mut()
            .position_changed(self.now.get(), holder, external);
    }

    fn notify(&self, notifications: Vec<ss::Notification<u32>>) {
        if self.drop_notifications.get() {
            return;
        }
        for notification in notifications {
            let generation = self.links.borrow()[notification.client as usize].generation;
            let client = notification.client;
            self.transmit(client, Direction::ToClient, || Event::Notification {
                client,
                generation,
                key: notification.key.clone(),
                event: notification.event.clone(),
                version: notification.version.clone(),
            });
        }
    }

    fn handle(&self, event: Event) {
        match event {
            Event::Request(envelope) => {
                let (client, id, generation) = (envelope.client, envelope.id, envelope.generation);
                let replay = self.answered.borrow().get(&(client, id)).cloned();
                if let Some(response) = replay {
                    self.transmit(client, Direction::ToClient, || Event::Response {
                        client,
                        id,
                        generation,
                        response: response.clone(),
                    });
                    return;
                }
                let command = envelope.request.command.clone();
                let fencing_token = envelope.request.fencing_token.clone();
                let (response, notifications) = self
                    .store
                    .borrow_mut()
                    .handle(self.store_ms(), envelope.request);
                self.history.borrow_mut().applied(
                    self.now.get(),
                    envelope.client,
                    &command,
                    fencing_token.as_ref(),
                    &response,
                );
                if command.key() == POSITION.as_bytes() {
                    self.record_position(Some((client, &command)));
                }
                // Notifications first, as the service sends them.
                self.notify(notifications);
                self.answered
                    .borrow_mut()
                    .insert((client, id), response.clone());
                self.transmit(client, Direction::ToClient, || Event::Response {
                    client,
                    id,
                    generation,
                    response: response.clone(),
                });
            }
            Event::Response {
                client,
                id,
                generation,
                response,
            } => {
                if self.links.borrow()[client as usize].generation == generation {
                    self.mailboxes.borrow_mut()[client as usize]
                        .answers
                        .entry(id)
                        .or_insert(Ok(response));
                }
            }
            Event::Notification {
                client,
                generation,
                key,
                event,
                version,
            } => {
                if self.links.borrow()[client as usize].generation != generation {
                    return;
                }
                let value = match event {
                    ss::KeyEvent::Set(value) => Some(value),
                    ss::KeyEvent::Delete => None,
                };
                if let Some(watched) = self.mailboxes.borrow_mut()[client as usize]
                    .watches
                    .get_mut(&key)
                {
                    watched.deliver(value, version);
                }
            }
            Event::Link { client, state } => {
                if state != LinkState::Up {
                    self.history.borrow_mut().faults += 1;
                }
                self.set_link(client, state);
            }
            Event::ForgetRegistrations { client } => {
                self.history.borrow_mut().faults += 1;
                self.store.borrow_mut().forget_client(&client);
            }
            Event::Delay { client, delay_max } => {
                let mut links = self.links.borrow_mut();
                if delay_max > links[client as usize].delay_max {
                    self.history.borrow_mut().faults += 1;
                }
                links[client as usize].delay_max = delay_max;
            }
        }
    }

    fn set_link(&self, client: u32, state: LinkState) {
        let previous = {
            let mut links = self.links.borrow_mut();
            let link = &mut links[client as usize];
            let previous = link.state;
            link.state = state;
            if state == LinkState::Down || (previous == LinkState::Down && state == LinkState::Up) {
                link.generation += 1;
            }
            previous
        };
        if state == LinkState::Down {
            // The real service forgets a disconnected client's watches, and
            // the client fails what it had in flight.
            self.store.borrow_mut().forget_client(&client);
            self.mailboxes.borrow_mut()[client as usize].answers.clear();
        }
        if previous == LinkState::Down && state == LinkState::Up {
            self.reconnected.borrow_mut().push(client);
        }
    }

    /// Clients whose link came back since the last call.
    pub fn take_reconnected(&self) -> Vec<u32> {
        std::mem::take(&mut *self.reconnected.borrow_mut())
    }
}
