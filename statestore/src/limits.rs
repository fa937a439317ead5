//! Resource limits of one state store.
//!
//! The real service refuses writes beyond its quotas with `the quota has been
//! exceeded`; an emulator needs limits too, so one misbehaving client cannot
//! exhaust the memory shared by everyone.

/// Size and count limits; exceeding one answers `QuotaExceeded`.
///
/// Limits are checked only when a request would store more: a SET that would
/// apply (key count for a new key, key and value size), and a KEYNOTIFY that
/// would add a registration (key size, registrations per client). Reads,
/// deletes and requests refused for other reasons never hit a quota.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Most keys the store holds at once.
    pub max_keys: usize,
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Longest value, in bytes.
    pub max_value_bytes: usize,
    /// Most KEYNOTIFY registrations one client holds at once.
    pub max_watches_per_client: usize,
}

impl Limits {
    /// No limits at all, for tests and simulations that measure something
    /// else.
    pub fn unlimited() -> Self {
        Self {
            max_keys: usize::MAX,
            max_key_bytes: usize::MAX,
            max_value_bytes: usize::MAX,
            max_watches_per_client: usize::MAX,
        }
    }
}

/// Generous for leader election (a handful of small keys per election):
/// 100 000 keys, 64 KiB keys, 1 MiB values, 10 000 watches per client.
impl Default for Limits {
    fn default() -> Self {
        Self {
            max_keys: 100_000,
            max_key_bytes: 64 * 1024,
            max_value_bytes: 1024 * 1024,
            max_watches_per_client: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.max_keys, 100_000);
        assert_eq!(limits.max_key_bytes, 65_536);
        assert_eq!(limits.max_value_bytes, 1_048_576);
        assert_eq!(limits.max_watches_per_client, 10_000);
    }

    #[test]
    fn unlimited_is_unlimited() {
        let limits = Limits::unlimited();
        assert_eq!(limits.max_keys, usize::MAX);
        assert_eq!(limits.max_watches_per_client, usize::MAX);
    }
}
