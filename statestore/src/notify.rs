//! KEYNOTIFY: who watches which key, and the notifications a change fans out
//! to them.

use std::collections::{BTreeMap, BTreeSet};

use crate::hlc::Hlc;

/// What happened to a watched key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyEvent {
    /// The key was written; its new value (`NOTIFY SET VALUE <value>`).
    Set(Vec<u8>),
    /// The key was deleted by DEL or VDEL, or expired (`NOTIFY DELETE`).
    Delete,
}

/// One notification for one watching client; the driver publishes it on that
/// client's notification topic for `key`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notification<C> {
    /// The watcher to tell.
    pub client: C,
    /// The key that changed.
    pub key: Vec<u8>,
    /// What changed.
    pub event: KeyEvent,
    /// The version of the change (the notification's `__ts`).
    pub version: Hlc,
}

/// KEYNOTIFY registrations, indexed both ways: by key to fan out a change,
/// by client to count its quota and to forget it on disconnect.
#[derive(Clone, Debug)]
pub(crate) struct Watches<C> {
    by_key: BTreeMap<Vec<u8>, BTreeSet<C>>,
    by_client: BTreeMap<C, BTreeSet<Vec<u8>>>,
    count: usize,
}

impl<C> Default for Watches<C> {
    fn default() -> Self {
        Self {
            by_key: BTreeMap::new(),
            by_client: BTreeMap::new(),
            count: 0,
        }
    }
}

impl<C: Clone + Ord> Watches<C> {
    /// Total registrations, over all clients and keys.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Whether `client` watches `key`.
    pub(crate) fn contains(&self, client: &C, key: &[u8]) -> bool {
        self.by_client
            .get(client)
            .is_some_and(|keys| keys.contains(key))
    }

    /// How many keys `client` watches.
    pub(crate) fn count_for(&self, client: &C) -> usize {
        self.by_client.get(client).map_or(0, BTreeSet::len)
    }

    /// Registers `client` for `key`; false if it already was.
    pub(crate) fn add(&mut self, client: &C, key: &[u8]) -> bool {
        let added = self
            .by_client
            .entry(client.clone())
            .or_default()
            .insert(key.to_vec());
        if added {
            self.by_key
                .entry(key.to_vec())
                .or_default()
                .insert(client.clone());
            self.count += 1;
        }
        added
    }

    /// Drops the registration of `client` for `key`; false if there was none.
    pub(crate) fn remove(&mut self, client: &C, key: &[u8]) -> bool {
        let Some(keys) = self.by_client.get_mut(client) else {
            return false;
        };
        if !keys.remove(key) {
            return false;
        }
        if keys.is_empty() {
            self.by_client.remove(client);
        }
        self.unlink_key(client, key);
        self.count -= 1;
        true
    }

    /// Drops every registration of `client`.
    pub(crate) fn forget(&mut self, client: &C) {
        let Some(keys) = self.by_client.remove(client) else {
            return;
        };
        for key in &keys {
            self.unlink_key(client, key);
        }
        self.count -= keys.len();
    }

    /// One notification per watcher of `key`, in client order.
    pub(crate) fn notify(
        &self,
        key: &[u8],
        event: &KeyEvent,
        version: &Hlc,
    ) -> impl Iterator<Item = Notification<C>> {
        self.by_key
            .get(key)
            .into_iter()
            .flatten()
            .map(move |client| Notification {
                client: client.clone(),
                key: key.to_vec(),
                event: event.clone(),
                version: version.clone(),
            })
    }

    fn unlink_key(&mut self, client: &C, key: &[u8]) {
        if let Some(clients) = self.by_key.get_mut(key) {
            clients.remove(client);
            if clients.is_empty() {
                self.by_key.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients_notified(watches: &Watches<&'static str>, key: &[u8]) -> Vec<&'static str> {
        let version = Hlc::new(1, 0, "s");
        watches
            .notify(key, &KeyEvent::Delete, &version)
            .map(|notification| notification.client)
            .collect()
    }

    #[test]
    fn add_is_idempotent_and_counted_once() {
        let mut watches = Watches::default();
        assert!(watches.add(&"a", b"k"));
        assert!(!watches.add(&"a", b"k"));
        assert_eq!(watches.len(), 1);
        assert_eq!(watches.count_for(&"a"), 1);
        assert!(watches.contains(&"a", b"k"));
        assert!(!watches.contains(&"b", b"k"));
    }

    #[test]
    fn notify_fans_out_in_client_order() {
        let mut watches = Watches::default();
        watches.add(&"c", b"k");
        watches.add(&"a", b"k");
        watches.add(&"b", b"other");
        assert_eq!(clients_notified(&watches, b"k"), ["a", "c"]);
        assert_eq!(clients_notified(&watches, b"other"), ["b"]);
        assert!(clients_notified(&watches, b"nobody").is_empty());

        let version = Hlc::new(9, 1, "s");
        let all: Vec<_> = watches
            .notify(b"other", &KeyEvent::Set(b"v".to_vec()), &version)
            .collect();
        assert_eq!(
            all,
            [Notification {
                client: "b",
                key: b"other".to_vec(),
                event: KeyEvent::Set(b"v".to_vec()),
                version,
            }]
        );
    }

    #[test]
    fn remove_only_removes_existing_registrations() {
        let mut watches = Watches::default();
        watches.add(&"a", b"k");
        watches.add(&"b", b"k");
        assert!(!watches.remove(&"a", b"other"));
        assert!(!watches.remove(&"z", b"k"));
        assert!(watches.remove(&"a", b"k"));
        assert!(!watches.remove(&"a", b"k"));
        assert_eq!(watches.len(), 1);
        assert_eq!(clients_notified(&watches, b"k"), ["b"]);
        assert!(watches.remove(&"b", b"k"));
        assert_eq!(watches.len(), 0);
        assert!(watches.by_key.is_empty() && watches.by_client.is_empty());
    }

    #[test]
    fn forget_drops_all_registrations_of_one_client() {
        let mut watches = Watches::default();
        watches.add(&"a", b"k1");
        watches.add(&"a", b"k2");
        watches.add(&"b", b"k1");
        watches.forget(&"a");
        watches.forget(&"never-registered");
        assert_eq!(watches.len(), 1);
        assert_eq!(watches.count_for(&"a"), 0);
        assert_eq!(clients_notified(&watches, b"k1"), ["b"]);
        assert!(clients_notified(&watches, b"k2").is_empty());
        assert!(!watches.by_key.contains_key(b"k2".as_slice()));
    }
}
