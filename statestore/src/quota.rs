//! The quota rules: whether a write or a new registration may store more.
//!
//! Each rule is one comparison against its limit in [`Limits`]; the store
//! gathers the numbers and asks here, so the rules read in one place and
//! can be tested without a store.

use crate::error::StoreErrorKind;
use crate::limits::{ENTRY_OVERHEAD_BYTES, Limits};

/// What one stored key counts against `Limits::max_store_bytes`.
pub(crate) fn entry_bytes(key_bytes: usize, value_bytes: usize) -> usize {
    key_bytes
        .saturating_add(value_bytes)
        .saturating_add(ENTRY_OVERHEAD_BYTES)
}

/// The value bytes one change sends to its watchers: each notification of a
/// SET carries the whole value.
fn fanout_bytes(value_bytes: usize, watchers: usize) -> usize {
    value_bytes.saturating_mul(watchers)
}

/// A SET that would apply, as the quotas see it.
pub(crate) struct Write {
    pub key_bytes: usize,
    pub value_bytes: usize,
    /// The value bytes of the key it overwrites; `None` for a new key.
    pub replaced_value_bytes: Option<usize>,
    /// Clients watching the key, each of which would be sent the value.
    pub watchers: usize,
}

/// What the store holds now.
pub(crate) struct Stored {
    pub keys: usize,
    pub bytes: usize,
}

/// `QuotaExceeded` when `write` would take the store past a limit.
pub(crate) fn check_write(
    limits: &Limits,
    stored: &Stored,
    write: &Write,
) -> Result<(), StoreErrorKind> {
    let freed = write
        .replaced_value_bytes
        .map_or(0, |value| entry_bytes(write.key_bytes, value));
    let bytes_after = stored
        .bytes
        .saturating_sub(freed)
        .saturating_add(entry_bytes(write.key_bytes, write.value_bytes));
    let exceeded = (write.replaced_value_bytes.is_none() && stored.keys >= limits.max_keys)
        || write.key_bytes > limits.max_key_bytes
        || write.value_bytes > limits.max_value_bytes
        || bytes_after > limits.max_store_bytes
        || fanout_bytes(write.value_bytes, write.watchers) > limits.max_fanout_bytes;
    refuse_if(exceeded)
}

/// A KEYNOTIFY that would add a registration, as the quotas see it.
pub(crate) struct NewWatch {
    pub key_bytes: usize,
    /// Bytes the registration counts against `Limits::max_watch_bytes`.
    pub registration_bytes: usize,
    /// Keys the client watches already.
    pub client_watches: usize,
    /// Clients watching the key already.
    pub key_watchers: usize,
    /// The key's current value bytes (0 when absent): what each later
    /// rewrite of the same size would send the new watcher too.
    pub value_bytes: usize,
}

/// All registrations now.
pub(crate) struct Registered {
    pub count: usize,
    pub bytes: usize,
}

/// `QuotaExceeded` when `watch` would take the registrations past a limit.
pub(crate) fn check_watch(
    limits: &Limits,
    registered: &Registered,
    watch: &NewWatch,
) -> Result<(), StoreErrorKind> {
    let exceeded = watch.key_bytes > limits.max_key_bytes
        || watch.client_watches >= limits.max_watches_per_client
        || registered.count >= limits.max_watches
        || watch.key_watchers >= limits.max_watchers_per_key
        || registered.bytes.saturating_add(watch.registration_bytes) > limits.max_watch_bytes
        || fanout_bytes(watch.value_bytes, watch.key_watchers.saturating_add(1))
            > limits.max_fanout_bytes;
    refuse_if(exceeded)
}

fn refuse_if(exceeded: bool) -> Result<(), StoreErrorKind> {
    if exceeded {
        Err(StoreErrorKind::QuotaExceeded)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: Result<(), StoreErrorKind> = Err(StoreErrorKind::QuotaExceeded);

    fn limits() -> Limits {
        Limits {
            max_keys: 2,
            max_key_bytes: 4,
            max_value_bytes: 100,
            max_store_bytes: 2 * entry_bytes(4, 100),
            max_watches_per_client: 2,
            max_watches: 3,
            max_watchers_per_key: 2,
            max_watch_bytes: 1_000,
            max_fanout_bytes: 150,
            ..Limits::unlimited()
        }
    }

    fn write(value_bytes: usize, replaced: Option<usize>, watchers: usize) -> Write {
        Write {
            key_bytes: 4,
            value_bytes,
            replaced_value_bytes: replaced,
            watchers,
        }
    }

    fn stored(keys: usize, bytes: usize) -> Stored {
        Stored { keys, bytes }
    }

    #[test]
    fn a_write_is_held_to_every_limit_exactly_at_its_boundary() {
        let limits = limits();
        let empty = stored(0, 0);
        assert_eq!(check_write(&limits, &empty, &write(100, None, 0)), Ok(()));
        assert_eq!(check_write(&limits, &empty, &write(101, None, 0)), QUOTA);
        let long_key = Write {
            key_bytes: 5,
            ..write(1, None, 0)
        };
        assert_eq!(check_write(&limits, &empty, &long_key), QUOTA);
        // Fan-out: 75 bytes to 2 watchers is the 150 allowed; 76 is not.
        assert_eq!(check_write(&limits, &empty, &write(75, None, 2)), Ok(()));
        assert_eq!(check_write(&limits, &empty, &write(76, None, 2)), QUOTA);
        // Key count: only a new key needs room.
        let full = stored(2, entry_bytes(4, 10) * 2);
        assert_eq!(check_write(&limits, &full, &write(10, None, 0)), QUOTA);
        assert_eq!(check_write(&limits, &full, &write(10, Some(10), 0)), Ok(()));
    }

    #[test]
    fn the_store_budget_counts_what_a_write_frees_and_adds() {
        let limits = limits();
        let one_big = stored(1, entry_bytes(4, 100));
        assert_eq!(
            check_write(&limits, &one_big, &write(100, None, 0)),
            Ok(()),
            "exactly the budget"
        );
        let almost = stored(1, entry_bytes(4, 100) + 1);
        assert_eq!(check_write(&limits, &almost, &write(100, None, 0)), QUOTA);
        assert_eq!(
            check_write(&limits, &almost, &write(99, Some(100), 0)),
            Ok(()),
            "an overwrite frees what it replaces"
        );
    }

    fn watch(client_watches: usize, key_watchers: usize, value_bytes: usize) -> NewWatch {
        NewWatch {
            key_bytes: 4,
            registration_bytes: 100,
            client_watches,
            key_watchers,
            value_bytes,
        }
    }

    fn registered(count: usize, bytes: usize) -> Registered {
        Registered { count, bytes }
    }

    #[test]
    fn a_registration_is_held_to_every_limit_exactly_at_its_boundary() {
        let limits = limits();
        let none = registered(0, 0);
        assert_eq!(check_watch(&limits, &none, &watch(1, 1, 75)), Ok(()));
        assert_eq!(
            check_watch(&limits, &none, &watch(2, 0, 0)),
            QUOTA,
            "per client"
        );
        assert_eq!(
            check_watch(&limits, &none, &watch(0, 2, 0)),
            QUOTA,
            "per key"
        );
        assert_eq!(
            check_watch(&limits, &none, &watch(1, 1, 76)),
            QUOTA,
            "fan-out"
        );
        assert_eq!(
            check_watch(&limits, &registered(3, 0), &watch(0, 0, 0)),
            QUOTA,
            "in all"
        );
        assert_eq!(
            check_watch(&limits, &registered(2, 900), &watch(0, 0, 0)),
            Ok(()),
            "exactly the byte budget"
        );
        assert_eq!(
            check_watch(&limits, &registered(2, 901), &watch(0, 0, 0)),
            QUOTA
        );
        let long_key = NewWatch {
            key_bytes: 5,
            ..watch(0, 0, 0)
        };
        assert_eq!(check_watch(&limits, &none, &long_key), QUOTA);
    }

    #[test]
    fn nothing_overflows_near_the_top_of_usize() {
        let limits = Limits::unlimited();
        let huge = Write {
            key_bytes: usize::MAX,
            value_bytes: usize::MAX,
            replaced_value_bytes: None,
            watchers: usize::MAX,
        };
        assert_eq!(check_write(&limits, &stored(0, usize::MAX), &huge), Ok(()));
        assert_eq!(entry_bytes(usize::MAX, 1), usize::MAX);
    }
}
