//! What bounds a module beyond memory: how long a hook may run, how fast it
//! may use the store and the log, what its log lines may contain, and how
//! much of the shared store its keys may take.
//!
//! Each bound answers one way a module could take an election down from
//! inside its sandbox: a hook that loops over host calls (each call used to
//! reset the CPU budget, so it was never stopped), a flood of store requests
//! that slows the service every candidate depends on, a flood of log lines,
//! a log line that forges the host's own, and keys that fill the store's
//! key quota until no candidate can campaign.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits of each module sandbox.
#[derive(Clone, Debug)]
pub struct ModuleLimits {
    /// Linear memory per instance, in bytes.
    pub memory: usize,
    /// CPU a hook may use in all, host calls included.
    pub compute: Duration,
    /// Wall-clock time a hook may take in all, waits for the store
    /// included.
    pub hook_time: Duration,
    /// Store requests (get, put, delete, current-leader) per second.
    pub store_requests_per_second: u32,
    /// Log lines per second; the rest are dropped and counted.
    pub log_lines_per_second: u32,
    /// Longest log line kept, in bytes.
    pub log_line_bytes: usize,
    pub keys: KeyLimits,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        ModuleLimits {
            memory: 64 << 20,
            compute: Duration::from_secs(1),
            hook_time: Duration::from_secs(10),
            store_requests_per_second: 200,
            log_lines_per_second: 100,
            log_line_bytes: 4 << 10,
            keys: KeyLimits::default(),
        }
    }
}

/// How much of the shared store one module's keys may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLimits {
    pub max_keys: usize,
    pub max_value_bytes: usize,
    pub max_total_bytes: usize,
}

impl Default for KeyLimits {
    fn default() -> Self {
        KeyLimits {
            max_keys: 1_000,
            max_value_bytes: 64 << 10,
            max_total_bytes: 16 << 20,
        }
    }
}

/// A token bucket: `rate` a second, bursts of up to a second's worth.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn per_second(rate: u32) -> RateLimit {
        let rate = f64::from(rate.max(1));
        RateLimit {
            rate,
            tokens: rate,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.rate);
        self.last = now;
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self) -> bool {
        self.refill(Instant::now());
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there (zero if one is).
    pub fn wait(&mut self) -> Duration {
        self.refill(Instant::now());
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Duration::ZERO;
        }
        let missing = 1.0 - self.tokens;
        self.tokens -= 1.0;
        Duration::from_secs_f64(missing / self.rate)
    }
}

/// A module's log line as the host writes it: control characters escaped
/// (a newline cannot start a forged host line), and at most `max_bytes`.
pub fn sanitize_log_line(message: &str, max_bytes: usize) -> String {
    let mut line = String::with_capacity(message.len().min(max_bytes));
    for c in message.chars() {
        if line.len() >= max_bytes {
            line.push_str("…(truncated)");
            break;
        }
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

/// The keys one module has written through this process, against its
/// [`KeyLimits`]. Shared by the replicas of a module (they share its
/// prefix). It counts what this process wrote; keys left by an earlier
/// process are not known to it (the store has no listing), so the bound on
/// what a module can leave behind is the limit per process lifetime.
#[derive(Debug, Default)]
pub struct KeyQuota {
    limits: KeyLimits,
    sizes: HashMap<Vec<u8>, usize>,
    total: usize,
}

/// Why a write was refused by the quota.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("a value of {0} bytes is larger than the {1} bytes a module may write")]
    ValueTooLarge(usize, usize),
    #[error("the module already has {0} keys, its limit")]
    TooManyKeys(usize),
    #[error("the module's keys would hold more than {0} bytes")]
    TooManyBytes(usize),
}

impl KeyQuota {
    pub fn new(limits: KeyLimits) -> KeyQuota {
        KeyQuota {
            limits,
            ..KeyQuota::default()
        }
    }

    /// Checks that writing `bytes` to `key` stays within the limits.
    pub fn check(&self, key: &[u8], bytes: usize) -> Result<(), QuotaError> {
        if bytes > self.limits.max_value_bytes {
            return Err(QuotaError::ValueTooLarge(
                bytes,
                self.limits.max_value_bytes,
            ));
        }
        let old = self.sizes.get(key).copied();
        if old.is_none() && self.sizes.len() >= self.limits.max_keys {
            return Err(QuotaError::TooManyKeys(self.limits.max_keys));
        }
        if self.total - old.unwrap_or(0) + bytes > self.limits.max_total_bytes {
            return Err(QuotaError::TooManyBytes(self.limits.max_total_bytes));
        }
        Ok(())
    }

    /// Records a write that landed.
    pub fn written(&mut self, key: &[u8], bytes: usize) {
        let old = self.sizes.insert(key.to_vec(), bytes).unwrap_or(0);
        self.total = self.total - old + bytes;
    }

    /// Records a delete that landed.
    pub fn deleted(&mut self, key: &[u8]) {
        if let Some(old) = self.sizes.remove(key) {
            self.total -= old;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_paces() {
        let mut limit = RateLimit::per_second(10);
        assert!((0..10).all(|_| limit.try_take()));
        assert!(!limit.try_take());
        let wait = limit.wait();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(200));
    }

    #[test]
    fn log_lines_cannot_forge_host_lines() {
        let line = sanitize_log_line(
            "ok\n2026-12-01T00:00:00Z INFO leads replica=x\r\t\u{1b}[31m",
            100,
        );
        assert!(!line.contains('\n') && !line.contains('\r') && !line.contains('\u{1b}'));
        assert!(line.starts_with("ok\\n2026"));
        let long = sanitize_log_line(&"x".repeat(10_000), 64);
        assert!(long.len() < 100 && long.ends_with("(truncated)"));
    }

    #[test]
    fn the_quota_counts_keys_and_bytes() {
        let mut quota = KeyQuota::new(KeyLimits {
            max_keys: 2,
            max_value_bytes: 10,
            max_total_bytes: 15,
        });
        assert_eq!(
            quota.check(b"a", 11),
            Err(QuotaError::ValueTooLarge(11, 10))
        );
        quota.check(b"a", 10).unwrap();
        quota.written(b"a", 10);
        assert_eq!(quota.check(b"b", 6), Err(QuotaError::TooManyBytes(15)));
        quota.check(b"b", 5).unwrap();
        quota.written(b"b", 5);
        assert_eq!(quota.check(b"c", 0), Err(QuotaError::TooManyKeys(2)));
        quota.check(b"a", 1).unwrap();
        quota.deleted(b"a");
        quota.check(b"c", 10).unwrap();
    }
}
