//! A simulated key watch: its queue, filled by the world. Dropping it
//! unregisters: the last watch of a client on a key sends KEYNOTIFY STOP
//! without waiting for the answer, as the host's client does.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::task::Poll;

use elector_guest::KeyWatch;
use elector_guest::types::KeyNotification;
use elector_statestore as ss;

use crate::client::SimClient;
use crate::event::{AnswerRoute, Envelope, Event};
use crate::link::Direction;

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
