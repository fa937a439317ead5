//! A candidate's state-store client in the simulated world, behaving as
//! the host's MQTT client does.
//!
//! Like the host's client, a request waits for the link to be up (within
//! its timeout), then goes out once and is never re-sent; it fails with
//! `disconnected` at once when the link drops with it in flight (it may
//! still land: it may have left already), with `timeout` when no answer
//! comes in time. After a reconnect the client registers its watches again
//! and catches up on changes it missed. The window in which a request may
//! still land is `elector_statestore::protocol::request_lifetime`, the
//! formula the host's client uses, with the world's largest link delay as
//! the transit bound. Requests a scripted [`crate::transport::Transport`]
//! selects travel as it says instead of over the link.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::task::Poll;

use elector_guest::types::*;
use elector_guest::{KeyWatch, StateStore};
use elector_statestore as ss;

use crate::clock::Skew;
use crate::event::{AnswerRoute, Envelope, Event};
use crate::link::{Direction, LinkState};
use crate::mailbox::Watched;
use crate::world::{MS, Nanos, World};

#[derive(Clone)]
pub struct SimClient {
    pub world: Rc<World>,
    pub id: u32,
    pub skew: Skew,
    clock: Rc<RefCell<ss::HlcClock>>,
    next_request: Rc<Cell<u64>>,
    pub request_timeout: Nanos,
    /// The longest a message can take on this world's links.
    pub transit_bound: Nanos,
    /// Tells candidates the lifetime the host's client told before it was
    /// fixed (the timeout rounded up, plus a second), which the transport
    /// can outlive.
    pub understate_lifetime: bool,
    /// Until when a resignation whose answer was lost may still land.
    pub release_in_doubt_until: Rc<Cell<Nanos>>,
}

impl SimClient {
    pub fn new(
        world: Rc<World>,
        id: u32,
        skew: Skew,
        request_timeout: Nanos,
        transit_bound: Nanos,
    ) -> SimClient {
        SimClient {
            world,
            id,
            skew,
            clock: Rc::new(RefCell::new(ss::HlcClock::new(format!("client{id}")))),
            next_request: Rc::new(Cell::new(0)),
            request_timeout,
            transit_bound,
            understate_lifetime: false,
            release_in_doubt_until: Rc::new(Cell::new(0)),
        }
    }

    /// How long after sending a request the store may still apply it.
    pub fn request_lifetime(&self) -> Nanos {
        if self.understate_lifetime {
            return self.request_timeout.div_ceil(1_000 * MS) * 1_000 * MS + 1_000 * MS;
        }
        let lifetime = ss::protocol::request_lifetime(
            std::time::Duration::from_nanos(self.request_timeout),
            std::time::Duration::from_nanos(self.transit_bound),
        );
        u64::try_from(lifetime.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn wall_ms(&self) -> u64 {
        (self.world.store_ms() as i64 + self.skew.wall_offset_ms).max(0) as u64
    }

    /// The next id for a request or a watch.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_request.set(self.next_request.get() + 1);
        self.next_request.get()
    }

    /// `command` as this client sends it now: stamped with its own clock.
    pub(crate) fn stamp(&self, command: ss::Command) -> ss::Request<u32> {
        let timestamp = self.clock.borrow_mut().now(self.wall_ms());
        ss::Request::new(self.id, command).with_timestamp(timestamp)
    }

    /// Waits (within the request's deadline) for the link to be connected,
    /// as the host's client does; returns its generation, or `None` when
    /// the deadline passed first.
    async fn link_up(&self, deadline: Nanos) -> Option<u64> {
        let world = self.world.clone();
        let client = self.id as usize;
        poll_fn(move |_| {
            let link = &world.links.borrow()[client];
            if link.state != LinkState::Down {
                return Poll::Ready(Some(link.generation));
            }
            if world.now.get() >= deadline {
                return Poll::Ready(None);
            }
            world.wake_at(deadline);
            Poll::Pending
        })
        .await
    }

    /// Sends a request and waits for its answer, both within the timeout.
    pub async fn request(
        &self,
        command: ss::Command,
        fencing_token: Option<&Hlc>,
    ) -> StoreResult<ss::Response> {
        if self.world.refuse_requests.get() {
            return Err(StoreError::Disconnected);
        }
        let transport = self.world.transport.get();
        let scripted = transport.selects(&command);
        let timeout = if scripted {
            transport.timeout()
        } else {
            self.request_timeout
        };
        let deadline = self.world.now.get() + timeout;
        let Some(generation) = self.link_up(deadline).await else {
            return Err(StoreError::Disconnected);
        };
        let id = self.next_id();
        let sent_at = self.world.now.get();
        let mut request = self.stamp(command);
        if let Some(token) = fencing_token {
            request = request.with_fencing_token(token.clone());
        }
        let mut envelope = Envelope {
            client: self.id,
            id,
            generation,
            request,
            answer: AnswerRoute::Link,
        };
        if scripted {
            envelope.answer = transport.answer();
            let lands_at = self.world.now.get() + transport.landing_delay();
            self.world.schedule(lands_at, Event::Request(envelope));
        } else {
            self.world.transmit(self.id, Direction::ToStore, || {
                Event::Request(envelope.clone())
            });
        }
        let world = self.world.clone();
        let client = self.id as usize;
        let answer = poll_fn(move |_| {
            if let Some(answer) = world.mailboxes.borrow_mut()[client].answers.remove(&id) {
                return Poll::Ready(answer);
            }
            if world.links.borrow()[client].generation != generation {
                return Poll::Ready(Err(StoreError::Disconnected));
            }
            if world.now.get() >= deadline {
                return Poll::Ready(Err(StoreError::Timeout));
            }
            world.wake_at(deadline);
            Poll::Pending
        })
        .await?;
        // The broker held the connection after this request left.
        self.world.connections.borrow_mut()[client].confirmed(sent_at, self.world.now.get());
        let now_ms = self.wall_ms();
        if ss::is_too_far_ahead(&answer.version, now_ms) {
            return Err(StoreError::Protocol("store version too far ahead".into()));
        }
        self.clock.borrow_mut().merge(&answer.version, now_ms);
        Ok(answer)
    }

    /// Probes the connection every fifth of the Will's delay while the
    /// link is up, as the host's client does, so an idle leader stays
    /// confirmed; the broker sends each one back (see `World::handle`).
    /// Without a Will, it waits forever.
    pub async fn probe(&self) {
        loop {
            let Some(period) = self.world.connections.borrow()[self.id as usize].probe_period()
            else {
                return std::future::pending().await;
            };
            let generation = {
                let link = &self.world.links.borrow()[self.id as usize];
                (link.state != LinkState::Down).then_some(link.generation)
            };
            if let Some(generation) = generation {
                let now = self.world.now.get();
                let sent = self.world.connections.borrow_mut()[self.id as usize].probe_sent(now);
                if let Some(sequence) = sent {
                    let client = self.id;
                    self.world
                        .transmit(client, Direction::ToStore, || Event::Probe {
                            client,
                            generation,
                            sequence,
                        });
                }
            }
            crate::clock::sleep(&self.world, period).await;
        }
    }

    /// Until when (true time) a Will that may have been published can
    /// still land, for the liveness watch.
    pub fn will_in_doubt_until(&self) -> Nanos {
        self.world.connections.borrow()[self.id as usize]
            .trust()
            .and_then(|(trust, clock)| trust.may_land_until.map(|at| clock.true_time(at)))
            .unwrap_or(0)
    }

    /// After a reconnect: register every watch again and queue what was
    /// missed, as the host's client does.
    pub async fn catch_up(&self) {
        let keys: Vec<Vec<u8>> = self.world.mailboxes.borrow()[self.id as usize]
            .watches
            .keys()
            .cloned()
            .collect();
        for key in keys {
            let registered = self
                .request(ss::client::keynotify_command(&key, false), None)
                .await;
            if registered.is_err() {
                return; // the next reconnect tries again
            }
            let Ok(response) = self.request(ss::client::get_command(&key), None).await else {
                return;
            };
            // A miss carries no value's version: the store's says how new
            // the miss is.
            let store_version = response.version.clone();
            let (value, version) = match ss::client::get_result(response) {
                Ok(Some(found)) => (Some(found.value), found.version),
                Ok(None) => (None, store_version),
                Err(_) => return,
            };
            let mut mailboxes = self.world.mailboxes.borrow_mut();
            if let Some(watched) = mailboxes[self.id as usize].watches.get_mut(&key)
                && watched.newest.missed(&value)
            {
                watched.deliver(value, version);
            }
        }
        self.world.bump();
    }
}

impl StateStore for SimClient {
    type Watch = SimWatch;

    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        let command = options.command(key, value);
        let response = self
            .request(command, options.fencing_token.as_ref())
            .await?;
        ss::client::set_result(response)
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        ss::client::get_result(self.request(ss::client::get_command(key), None).await?)
    }

    async fn del(&self, key: &[u8], token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        ss::client::delete_result(self.request(ss::client::del_command(key), token).await?)
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        let command = ss::client::vdel_command(key, value);
        let sent_at = self.world.now.get();
        let result = self.request(command, token).await;
        if result.is_err() {
            self.release_in_doubt_until
                .set(sent_at + self.request_lifetime());
        }
        ss::client::delete_result(result?)
    }

    async fn watch(&self, key: &[u8]) -> StoreResult<SimWatch> {
        let queue = Rc::new(RefCell::new(Vec::new()));
        let watch_id = self.next_id();
        let first = {
            let mut mailboxes = self.world.mailboxes.borrow_mut();
            let watched: &mut Watched = mailboxes[self.id as usize]
                .watches
                .entry(key.to_vec())
                .or_default();
            watched.queues.insert(watch_id, queue.clone());
            watched.queues.len() == 1
        };
        let watch = SimWatch::new(self.clone(), key.to_vec(), watch_id, queue);
        if first {
            let command = ss::client::keynotify_command(key, false);
            ss::client::keynotify_result(self.request(command, None).await?)?;
        }
        Ok(watch)
    }

    fn release_guard(&self) -> Option<ReleaseGuard> {
        let (trust, _) = self.world.connections.borrow()[self.id as usize].trust()?;
        Some(ReleaseGuard {
            trusted_since: Instant(trust.trusted_since),
            trusted_until: Instant(trust.trusted_until),
            may_land_until: trust.may_land_until.map(Instant),
        })
    }
}

/// A simulated key watch: its queue, filled by the world. Dropping it
/// unregisters: the last watch of a client on a key sends KEYNOTIFY STOP
/// without waiting for the answer, as the host's client does.
pub struct SimWatch {
    client: SimClient,
    key: Vec<u8>,
    id: u64,
    queue: Rc<RefCell<Vec<KeyNotification>>>,
}

impl SimWatch {
    pub(crate) fn new(
        client: SimClient,
        key: Vec<u8>,
        id: u64,
        queue: Rc<RefCell<Vec<KeyNotification>>>,
    ) -> SimWatch {
        SimWatch {
            client,
            key,
            id,
            queue,
        }
    }

    /// Removes this watch's queue; true if it was the client's last on
    /// the key.
    fn remove(&self) -> bool {
        let mut mailboxes = self.client.world.mailboxes.borrow_mut();
        let watches = &mut mailboxes[self.client.id as usize].watches;
        let Some(watched) = watches.get_mut(&self.key) else {
            return false;
        };
        watched.queues.remove(&self.id);
        let last = watched.queues.is_empty();
        if last {
            watches.remove(&self.key);
        }
        last
    }
}

impl KeyWatch for SimWatch {
    fn take(&mut self) -> Vec<KeyNotification> {
        std::mem::take(&mut *self.queue.borrow_mut())
    }

    fn changed(&self) -> impl Future<Output = ()> {
        poll_fn(|_| {
            if self.queue.borrow().is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
    }
}

impl Drop for SimWatch {
    fn drop(&mut self) {
        if !self.remove() {
            return;
        }
        let client = &self.client;
        let world = &client.world;
        let generation = world.links.borrow()[client.id as usize].generation;
        let request = client.stamp(ss::client::keynotify_command(&self.key, true));
        // Nobody waits for the answer.
        let envelope = Envelope {
            client: client.id,
            id: client.next_id(),
            generation,
            request,
            answer: AnswerRoute::Link,
        };
        world.transmit(client.id, Direction::ToStore, || {
            Event::Request(envelope.clone())
        });
    }
}
