//! One monotonic clock for the whole process.
//!
//! Candidates report instants (`lease.valid-until`, the next `tick`) on
//! `wasi:clocks/monotonic-clock`. wasmtime-wasi's default clock starts at
//! zero for each instance; giving every instance this shared clock instead
//! lets the host compare those instants with its own timers.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime_wasi::HostMonotonicClock;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds since the process's clock origin.
pub fn now_ns() -> u64 {
    u64::try_from(origin().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The `Instant` a guest instant stands for.
pub fn to_instant(guest_ns: u64) -> Instant {
    origin() + Duration::from_nanos(guest_ns)
}

/// Seconds since the Unix epoch at which the system clock will read (or
/// read) the shared clock's instant `guest_ns`: how an instant the host
/// only knows monotonically (a lease's local end) is shown to people and
/// to monitoring, which compare it with their own wall clocks. Both clocks
/// are read back to back, so the offset between them is taken now; a later
/// step of the system clock is not followed.
pub fn unix_seconds(guest_ns: u64) -> f64 {
    let now_ns = now_ns();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    // In f64 seconds a difference of a few nanoseconds is lost below the
    // precision of the epoch time itself, so the sign is what matters.
    let ahead = if guest_ns >= now_ns {
        Duration::from_nanos(guest_ns - now_ns).as_secs_f64()
    } else {
        -Duration::from_nanos(now_ns - guest_ns).as_secs_f64()
    };
    wall + ahead
}

/// Wall-clock milliseconds that advance with the monotonic clock: a store's
/// time. Anchored to the system clock once, so keys expire after their full
/// time even if the system clock is stepped.
#[derive(Clone, Copy, Debug)]
pub struct StoreClock {
    started_wall_ms: u64,
    started: Instant,
}

impl StoreClock {
    pub fn start() -> Self {
        let started_wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        StoreClock {
            started_wall_ms,
            started: Instant::now(),
        }
    }

    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.started_wall_ms.saturating_add(elapsed)
    }

    /// How long until the store's clock reads `ms`.
    pub fn until(&self, ms: u64) -> Duration {
        Duration::from_millis(ms.saturating_sub(self.now_ms()))
    }
}

/// The clock every sandbox sees as `wasi:clocks/monotonic-clock`.
pub struct SharedMonotonicClock;

impl HostMonotonicClock for SharedMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        now_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_and_advance() {
        let a = now_ns();
        std::thread::sleep(Duration::from_millis(2));
        let b = now_ns();
        assert!(b >= a + 2_000_000);
        assert!(to_instant(b) > to_instant(a));
        assert!(to_instant(b) <= Instant::now());
    }

    #[test]
    fn instants_convert_to_the_epoch_time_they_will_be_reached_at() {
        let wall = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        };
        let ahead = unix_seconds(now_ns() + 2_000_000_000);
        assert!(
            (ahead - (wall() + 2.0)).abs() < 0.05,
            "{ahead} vs {}",
            wall()
        );
        std::thread::sleep(Duration::from_millis(5));
        let past = unix_seconds(now_ns() - 1_000_000);
        assert!(
            (past - (wall() - 0.001)).abs() < 0.05,
            "{past} vs {}",
            wall()
        );
        assert!(past < wall());
    }
}
