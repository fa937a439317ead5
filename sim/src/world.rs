//! The simulated world: true time, the state store (the real state
//! machine), the network between it and each client, and what happens
//! there when (the executor that runs the candidates' futures is in
//! `executor.rs`).
//!
//! Everything happens in one thread in an order fixed by the seed: message
//! delays, losses and duplicates are drawn from the world's generator, and
//! events at the same instant run in the order they were scheduled. A
//! message on an instant link (see [`Link::instant`]) is handled within the
//! call that sends it, as an in-process store would.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, HashMap};
use std::rc::Rc;

use elector_statestore as ss;

use crate::clock::Reading;
use crate::connection::{Connection, Effects, ReleaseConfig, ReleaseFlaw};
use crate::event::{AnswerRoute, Envelope, Event, Scheduled, StoreRestart};
use crate::history::{History, POSITION};
use crate::link::{Direction, Link, LinkState};
use crate::mailbox::Mailbox;
use crate::rng::Rng;
use crate::transport::Transport;

pub use crate::time::{EPOCH_MS, MS, Nanos};

pub struct World {
    pub now: Cell<Nanos>,
    pub rng: RefCell<Rng>,
    pub store: RefCell<ss::StateStore<u32>>,
    /// What a durable store has written down: every change the store
    /// reported, folded in after each step; a `Restored` restart starts
    /// from it.
    pub disk: RefCell<ss::Snapshot<u32>>,
    pub links: RefCell<Vec<Link>>,
    /// Each client's connection as the broker and the client see it (for
    /// release on disconnect).
    pub connections: RefCell<Vec<Connection>>,
    /// Wills published so far (their request ids count down from the top,
    /// clear of the clients' own).
    wills: Cell<u64>,
    /// How long a Will takes to land on a scripted world's instant links.
    pub scripted_will_transit: Cell<Nanos>,
    pub mailboxes: RefCell<Vec<Mailbox>>,
    pub history: RefCell<History>,
    pub(crate) events: RefCell<BinaryHeap<Scheduled>>,
    sequence: Cell<u64>,
    /// Deadlines futures wait for, gathered during one round of polls.
    pub(crate) timers: RefCell<Vec<Nanos>>,
    /// Bumped by anything that may let a future progress.
    pub(crate) progress: Cell<u64>,
    /// Clients whose link just came up and must register again.
    reconnected: RefCell<Vec<u32>>,
    /// When set, every notification is lost.
    pub drop_notifications: Cell<bool>,
    /// When set, every request fails with `disconnected` before it leaves
    /// (a client that knows it has no connection); the store keeps its
    /// registrations.
    pub refuse_requests: Cell<bool>,
    /// Scripted faults for the requests it selects, sent from now on.
    pub transport: Cell<Transport>,
    /// Clients that send releases on an operator's behalf: their releases
    /// of a position are external (see `history::Change`).
    pub operators: RefCell<Vec<u32>>,
    /// First answers by (client, request id): a duplicated request gets the
    /// same answer again, as `elector statestore` does for a re-sent one.
    answered: RefCell<HashMap<(u32, u64), ss::Response>>,
}

impl World {
    pub fn new(seed: u64, clients: usize, link: Link) -> Rc<World> {
        Rc::new(World {
            now: Cell::new(0),
            rng: RefCell::new(Rng::new(seed)),
            store: RefCell::new(new_store()),
            disk: RefCell::new(ss::Snapshot::empty()),
            links: RefCell::new(vec![link; clients]),
            connections: RefCell::new(vec![Connection::default(); clients]),
            wills: Cell::new(0),
            scripted_will_transit: Cell::new(0),
            mailboxes: RefCell::new((0..clients).map(|_| Mailbox::default()).collect()),
            history: RefCell::new(History::default()),
            events: RefCell::new(BinaryHeap::new()),
            sequence: Cell::new(0),
            timers: RefCell::new(Vec::new()),
            progress: Cell::new(0),
            reconnected: RefCell::new(Vec::new()),
            drop_notifications: Cell::new(false),
            refuse_requests: Cell::new(false),
            transport: Cell::new(Transport::default()),
            operators: RefCell::new(Vec::new()),
            answered: RefCell::new(HashMap::new()),
        })
    }

    /// Connects one more client, over `link`; returns its id.
    pub fn add_client(&self, link: Link) -> u32 {
        let mut links = self.links.borrow_mut();
        links.push(link);
        self.connections.borrow_mut().push(Connection::default());
        self.mailboxes.borrow_mut().push(Mailbox::default());
        u32::try_from(links.len() - 1).expect("fewer than 2^32 clients")
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
    /// lost, maybe duplicated, or dropped if the link does not carry it;
    /// on an instant link, handled at once.
    pub fn transmit(&self, client: u32, direction: Direction, event: impl Fn() -> Event) {
        let link = self.links.borrow()[client as usize].clone();
        // Nothing travels over a connection the broker no longer holds,
        // whatever the client believes.
        if !link.carries(direction) || !self.connections.borrow()[client as usize].broker_holds() {
            return;
        }
        if link.is_instant() {
            self.handle(event());
            self.bump();
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

    /// Expires the keys due by now and tells their watchers.
    pub(crate) fn expire_keys(&self) {
        let notifications = self.store.borrow_mut().expire(self.store_ms());
        self.write_down();
        self.record_position(None);
        self.notify(notifications);
    }

    /// Folds what the store changed into what a durable store has on disk
    /// (before anything the change caused reaches a client, as the
    /// durable service writes before it publishes).
    fn write_down(&self) {
        let changes = self.store.borrow_mut().take_changes();
        self.disk.borrow_mut().apply(changes);
    }

    /// Records a change of the position's holder, if there was one, and
    /// who made it (`None`: the store's expiry).
    fn record_position(&self, by: Option<u32>) {
        let holder = self
            .store
            .borrow()
            .peek(self.store_ms(), POSITION.as_bytes())
            .map(|(value, _)| value.to_vec());
        let external = by.is_some_and(|client| self.operators.borrow().contains(&client));
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

    /// Sends an answer to `client` back the way its request asked for.
    fn answer(&self, client: u32, route: AnswerRoute, event: impl Fn() -> Event) {
        match route {
            AnswerRoute::Link => self.transmit(client, Direction::ToClient, event),
            AnswerRoute::After(delay) => self.schedule(self.now.get() + delay, event()),
            AnswerRoute::Lost => {}
        }
    }

    pub(crate) fn handle(&self, event: Event) {
        match event {
            Event::Request(envelope) if envelope.id > u64::MAX / 2 => self.apply_will(envelope),
            Event::Request(envelope) => {
                let (client, id, generation) = (envelope.client, envelope.id, envelope.generation);
                let respond = |response: &ss::Response| {
                    let response = response.clone();
                    move || Event::Response {
                        client,
                        id,
                        generation,
                        response: response.clone(),
                    }
                };
                let replay = self.answered.borrow().get(&(client, id)).cloned();
                if let Some(response) = replay {
                    self.answer(client, envelope.answer, respond(&response));
                    return;
                }
                let command = envelope.request.command.clone();
                let fencing_token = envelope.request.fencing_token.clone();
                let (response, notifications) = self
                    .store
                    .borrow_mut()
                    .handle(self.store_ms(), envelope.request);
                self.write_down();
                self.history.borrow_mut().applied(
                    self.now.get(),
                    client,
                    &command,
                    fencing_token.as_ref(),
                    &response,
                );
                if command.key() == POSITION.as_bytes() {
                    self.record_position(Some(client));
                }
                // Notifications first, as the service sends them.
                self.notify(notifications);
                self.answered
                    .borrow_mut()
                    .insert((client, id), response.clone());
                self.answer(client, envelope.answer, respond(&response));
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
                if crate::history::trace_enabled() {
                    eprintln!(
                        "{:>9.3} ms link: client{client} {state:?}",
                        self.now.get() as f64 / 1e6
                    );
                }
                if state != LinkState::Up {
                    self.history.borrow_mut().faults += 1;
                }
                self.set_link(client, state);
            }
            Event::ForgetRegistrations { client } => {
                self.history.borrow_mut().faults += 1;
                self.store.borrow_mut().forget_client(&client);
                self.write_down();
            }
            Event::StoreRestart(how) => {
                self.history.borrow_mut().faults += 1;
                let now_ms = self.store_ms();
                let mut store = self.store.borrow_mut();
                *store = match how {
                    StoreRestart::Empty => new_store(),
                    StoreRestart::EmptyHoldingNewPositions { lock_delay_ms } => {
                        let mut fresh = new_store();
                        fresh.hold_new_positions_until(now_ms + lock_delay_ms);
                        fresh
                    }
                    StoreRestart::Restored => {
                        let disk = self.disk.borrow().clone();
                        let mut restored = ss::StateStore::restore(
                            "sim-store",
                            ss::Limits::default(),
                            disk,
                            now_ms,
                        );
                        restored.track_changes();
                        restored
                    }
                };
            }
            Event::Delay { client, delay_max } => {
                let mut links = self.links.borrow_mut();
                if delay_max > links[client as usize].delay_max {
                    self.history.borrow_mut().faults += 1;
                }
                links[client as usize].delay_max = delay_max;
            }
            Event::BrokerLost { client, epoch } => {
                if crate::history::trace_enabled() {
                    eprintln!(
                        "{:>9.3} ms broker: loses client{client}'s connection {epoch:?}",
                        self.now.get() as f64 / 1e6
                    );
                }
                let effects = self.connections.borrow_mut()[client as usize]
                    .broker_lost(epoch, self.now.get());
                if effects.will_due.is_some() {
                    self.history.borrow_mut().broker_losses += 1;
                }
                self.apply(client, effects);
            }
            Event::BrokerShutdown { client } => {
                let effects =
                    self.connections.borrow_mut()[client as usize].broker_shut_down(self.now.get());
                self.apply(client, effects);
            }
            Event::WillDue { client, epoch } => {
                let will = self.connections.borrow_mut()[client as usize].will_due(epoch);
                if let Some(will) = will {
                    self.publish_will(client, will);
                }
            }
            Event::Probe {
                client,
                generation,
                sequence,
            } => {
                if self.links.borrow()[client as usize].generation == generation {
                    self.transmit(client, Direction::ToClient, || Event::ProbeBack {
                        client,
                        generation,
                        sequence,
                    });
                }
            }
            Event::ProbeBack {
                client,
                generation,
                sequence,
            } => {
                if self.links.borrow()[client as usize].generation == generation {
                    self.connections.borrow_mut()[client as usize]
                        .probe_returned(sequence, self.now.get());
                }
            }
        }
    }

    /// Does what a connection change asks for: a Will published now or
    /// due later.
    fn apply(&self, client: u32, effects: Effects) {
        if let Some((at, epoch)) = effects.will_due {
            self.schedule(at, Event::WillDue { client, epoch });
        }
        if let Some(will) = effects.publish {
            self.publish_will(client, will);
        }
    }

    /// The broker publishes a Will to the store's request topic: it lands
    /// within the Will's lifetime (usually as fast as a request, now and
    /// then as late as the lifetime allows) and nobody hears the answer.
    fn publish_will(&self, client: u32, request: ss::Request<u32>) {
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms broker: publishes client{client}'s Will {} {:?}",
                self.now.get() as f64 / 1e6,
                self.wills.get() + 1,
                request.command
            );
        }
        let published = self.wills.get() + 1;
        self.wills.set(published);
        self.history.borrow_mut().wills_published += 1;
        let link = self.links.borrow()[client as usize].clone();
        let envelope = Envelope {
            client,
            id: u64::MAX - published,
            generation: link.generation,
            request,
            answer: AnswerRoute::Lost,
        };
        if link.delay_max == 0 {
            let transit = self.scripted_will_transit.get();
            if transit == 0 {
                self.apply_will(envelope);
                self.bump();
            } else {
                self.schedule(self.now.get() + transit, Event::Request(envelope));
            }
            return;
        }
        let lifetime = self.connections.borrow()[client as usize]
            .config()
            .will_lifetime;
        let transit = {
            let mut rng = self.rng.borrow_mut();
            if rng.chance(0.7) {
                rng.between(link.delay_min, link.delay_max)
            } else {
                rng.between(0, lifetime.saturating_sub(1))
            }
        };
        self.schedule(self.now.get() + transit, Event::Request(envelope));
    }

    /// A Will reaches the store: applied like the client's own VDEL.
    fn apply_will(&self, envelope: Envelope) {
        let client = envelope.client;
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms store: client{client}'s Will {} lands",
                self.now.get() as f64 / 1e6,
                u64::MAX - envelope.id
            );
        }
        let command = envelope.request.command.clone();
        let (response, notifications) = self
            .store
            .borrow_mut()
            .handle(self.store_ms(), envelope.request);
        self.write_down();
        self.history
            .borrow_mut()
            .applied(self.now.get(), client, &command, None, &response);
        let before = self.history.borrow().holder_at(self.now.get()).is_some();
        self.record_position(Some(client));
        if before && self.history.borrow().holder_at(self.now.get()).is_none() {
            self.history.borrow_mut().will_releases += 1;
        }
        self.notify(notifications);
    }

    /// A process starts on `client`'s connection, releasing its position
    /// with `will` (the VDEL of position and lock value) if given; its
    /// first connect is clean (see [`Connection::start_life`]). Where the
    /// link is down it counts as connected at once and resumed when the
    /// link comes up, without a Will firing in between: a shortcut that
    /// only ever keeps a Will from firing.
    pub fn start_life(
        &self,
        client: u32,
        life: u64,
        will: Option<(ss::Command, ReleaseConfig, ReleaseFlaw)>,
        clock: Reading,
    ) {
        let effects = self.connections.borrow_mut()[client as usize].start_life(
            client,
            life,
            will,
            clock,
            self.now.get(),
        );
        self.apply(client, effects);
    }

    /// The process on `client`'s connection died; the broker notices
    /// `detect` later.
    pub fn process_died(&self, client: u32, detect: Nanos) {
        let epoch = self.connections.borrow_mut()[client as usize].process_died();
        self.schedule(
            self.now.get() + detect,
            Event::BrokerLost {
                client,
                epoch: Some(epoch),
            },
        );
    }

    fn set_link(&self, client: u32, state: LinkState) {
        let broker_holds = self.connections.borrow()[client as usize].broker_holds();
        let was = self.links.borrow()[client as usize].state;
        if state == LinkState::Up && was != LinkState::Down && !broker_holds {
            // The broker dropped the connection while the client did not
            // notice: its next packet finds out, and it reconnects.
            self.set_link(client, LinkState::Down);
        }
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
            self.write_down();
            self.mailboxes.borrow_mut()[client as usize].answers.clear();
            if previous != LinkState::Down {
                self.connections.borrow_mut()[client as usize].client_lost(self.now.get());
            }
        }
        if previous == LinkState::Down && state == LinkState::Up {
            let effects = self.connections.borrow_mut()[client as usize]
                .client_reconnected(client, self.now.get());
            self.apply(client, effects);
            self.reconnected.borrow_mut().push(client);
        }
    }

    /// Clients whose link came back since the last call.
    pub fn take_reconnected(&self) -> Vec<u32> {
        std::mem::take(&mut *self.reconnected.borrow_mut())
    }

    /// KEYNOTIFY registrations alive in the store.
    pub fn watch_count(&self) -> usize {
        self.store.borrow().watch_count()
    }
}

/// The store as it starts: empty.
fn new_store() -> ss::StateStore<u32> {
    let mut store = ss::StateStore::new("sim-store", ss::Limits::default());
    store.track_changes();
    store
}
