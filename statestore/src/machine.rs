//! The state store itself: keys, versions, fencing, expiry and KEYNOTIFY as
//! one sans-IO state machine.
//!
//! (Longer than 400 lines on purpose: the order of checks and the effects
//! of each command are the store's contract, and read best in one file;
//! expiry, fencing, quotas and registrations are already modules of their
//! own.)
//!
//! A driver (the embedded store, the MQTT service, the simulator) decodes a
//! request, calls [`StateStore::handle`] with its wall clock, sends back the
//! [`Response`] and publishes the returned [`Notification`]s. Between
//! requests it calls [`StateStore::expire`] when the deadline from
//! [`StateStore::next_expiry`] passes, so watchers hear about an expired key
//! when it expires, not at the next request. Nothing here blocks, reads a
//! clock or does IO.
//!
//! # Order of checks
//!
//! [`StateStore::handle`] first expires every key due at `now_ms`, then
//! refuses the request at the first failing check, in this order:
//!
//! 1. the key is empty: `KeyLengthZero`;
//! 2. a SET with `PX 0`: `SyntaxError`;
//! 3. a SET without `__ts`: `MissingTimestamp`;
//! 4. a `__ts` more than a minute ahead of `now_ms`: `TimestampSkew`;
//! 5. a `__ft` (on any command) more than a minute ahead: `FencingTokenSkew`.
//!
//! A request that passes these has its `__ts` and `__ft` merged into the
//! store's clock, so every later version is greater than both. Then, per
//! command: fencing (SET, DEL, VDEL on a key holding a token), then the
//! lock-delay of a store restarted without its state (an NX/NEX SET of an
//! absent key is not applied; `durability.rs`), then the
//! NX/NEX or VDEL value condition, then quotas (only for something that
//! would be stored: `quota.rs` has the rules), then the change itself.
//!
//! # Versions
//!
//! One [`HlcClock`] versions every write, deletion and expiry across all
//! keys, so versions (and the fencing tokens taken from them) only grow. A
//! response carries the version of the write it made; otherwise the stored
//! version of the key it found (GET hit, SET not applied, VDEL mismatch);
//! otherwise (missing key, KEYNOTIFY, errors) the clock's current version,
//! without ticking.
//!
//! # Registrations
//!
//! KEYNOTIFY registrations outlive the key (watching an absent key is fine)
//! and stay until `STOP`, until [`StateStore::forget_client`] (which a
//! driver that sees disconnects calls when a client goes away), or until
//! their client has sent no request for `Limits::watch_lease_ms` (a driver
//! that cannot see disconnects relies on that). Any request of a client,
//! handled or only [`StateStore::touch`]ed, renews the lease of all its
//! registrations; a repeated KEYNOTIFY is such a request, and answers `+OK`.

use std::collections::{BTreeMap, BTreeSet};

use crate::command::{Command, Reply, Request, Response, SetCondition};
use crate::error::StoreErrorKind;
use crate::expiry::ExpiryIndex;
use crate::fencing;
use crate::hlc::{Hlc, HlcClock, is_too_far_ahead};
use crate::limits::Limits;
use crate::notify::{KeyEvent, Notification, Watches, registration_bytes};
use crate::quota;

mod durability;
pub use durability::{Changes, Snapshot};
#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

/// One stored key: what a durable driver writes down and restores.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StoredEntry {
    /// The value.
    pub value: Vec<u8>,
    /// The version of the write that stored `value`.
    pub version: Hlc,
    /// The token protecting the key, once a write presented one.
    pub fencing_token: Option<Hlc>,
    /// When the key expires (ms since the epoch), if it was set with `PX`:
    /// absolute, so a restart neither lengthens nor shortens a lease.
    pub expires_at_ms: Option<u64>,
}

/// The AIO state store's semantics, for clients identified by `C` (for MQTT,
/// the client id). `C: Clone + Ord` keeps registrations in ordered maps, so
/// notifications fan out in client order, deterministically.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(deserialize = "C: serde::Deserialize<'de> + Ord"))
)]
pub struct StateStore<C> {
    clock: HlcClock,
    limits: Limits,
    entries: BTreeMap<Vec<u8>, StoredEntry>,
    expiries: ExpiryIndex,
    watches: Watches<C>,
    /// What the entries count against `Limits::max_store_bytes`.
    stored_bytes: usize,
    /// Registrations dropped because their client fell silent, ever.
    lapsed: u64,
    /// Keys that expired, ever.
    expired_keys: u64,
    /// Keys written or deleted since the last `take_changes`, once a
    /// durable driver asked for them (`durability.rs`).
    changed_keys: Option<BTreeSet<Vec<u8>>>,
    /// Until when (ms) no conditional SET may take an absent key: the
    /// lock-delay of a store that restarted without its state.
    hold_new_until_ms: u64,
}

impl<C: Clone + Ord> StateStore<C> {
    /// An empty store whose versions carry `node_id`.
    ///
    /// # Panics
    ///
    /// If `node_id` is empty or contains `:` (see [`HlcClock::new`]).
    pub fn new(node_id: impl Into<String>, limits: Limits) -> Self {
        Self {
            clock: HlcClock::new(node_id),
            limits,
            entries: BTreeMap::new(),
            expiries: ExpiryIndex::default(),
            watches: Watches::default(),
            stored_bytes: 0,
            expired_keys: 0,
            lapsed: 0,
            changed_keys: None,
            hold_new_until_ms: 0,
        }
    }

    /// What `key` holds at `now_ms`, as a GET would answer, without
    /// changing anything (no expiry runs, no version is issued). For
    /// observers such as a simulator's safety checker.
    pub fn peek(&self, now_ms: u64, key: &[u8]) -> Option<(&[u8], &Hlc)> {
        let entry = self.entries.get(key)?;
        if entry.expires_at_ms.is_some_and(|at| at <= now_ms) {
            return None;
        }
        Some((&entry.value, &entry.version))
    }

    /// The limits the store was built with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Applies one request at wall-clock time `now_ms` (ms since the epoch).
    ///
    /// Registrations whose lease ran out lapse and keys due at `now_ms`
    /// expire first, so the request never sees them; their DELETE
    /// notifications come first in the returned list, followed by those of
    /// the request's own change. The request renews its client's lease.
    /// Never fails: refusals are [`Reply::Error`] responses.
    pub fn handle(&mut self, now_ms: u64, request: Request<C>) -> (Response, Vec<Notification<C>>) {
        self.touch(&request.client, now_ms);
        let mut notifications = self.expire(now_ms);
        let outcome = self
            .admit(now_ms, &request)
            .and_then(|()| self.apply(now_ms, request, &mut notifications));
        let response = outcome.unwrap_or_else(|kind| Response {
            reply: Reply::Error(kind),
            version: self.clock.current(),
        });
        (response, notifications)
    }

    /// Deletes every key whose expiry is at or before `now_ms`, in expiry
    /// order, each with a new version and a DELETE notification to each of
    /// its watchers. Call it when [`StateStore::next_expiry`] has passed.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Notification<C>> {
        self.lapse(now_ms);
        let mut notifications = Vec::new();
        for key in self.expiries.take_due(now_ms) {
            self.remove_entry(now_ms, &key, &mut notifications);
            self.expired_keys += 1;
        }
        notifications
    }

    /// Keys that expired since the store started.
    pub fn expired_keys(&self) -> u64 {
        self.expired_keys
    }

    /// The earliest pending expiry (ms since the epoch), so a driver can arm
    /// one timer and call [`StateStore::expire`] when it fires.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiries.next()
    }

    /// Drops every KEYNOTIFY registration of `client`, as the real service
    /// does when a client disconnects.
    pub fn forget_client(&mut self, client: &C) {
        self.watches.forget(client);
    }

    /// `client` sent a request at `now_ms` that the store will not handle
    /// (a malformed one, or a re-send answered from memory): its
    /// registrations still last a lease from now. Registrations whose lease
    /// ran out by `now_ms` lapse first, this client's included.
    pub fn touch(&mut self, client: &C, now_ms: u64) {
        self.lapse(now_ms);
        self.watches.touch(client, now_ms);
    }

    /// Registrations dropped because their client sent no request for a
    /// lease (`Limits::watch_lease_ms`), since the store began.
    pub fn lapsed_registrations(&self) -> u64 {
        self.lapsed
    }

    /// What the stored keys and values count against
    /// `Limits::max_store_bytes`.
    pub fn stored_bytes(&self) -> usize {
        self.stored_bytes
    }

    /// Ends the registrations of clients silent for a lease by `now_ms`.
    fn lapse(&mut self, now_ms: u64) {
        let lapsed = self.watches.lapse(now_ms, self.limits.watch_lease_ms);
        self.lapsed += lapsed as u64;
    }

    /// Number of KEYNOTIFY registrations, over all clients and keys.
    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    /// Number of stored keys (including any due to expire but not yet
    /// expired by [`StateStore::expire`] or [`StateStore::handle`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The store clock's latest version, without ticking: what a response
    /// that found no key reports.
    pub fn current_version(&self) -> Hlc {
        self.clock.current()
    }

    /// Checks that apply to every request before the store looks at its key
    /// (see the module docs for the order); on success merges the request's
    /// clocks into the store's.
    fn admit(&mut self, now_ms: u64, request: &Request<C>) -> Result<(), StoreErrorKind> {
        if request.command.key().is_empty() {
            return Err(StoreErrorKind::KeyLengthZero);
        }
        if let Command::Set { expiry_ms, .. } = &request.command {
            if *expiry_ms == Some(0) {
                return Err(StoreErrorKind::SyntaxError);
            }
            if request.timestamp.is_none() {
                return Err(StoreErrorKind::MissingTimestamp);
            }
        }
        if let Some(ts) = &request.timestamp
            && is_too_far_ahead(ts, now_ms)
        {
            return Err(StoreErrorKind::TimestampSkew);
        }
        if let Some(ft) = &request.fencing_token
            && is_too_far_ahead(ft, now_ms)
        {
            return Err(StoreErrorKind::FencingTokenSkew);
        }
        for seen in [&request.timestamp, &request.fencing_token]
            .into_iter()
            .flatten()
        {
            self.clock.merge(seen, now_ms);
        }
        Ok(())
    }

    /// Runs an admitted command.
    fn apply(
        &mut self,
        now_ms: u64,
        request: Request<C>,
        notifications: &mut Vec<Notification<C>>,
    ) -> Result<Response, StoreErrorKind> {
        let Request {
            client,
            command,
            fencing_token,
            ..
        } = request;
        let fencing_token = fencing_token.as_ref();
        match command {
            Command::Set {
                key,
                value,
                condition,
                expiry_ms,
            } => {
                let write = Write {
                    key,
                    value,
                    condition,
                    expiry_ms,
                };
                self.set(now_ms, write, fencing_token, notifications)
            }
            Command::Get { key } => Ok(self.get(&key)),
            Command::Del { key } => self.delete(now_ms, &key, None, fencing_token, notifications),
            Command::VDel { key, value } => {
                self.delete(now_ms, &key, Some(&value), fencing_token, notifications)
            }
            Command::KeyNotify { key, stop: false } => self.watch(now_ms, &client, &key),
            Command::KeyNotify { key, stop: true } => Ok(self.unwatch(&client, &key)),
        }
    }

    fn set(
        &mut self,
        now_ms: u64,
        write: Write,
        fencing_token: Option<&Hlc>,
        notifications: &mut Vec<Notification<C>>,
    ) -> Result<Response, StoreErrorKind> {
        let Write {
            key,
            value,
            condition,
            expiry_ms,
        } = write;
        let stored = self.entries.get(&key);
        fencing::check(stored.and_then(|e| e.fencing_token.as_ref()), fencing_token)?;
        if stored.is_none()
            && condition != SetCondition::Unconditional
            && now_ms < self.hold_new_until_ms
        {
            return Ok(Response {
                reply: Reply::NotApplied,
                version: self.clock.current(),
            });
        }
        if let Some(entry) = stored {
            let holds = match condition {
                SetCondition::Unconditional => true,
                SetCondition::OnlyIfAbsent => false,
                SetCondition::OnlyIfAbsentOrEqual => entry.value == value,
            };
            if !holds {
                return Ok(Response {
                    reply: Reply::NotApplied,
                    version: entry.version.clone(),
                });
            }
        }
        quota::check_write(
            &self.limits,
            &quota::Stored {
                keys: self.entries.len(),
                bytes: self.stored_bytes,
            },
            &quota::Write {
                key_bytes: key.len(),
                value_bytes: value.len(),
                replaced_value_bytes: stored.map(|entry| entry.value.len()),
                watchers: self.watches.watchers_of(&key),
            },
        )?;

        let previous = self.entries.remove(&key);
        if let Some(entry) = &previous {
            self.stored_bytes -= quota::entry_bytes(key.len(), entry.value.len());
        }
        self.stored_bytes += quota::entry_bytes(key.len(), value.len());
        if let Some(deadline) = previous.as_ref().and_then(|e| e.expires_at_ms) {
            self.expiries.cancel(deadline, &key);
        }
        let version = self.clock.now(now_ms);
        let expires_at_ms = expiry_ms.map(|px| now_ms.saturating_add(px));
        if let Some(deadline) = expires_at_ms {
            self.expiries.schedule(deadline, &key);
        }
        notifications.extend(
            self.watches
                .notify(&key, &KeyEvent::Set(value.clone()), &version),
        );
        let entry = StoredEntry {
            value,
            version: version.clone(),
            fencing_token: fencing::keep_newer(
                previous.and_then(|e| e.fencing_token),
                fencing_token,
            ),
            expires_at_ms,
        };
        self.mark_changed(&key);
        self.entries.insert(key, entry);
        Ok(Response {
            reply: Reply::Ok,
            version,
        })
    }

    fn get(&self, key: &[u8]) -> Response {
        match self.entries.get(key) {
            Some(entry) => Response {
                reply: Reply::Value(Some(entry.value.clone())),
                version: entry.version.clone(),
            },
            None => Response {
                reply: Reply::Value(None),
                version: self.clock.current(),
            },
        }
    }

    /// DEL (`expected_value` None) and VDEL (Some).
    fn delete(
        &mut self,
        now_ms: u64,
        key: &[u8],
        expected_value: Option<&[u8]>,
        fencing_token: Option<&Hlc>,
        notifications: &mut Vec<Notification<C>>,
    ) -> Result<Response, StoreErrorKind> {
        let Some(entry) = self.entries.get(key) else {
            return Ok(Response {
                reply: Reply::Count(0),
                version: self.clock.current(),
            });
        };
        fencing::check(entry.fencing_token.as_ref(), fencing_token)?;
        if let Some(expected) = expected_value
            && entry.value != expected
        {
            return Ok(Response {
                reply: Reply::Count(-1),
                version: entry.version.clone(),
            });
        }
        let version = self.remove_entry(now_ms, key, notifications);
        Ok(Response {
            reply: Reply::Count(1),
            version,
        })
    }

    /// Deletes a stored key (by DEL, VDEL or expiry) with its token and
    /// expiry, tells its watchers, and returns the deletion's version.
    fn remove_entry(
        &mut self,
        now_ms: u64,
        key: &[u8],
        notifications: &mut Vec<Notification<C>>,
    ) -> Hlc {
        let entry = self
            .entries
            .remove(key)
            .expect("remove_entry is only called for stored keys");
        self.stored_bytes -= quota::entry_bytes(key.len(), entry.value.len());
        if let Some(deadline) = entry.expires_at_ms {
            self.expiries.cancel(deadline, key);
        }
        self.mark_changed(key);
        let version = self.clock.now(now_ms);
        notifications.extend(self.watches.notify(key, &KeyEvent::Delete, &version));
        version
    }

    /// KEYNOTIFY: idempotent (a repeat answers `+OK` and renews the
    /// lease); a new registration counts against the quotas.
    fn watch(&mut self, now_ms: u64, client: &C, key: &[u8]) -> Result<Response, StoreErrorKind> {
        if !self.watches.contains(client, key) {
            quota::check_watch(
                &self.limits,
                &quota::Registered {
                    count: self.watches.len(),
                    bytes: self.watches.bytes(),
                },
                &quota::NewWatch {
                    key_bytes: key.len(),
                    registration_bytes: registration_bytes(key),
                    client_watches: self.watches.count_for(client),
                    key_watchers: self.watches.watchers_of(key),
                    value_bytes: self.entries.get(key).map_or(0, |entry| entry.value.len()),
                },
            )?;
        }
        self.watches.add(client, key, now_ms);
        Ok(Response {
            reply: Reply::Ok,
            version: self.clock.current(),
        })
    }

    /// KEYNOTIFY STOP: `+OK` if it was registered, `:0` if not.
    fn unwatch(&mut self, client: &C, key: &[u8]) -> Response {
        let reply = if self.watches.remove(client, key) {
            Reply::Ok
        } else {
            Reply::Count(0)
        };
        Response {
            reply,
            version: self.clock.current(),
        }
    }
}

/// The parts of a SET command.
struct Write {
    key: Vec<u8>,
    value: Vec<u8>,
    condition: SetCondition,
    expiry_ms: Option<u64>,
}
