//! The store in this process: the state machine behind the client
//! vocabulary, for every driver that applies a request the moment it is
//! made (the host's embedded store, and what runs on it). The simulator
//! does not use it: there each client stamps a request with its own skewed
//! clock when it sends it, and the store applies it when it lands, so the
//! world drives the [`StateStore`] itself and reads answers with
//! [`crate::client`].
//!
//! A [`LocalStore`] plays both ends of the wire: it stamps each request with
//! a client clock's `__ts` (as a real client would, merged with every
//! version the store returns), applies it to the [`StateStore`], and reads
//! the answer with the readings of [`crate::client`]. It owns no clock and
//! no timer: every call takes the wall-clock time, and the notifications a
//! call causes are returned for the driver to deliver, in store order.

use crate::client::{self, KeyNotification, SetOptions, SetResponse, StoreResult, VersionedValue};
use crate::command::{Command, Request, Response};
use crate::hlc::{Hlc, HlcClock};
use crate::limits::Limits;
use crate::machine::StateStore;
use crate::notify::Notification;
use crate::outcome::DeleteOutcome;

/// The client id of requests that watch nothing. Watchers get their own
/// ids from [`LocalStore::new_watcher`], so dropping one watch never
/// silences another watch of the same key.
pub const REQUESTER: u64 = 0;

/// Notifications a call caused, for the driver to deliver to their
/// watchers (identified by the ids [`LocalStore::new_watcher`] gave out).
pub type Fanout = Vec<Notification<u64>>;

/// The AIO store's state machine with a client's side attached.
#[derive(Debug)]
pub struct LocalStore {
    machine: StateStore<u64>,
    client_clock: HlcClock,
    next_watcher: u64,
}

impl LocalStore {
    /// An empty store whose versions carry `node_id`.
    pub fn new(node_id: &str, limits: Limits) -> Self {
        LocalStore {
            machine: StateStore::new(node_id, limits),
            client_clock: HlcClock::new(format!("{node_id}-client")),
            next_watcher: REQUESTER + 1,
        }
    }

    /// Sends one request as `client` at `now_ms`, stamped with `__ts` and
    /// with `fencing_token` as `__ft`: the raw response, for drivers that
    /// delay or lose it before reading it.
    pub fn request(
        &mut self,
        now_ms: u64,
        client: u64,
        command: Command,
        fencing_token: Option<&Hlc>,
    ) -> (Response, Fanout) {
        let timestamp = self.client_clock.now(now_ms);
        let mut request = Request::new(client, command).with_timestamp(timestamp);
        if let Some(token) = fencing_token {
            request = request.with_fencing_token(token.clone());
        }
        let (response, fanout) = self.machine.handle(now_ms, request);
        self.client_clock.merge(&response.version, now_ms);
        (response, fanout)
    }

    /// SET.
    pub fn set(
        &mut self,
        now_ms: u64,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> (StoreResult<SetResponse>, Fanout) {
        let command = options.command(key, value);
        let (response, fanout) =
            self.request(now_ms, REQUESTER, command, options.fencing_token.as_ref());
        (client::set_result(response), fanout)
    }

    /// GET; it changes nothing but may expire keys, hence the fan-out.
    pub fn get(
        &mut self,
        now_ms: u64,
        key: &[u8],
    ) -> (StoreResult<Option<VersionedValue>>, Fanout) {
        let (response, fanout) = self.request(now_ms, REQUESTER, client::get_command(key), None);
        (client::get_result(response), fanout)
    }

    /// DEL.
    pub fn del(
        &mut self,
        now_ms: u64,
        key: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> (StoreResult<DeleteOutcome>, Fanout) {
        let command = client::del_command(key);
        let (response, fanout) = self.request(now_ms, REQUESTER, command, fencing_token);
        (client::delete_result(response), fanout)
    }

    /// VDEL.
    pub fn vdel(
        &mut self,
        now_ms: u64,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> (StoreResult<DeleteOutcome>, Fanout) {
        let command = client::vdel_command(key, value);
        let (response, fanout) = self.request(now_ms, REQUESTER, command, fencing_token);
        (client::delete_result(response), fanout)
    }

    /// A client id for one watch.
    pub fn new_watcher(&mut self) -> u64 {
        let watcher = self.next_watcher;
        self.next_watcher += 1;
        watcher
    }

    /// KEYNOTIFY `key` for `watcher`.
    pub fn watch(&mut self, now_ms: u64, watcher: u64, key: &[u8]) -> (StoreResult<()>, Fanout) {
        let command = client::keynotify_command(key, false);
        let (response, fanout) = self.request(now_ms, watcher, command, None);
        (client::keynotify_result(response), fanout)
    }

    /// Ends every registration of `watcher`.
    pub fn unwatch(&mut self, watcher: u64) {
        self.machine.forget_client(&watcher);
    }

    /// Expires what is due at `now_ms`; call it when [`Self::next_expiry`]
    /// has passed, so watchers hear of an expiry when it happens.
    pub fn expire(&mut self, now_ms: u64) -> Fanout {
        self.machine.expire(now_ms)
    }

    /// When the earliest key expires (ms since the epoch).
    pub fn next_expiry(&self) -> Option<u64> {
        self.machine.next_expiry()
    }

    /// The state machine, for counts and for observers such as a checker.
    pub fn machine(&self) -> &StateStore<u64> {
        &self.machine
    }
}

/// One notification as its watcher hears it, with the watcher's id.
pub fn addressed(notification: Notification<u64>) -> (u64, KeyNotification) {
    (notification.client, notification.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::SetCondition;
    use crate::notify::KeyEvent;

    const NOW: u64 = 1_800_000_000_000;

    fn lock(term_ms: u64) -> SetOptions {
        SetOptions {
            condition: SetCondition::OnlyIfAbsentOrEqual,
            expiry_ms: Some(term_ms),
            fencing_token: None,
        }
    }

    #[test]
    fn a_lock_is_taken_once_and_its_expiry_is_heard() {
        let mut store = LocalStore::new("local", Limits::in_process());
        let watcher = store.new_watcher();
        assert_eq!(store.watch(NOW, watcher, b"k").0, Ok(()));

        let (won, fanout) = store.set(NOW, b"k", b"a", &lock(100));
        let won = won.unwrap();
        assert!(won.applied && won.version.is_some());
        assert_eq!(fanout.len(), 1);
        assert!(!store.set(NOW, b"k", b"b", &lock(100)).0.unwrap().applied);

        assert_eq!(store.next_expiry(), Some(NOW + 100));
        let expired: Vec<_> = store.expire(NOW + 100).into_iter().map(addressed).collect();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, watcher);
        assert_eq!(expired[0].1.event, KeyEvent::Delete);
        assert_eq!(store.get(NOW + 100, b"k").0, Ok(None));
    }

    #[test]
    fn a_stale_token_is_refused_and_unwatching_silences() {
        let mut store = LocalStore::new("local", Limits::in_process());
        let first = store
            .set(NOW, b"k", b"v", &SetOptions::default())
            .0
            .unwrap();
        let token = first.version.unwrap();
        let fenced = SetOptions {
            fencing_token: Some(token.clone()),
            ..SetOptions::default()
        };
        let newer = store.set(NOW + 1, b"k", b"w", &fenced).0.unwrap();
        let stale = SetOptions {
            fencing_token: Some(Hlc::new(1, 0, "old")),
            ..SetOptions::default()
        };
        assert!(matches!(
            store.set(NOW + 2, b"k", b"x", &stale).0,
            Err(crate::client::StoreError::Refused(_))
        ));
        assert!(newer.version.unwrap().is_newer_than(&token));

        let watcher = store.new_watcher();
        store.watch(NOW, watcher, b"k").0.unwrap();
        store.unwatch(watcher);
        let (deleted, fanout) = store.del(NOW + 3, b"k", Some(&token));
        assert_eq!(deleted, Ok(DeleteOutcome::Deleted));
        assert!(fanout.is_empty());
    }
}
