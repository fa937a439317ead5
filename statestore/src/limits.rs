//! Resource limits of one state store and of the service in front of it.
//!
//! The real service refuses writes beyond its quotas with `the quota has been
//! exceeded`; an emulator needs limits too, so one misbehaving client cannot
//! exhaust the memory and the time shared by everyone. Behind a plain MQTT
//! broker the service cannot tell one client from another beyond the client
//! id a request names (`docs/security.md`), so per-client quotas alone bound
//! nothing: a client can name as many ids as it likes. Every resource
//! therefore also has a bound of its own, in bytes where bytes are what it
//! costs.

/// Size and count limits. A write or registration beyond one answers
/// `QuotaExceeded`; a request beyond a request limit is dropped unanswered.
///
/// Store limits are checked only when a request would store more: a SET that
/// would apply (key count for a new key, key and value size, the store's
/// bytes, the bytes its notifications would fan out), and a KEYNOTIFY that
/// would add a registration (key size, registrations per client, per key and
/// in all, their bytes, and the fan-out of the key's current value). Reads,
/// deletes and requests refused for other reasons never hit a quota.
///
/// The defaults are sized for leader election on a small device: an
/// election needs a key, a short value and a watch per candidate, so the
/// defaults leave room for thousands of elections while capping the memory
/// all of it may take at a few tens of MiB (`docs/security.md` lists each
/// bound and why).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Limits {
    /// Most keys the store holds at once.
    pub max_keys: usize,
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Longest value, in bytes.
    pub max_value_bytes: usize,
    /// Most bytes all stored keys and values may take, each key counted with
    /// [`ENTRY_OVERHEAD_BYTES`] for its bookkeeping: the store's memory
    /// budget.
    pub max_store_bytes: usize,
    /// Most KEYNOTIFY registrations one client holds at once.
    pub max_watches_per_client: usize,
    /// Most KEYNOTIFY registrations over all clients: a client can name any
    /// number of client ids, so this is what bounds them.
    pub max_watches: usize,
    /// Most clients watching one key: what one change may cost in
    /// notifications.
    pub max_watchers_per_key: usize,
    /// Most bytes all registrations may take, each counted as its key plus
    /// [`WATCH_OVERHEAD_BYTES`].
    pub max_watch_bytes: usize,
    /// Most value bytes one change may fan out (the value times the key's
    /// watchers): a SET beyond it is refused, and so is a KEYNOTIFY that
    /// would take the key's current value beyond it.
    pub max_fanout_bytes: usize,
    /// A client's registrations lapse once it has sent no request for this
    /// long (ms). A service behind a plain broker cannot see a client
    /// disconnect; this is how registrations of clients that are gone end.
    pub watch_lease_ms: u64,
    /// Longest Correlation Data a request may carry; a longer one is dropped
    /// unanswered (it would be echoed, and remembered for re-sends).
    pub max_correlation_bytes: usize,
    /// Longest response topic a request may name; a longer one is dropped
    /// unanswered.
    pub max_response_topic_bytes: usize,
    /// How long (ms) an answer is kept for a re-send of its request: a
    /// client's MQTT stack re-sends after a reconnect, well within this.
    pub replay_window_ms: u64,
    /// Most bytes the kept answers may take; the oldest go first.
    pub max_replay_bytes: usize,
    /// Most requests waiting in one client's queue in the MQTT service;
    /// more are dropped unanswered.
    pub max_queued_per_client: usize,
    /// Most bytes waiting in one client's queue (a first request is always
    /// taken, whatever its size).
    pub max_queued_bytes_per_client: usize,
    /// Most bytes waiting in all queues; past it the client with the most
    /// bytes queued loses its newest request.
    pub max_queued_bytes: usize,
}

/// What the store counts for one stored key besides its key and value
/// bytes: its version, fencing token, expiry and map entry, rounded up.
pub const ENTRY_OVERHEAD_BYTES: usize = 128;

/// What the store counts for one registration besides its key bytes: the
/// client id (at most a response topic long, and usually short) and two map
/// entries, rounded up.
pub const WATCH_OVERHEAD_BYTES: usize = 128;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

impl Limits {
    /// No limits at all, for tests and simulations that measure something
    /// else.
    pub fn unlimited() -> Self {
        Self {
            max_keys: usize::MAX,
            max_key_bytes: usize::MAX,
            max_value_bytes: usize::MAX,
            max_store_bytes: usize::MAX,
            max_watches_per_client: usize::MAX,
            max_watches: usize::MAX,
            max_watchers_per_key: usize::MAX,
            max_watch_bytes: usize::MAX,
            max_fanout_bytes: usize::MAX,
            watch_lease_ms: u64::MAX,
            max_correlation_bytes: usize::MAX,
            max_response_topic_bytes: usize::MAX,
            replay_window_ms: u64::MAX,
            max_replay_bytes: usize::MAX,
            max_queued_per_client: usize::MAX,
            max_queued_bytes_per_client: usize::MAX,
            max_queued_bytes: usize::MAX,
        }
    }

    /// For a store inside one process whose only clients are that
    /// process's own candidates (the embedded store): room for the 100,000
    /// candidates the density benchmark runs, each with its key and its
    /// watch, the other limits as [`Limits::default`]. Its bounds only
    /// catch a runaway; hostile clients cannot reach it.
    pub fn in_process() -> Self {
        Self {
            max_keys: 1_000_000,
            max_store_bytes: 1024 * MIB,
            max_watches: 1_000_000,
            max_watch_bytes: 256 * MIB,
            ..Self::default()
        }
    }
}

/// Leader election on a small device: 10,000 keys of up to 64 KiB with
/// values of up to 1 MiB in 16 MiB; 10,000 watches (1,000 per client, 256
/// per key) in 4 MiB, lapsing after 24 h without a request; 4 MiB fanned
/// out per change; correlation data up to 128 bytes, response topics up to
/// 512; answers kept for re-sends for 1 minute in 2 MiB; 64 requests or
/// 4 MiB queued per client, 16 MiB in all.
impl Default for Limits {
    fn default() -> Self {
        Self {
            max_keys: 10_000,
            max_key_bytes: 64 * KIB,
            max_value_bytes: MIB,
            max_store_bytes: 16 * MIB,
            max_watches_per_client: 1_000,
            max_watches: 10_000,
            max_watchers_per_key: 256,
            max_watch_bytes: 4 * MIB,
            max_fanout_bytes: 4 * MIB,
            watch_lease_ms: 24 * 60 * 60 * 1000,
            max_correlation_bytes: 128,
            max_response_topic_bytes: 512,
            replay_window_ms: 60_000,
            max_replay_bytes: 2 * MIB,
            max_queued_per_client: 64,
            max_queued_bytes_per_client: 4 * MIB,
            max_queued_bytes: 16 * MIB,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.max_keys, 10_000);
        assert_eq!(limits.max_key_bytes, 65_536);
        assert_eq!(limits.max_value_bytes, 1_048_576);
        assert_eq!(limits.max_store_bytes, 16_777_216);
        assert_eq!(limits.max_watches_per_client, 1_000);
        assert_eq!(limits.max_watches, 10_000);
        assert_eq!(limits.max_watchers_per_key, 256);
        assert_eq!(limits.max_watch_bytes, 4_194_304);
        assert_eq!(limits.max_fanout_bytes, 4_194_304);
        assert_eq!(limits.watch_lease_ms, 86_400_000);
        assert_eq!(limits.max_correlation_bytes, 128);
        assert_eq!(limits.max_response_topic_bytes, 512);
        assert_eq!(limits.replay_window_ms, 60_000);
        assert_eq!(limits.max_replay_bytes, 2_097_152);
        assert_eq!(limits.max_queued_per_client, 64);
        assert_eq!(limits.max_queued_bytes_per_client, 4_194_304);
        assert_eq!(limits.max_queued_bytes, 16_777_216);
    }

    #[test]
    fn the_defaults_hold_together() {
        let limits = Limits::default();
        assert!(
            limits.max_fanout_bytes >= limits.max_value_bytes,
            "a largest value can reach at least one watcher"
        );
        assert!(limits.max_watches >= limits.max_watches_per_client);
        assert!(
            limits.max_queued_bytes_per_client >= 2 * limits.max_value_bytes,
            "a client can queue a largest SET behind another"
        );
        assert!(limits.max_queued_bytes >= 4 * limits.max_queued_bytes_per_client);
        assert!(
            limits.max_store_bytes >= 10 * (limits.max_value_bytes + ENTRY_OVERHEAD_BYTES),
            "room for several largest values"
        );
    }

    #[test]
    fn in_process_has_room_for_the_density_benchmark() {
        let limits = Limits::in_process();
        let candidates = 100_000;
        assert!(limits.max_keys >= candidates && limits.max_watches >= candidates);
        let key = "density-99999".len();
        assert!(limits.max_store_bytes >= candidates * (key + 64 + ENTRY_OVERHEAD_BYTES));
        assert!(limits.max_watch_bytes >= candidates * (key + WATCH_OVERHEAD_BYTES));
        assert_eq!(limits.max_value_bytes, Limits::default().max_value_bytes);
    }

    #[test]
    fn unlimited_is_unlimited() {
        let limits = Limits::unlimited();
        assert_eq!(limits.max_keys, usize::MAX);
        assert_eq!(limits.max_watches_per_client, usize::MAX);
        assert_eq!(limits.max_store_bytes, usize::MAX);
        assert_eq!(limits.watch_lease_ms, u64::MAX);
    }
}
