//! A client's side of the world: the answers that reached it and the
//! notifications queued for its watches.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use elector_guest::StoreError;
use elector_guest::types::KeyNotification;
use elector_statestore as ss;

/// What a client's side of the world holds: answers and notifications.
#[derive(Default)]
pub struct Mailbox {
    pub answers: HashMap<u64, Result<ss::Response, StoreError>>,
    /// Watched keys, the queues of the watches on each, and the newest
    /// change seen (for catching up after a reconnect).
    pub watches: BTreeMap<Vec<u8>, Watched>,
}

/// One watched key of a client: every watch on it shares one KEYNOTIFY.
#[derive(Default)]
pub struct Watched {
    pub queues: BTreeMap<u64, Rc<RefCell<Vec<KeyNotification>>>>,
    /// The newest change seen, so only newer ones reach the queues.
    pub newest: ss::NewestChange,
}

impl Watched {
    /// Queues a change for every watch, unless it is older than the newest
    /// one seen (a reordered notification).
    pub fn deliver(&mut self, value: Option<Vec<u8>>, version: ss::Hlc) {
        if let Some(notification) = self.newest.accept(value, version) {
            for queue in self.queues.values() {
                queue.borrow_mut().push(notification.clone());
            }
        }
    }
}
