//! A key watch without notifications: AIO's operator interface has no
//! `KEYNOTIFY`, so the watch reads the key every poll interval and reports
//! what changed since its last read.
//!
//! The election core already tolerates lost notifications (a missed change
//! delays an election by at most one term, through its timer at the
//! holder's expected expiry); a read that skips intermediate writes is such
//! a loss. What a read can report truthfully:
//!
//! - a new version: that write, with its value and version;
//! - the key gone: a delete. Its version cannot be read; it is reported as
//!   the least version after the last write seen (same time, next
//!   counter). The core uses it only to order this delete after that
//!   write and to judge it early (a release) rather than an expiry, which
//!   for a key that is gone means the same thing: campaign now.
//!
//! A failed read reports nothing, like a lost notification.

use core::cell::Cell;
use core::future::Future;
use core::time::Duration;

use elector_guest::types::{Hlc, KeyEvent, KeyNotification, StoreResult, VersionedValue};

use crate::bindings::wasi::clocks::monotonic_clock;
use crate::executor::Sleep;
use crate::ports::AioStore;

pub struct PollingWatch {
    store: AioStore,
    key: Vec<u8>,
    last: Option<VersionedValue>,
    next_read: Cell<u64>,
}

impl PollingWatch {
    /// Reads the key once, as the registration a real watch would make.
    pub(crate) fn start(store: AioStore, key: &[u8]) -> StoreResult<PollingWatch> {
        let last = store.read(key)?;
        Ok(PollingWatch {
            store,
            key: key.to_vec(),
            last,
            next_read: Cell::new(after(store.poll_interval)),
        })
    }
}

fn after(interval: Duration) -> u64 {
    let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
    monotonic_clock::now().saturating_add(nanos)
}

impl elector_guest::KeyWatch for PollingWatch {
    fn take(&mut self) -> Vec<KeyNotification> {
        if monotonic_clock::now() < self.next_read.get() {
            return Vec::new();
        }
        self.next_read.set(after(self.store.poll_interval));
        let Ok(current) = self.store.read(&self.key) else {
            return Vec::new();
        };
        let change = match (&self.last, &current) {
            (Some(last), Some(now)) if last.version == now.version => None,
            (_, Some(now)) => Some(KeyNotification {
                event: KeyEvent::Set(now.value.clone()),
                version: now.version.clone(),
            }),
            (Some(last), None) => Some(KeyNotification {
                event: KeyEvent::Delete,
                version: just_after(&last.version),
            }),
            (None, None) => None,
        };
        self.last = current;
        change.into_iter().collect()
    }

    fn changed(&self) -> impl Future<Output = ()> {
        Sleep::until(self.next_read.get())
    }
}

/// The least version after `version`.
fn just_after(version: &Hlc) -> Hlc {
    Hlc::new(
        version.wall_clock_ms,
        version.counter.saturating_add(1),
        version.node_id.clone(),
    )
}
