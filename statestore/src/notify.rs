//! KEYNOTIFY: who watches which key, and the notifications a change fans out
//! to them; registrations lapse when their client falls silent.

use std::collections::{BTreeMap, BTreeSet};

use crate::hlc::Hlc;
use crate::idle::LastSeen;
use crate::limits::WATCH_OVERHEAD_BYTES;

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
/// by client to count its quota and to forget it on disconnect; with the
/// bytes they take and when each watching client last sent a request, so
/// the registrations of a client gone silent lapse.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(deserialize = "C: serde::Deserialize<'de> + Ord"))
)]
pub(crate) struct Watches<C> {
    by_key: BTreeMap<Vec<u8>, BTreeSet<C>>,
    by_client: BTreeMap<C, BTreeSet<Vec<u8>>>,
    count: usize,
    bytes: usize,
    seen: LastSeen<C>,
    /// Clients whose registrations changed since the last
    /// [`Watches::take_changed`], once a durable driver asked for them.
    changed: Option<BTreeSet<C>>,
}

impl<C> Default for Watches<C> {
    fn default() -> Self {
        Self {
            by_key: BTreeMap::new(),
            by_client: BTreeMap::new(),
            count: 0,
            bytes: 0,
            seen: LastSeen::default(),
            changed: None,
        }
    }
}

/// What one registration of `key` counts against `Limits::max_watch_bytes`.
pub(crate) fn registration_bytes(key: &[u8]) -> usize {
    key.len().saturating_add(WATCH_OVERHEAD_BYTES)
}

impl<C: Clone + Ord> Watches<C> {
    /// Total registrations, over all clients and keys.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// What all registrations count against `Limits::max_watch_bytes`.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
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

    /// How many clients watch `key`.
    pub(crate) fn watchers_of(&self, key: &[u8]) -> usize {
        self.by_key.get(key).map_or(0, BTreeSet::len)
    }

    /// Registers `client` for `key` at `now_ms`; false if it already was.
    pub(crate) fn add(&mut self, client: &C, key: &[u8], now_ms: u64) -> bool {
        let added = self
            .by_client
            .entry(client.clone())
            .or_default()
            .insert(key.to_vec());
        if added {
            self.mark(client);
            self.by_key
                .entry(key.to_vec())
                .or_default()
                .insert(client.clone());
            self.count += 1;
            self.bytes += registration_bytes(key);
        }
        self.seen.record(client, now_ms);
        added
    }

    /// `client` sent a request at `now_ms`: its registrations, if any, last
    /// a lease from now.
    pub(crate) fn touch(&mut self, client: &C, now_ms: u64) {
        if self.by_client.contains_key(client) {
            self.seen.record(client, now_ms);
        }
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
            self.seen.forget(client);
        }
        self.mark(client);
        self.unlink_key(client, key);
        self.count -= 1;
        self.bytes -= registration_bytes(key);
        true
    }

    /// Drops every registration of `client`; returns how many there were.
    pub(crate) fn forget(&mut self, client: &C) -> usize {
        self.seen.forget(client);
        let Some(keys) = self.by_client.remove(client) else {
            return 0;
        };
        self.mark(client);
        for key in &keys {
            self.unlink_key(client, key);
            self.bytes -= registration_bytes(key);
        }
        self.count -= keys.len();
        keys.len()
    }

    /// Drops the registrations of every client that sent no request for
    /// `lease_ms` up to `now_ms`; returns how many registrations lapsed.
    pub(crate) fn lapse(&mut self, now_ms: u64, lease_ms: u64) -> usize {
        let Some(cutoff) = now_ms.checked_sub(lease_ms) else {
            return 0;
        };
        self.seen
            .take_seen_by(cutoff)
            .iter()
            .map(|client| self.forget(client))
            .sum()
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

    /// From now on, remember which clients' registrations change.
    pub(crate) fn track_changes(&mut self) {
        self.changed.get_or_insert_with(BTreeSet::new);
    }

    /// The clients whose registrations changed since the last call, each
    /// with every key it watches now (none: it watches nothing any more).
    pub(crate) fn take_changed(&mut self) -> Vec<(C, Vec<Vec<u8>>)> {
        let Some(changed) = &mut self.changed else {
            return Vec::new();
        };
        std::mem::take(changed)
            .into_iter()
            .map(|client| {
                let keys = self.keys_of(&client);
                (client, keys)
            })
            .collect()
    }

    /// Every registration, by client.
    pub(crate) fn all(&self) -> Vec<(C, Vec<Vec<u8>>)> {
        self.by_client
            .iter()
            .map(|(client, keys)| (client.clone(), keys.iter().cloned().collect()))
            .collect()
    }

    fn keys_of(&self, client: &C) -> Vec<Vec<u8>> {
        self.by_client
            .get(client)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn mark(&mut self, client: &C) {
        if let Some(changed) = &mut self.changed {
            changed.insert(client.clone());
        }
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

    /// Watches holding these `(client, key)` registrations, all made at
    /// time 0.
    fn registered(registrations: &[(&'static str, &str)]) -> Watches<&'static str> {
        let mut watches = Watches::default();
        for (client, key) in registrations {
            watches.add(client, key.as_bytes(), 0);
        }
        watches
    }

    #[test]
    fn add_is_idempotent_and_counted_once() {
        let mut watches = Watches::default();
        assert!(watches.add(&"a", b"k", 0));
        assert!(!watches.add(&"a", b"k", 0));
        assert_eq!(watches.len(), 1);
        assert_eq!(watches.count_for(&"a"), 1);
        assert!(watches.contains(&"a", b"k"));
        assert!(!watches.contains(&"b", b"k"));
    }

    #[test]
    fn notify_fans_out_in_client_order() {
        let watches = registered(&[("c", "k"), ("a", "k"), ("b", "other")]);
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
        let mut watches = registered(&[("a", "k"), ("b", "k")]);
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
        let mut watches = registered(&[("a", "k1"), ("a", "k2"), ("b", "k1")]);
        watches.forget(&"a");
        watches.forget(&"never-registered");
        assert_eq!(watches.len(), 1);
        assert_eq!(watches.count_for(&"a"), 0);
        assert_eq!(clients_notified(&watches, b"k1"), ["b"]);
        assert!(clients_notified(&watches, b"k2").is_empty());
        assert!(!watches.by_key.contains_key(b"k2".as_slice()));
    }

    #[test]
    fn bytes_and_watchers_are_counted_as_registrations_come_and_go() {
        let mut watches = registered(&[("a", "k"), ("b", "k"), ("a", "long-key")]);
        assert_eq!(watches.watchers_of(b"k"), 2);
        assert_eq!(watches.watchers_of(b"none"), 0);
        assert_eq!(
            watches.bytes(),
            2 * registration_bytes(b"k") + registration_bytes(b"long-key")
        );
        watches.remove(&"b", b"k");
        assert_eq!(watches.forget(&"a"), 2);
        assert_eq!((watches.bytes(), watches.len()), (0, 0));
    }

    #[test]
    fn registrations_lapse_a_lease_after_their_clients_last_request() {
        let mut watches = Watches::default();
        watches.add(&"quiet", b"k1", 1_000);
        watches.add(&"quiet", b"k2", 1_500);
        watches.add(&"busy", b"k1", 1_000);
        watches.touch(&"busy", 2_000);
        watches.touch(&"unwatching", 2_000);
        assert_eq!(
            watches.lapse(2_499, 1_000),
            0,
            "a lease from 1,500 runs to 2,500"
        );
        assert_eq!(watches.lapse(2_500, 1_000), 2, "both of quiet's lapse");
        assert_eq!(clients_notified(&watches, b"k1"), ["busy"]);
        assert_eq!(watches.lapse(2_999, 1_000), 0);
        assert_eq!(watches.lapse(3_000, 1_000), 1);
        assert_eq!((watches.len(), watches.bytes()), (0, 0));
        assert_eq!(
            watches.seen.len(),
            0,
            "nobody is tracked without a registration"
        );
        assert_eq!(
            watches.lapse(500, 1_000),
            0,
            "no lease ends before time 1,000"
        );
    }

    #[test]
    fn a_client_with_no_registrations_left_is_not_tracked() {
        let mut watches = Watches::default();
        watches.add(&"a", b"k", 0);
        watches.remove(&"a", b"k");
        assert_eq!(watches.seen.len(), 0);
        watches.add(&"a", b"k", 0);
        watches.forget(&"a");
        assert_eq!(watches.seen.len(), 0);
    }
}
