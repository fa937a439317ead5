//! AIO's versions and durations next to the store vocabulary's.
//!
//! AIO's `hybrid-logical-clock` counts time as seconds and nanoseconds and
//! its counter in 64 bits; the store (and its wire format) counts
//! milliseconds and a 32-bit counter. A version the store issued always
//! converts back exactly; a counter beyond 32 bits cannot come from it.

use core::time::Duration;

use elector_statestore::Hlc;

/// AIO's hybrid-logical-clock, as plain numbers (the bindings' record has
/// the same fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AioHlc {
    pub secs: u64,
    pub nanos: u32,
    pub counter: u64,
    pub node_id: String,
}

impl From<&Hlc> for AioHlc {
    fn from(version: &Hlc) -> Self {
        AioHlc {
            secs: version.wall_clock_ms / 1000,
            nanos: (version.wall_clock_ms % 1000) as u32 * 1_000_000,
            counter: u64::from(version.counter),
            node_id: version.node_id.clone(),
        }
    }
}

impl TryFrom<&AioHlc> for Hlc {
    type Error = String;

    /// Sub-millisecond nanoseconds are dropped: the store never issues
    /// them.
    fn try_from(version: &AioHlc) -> Result<Self, String> {
        let counter = u32::try_from(version.counter)
            .map_err(|_| format!("version counter {} exceeds 32 bits", version.counter))?;
        let millis = version
            .secs
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(u64::from(version.nanos / 1_000_000)))
            .ok_or_else(|| format!("version time {}s is out of range", version.secs))?;
        Ok(Hlc::new(millis, counter, version.node_id.clone()))
    }
}

/// A duration as AIO's `duration` record: (seconds, nanoseconds).
pub fn aio_duration(duration: Duration) -> (u64, u32) {
    (duration.as_secs(), duration.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_version_survives_the_round_trip() {
        let version = Hlc::new(1_764_611_234_567, 42, "node-a");
        let aio = AioHlc::from(&version);
        assert_eq!(
            (aio.secs, aio.nanos, aio.counter),
            (1_764_611_234, 567_000_000, 42)
        );
        assert_eq!(Hlc::try_from(&aio), Ok(version));
    }

    #[test]
    fn a_counter_beyond_32_bits_is_refused() {
        let aio = AioHlc {
            secs: 1,
            nanos: 0,
            counter: u64::from(u32::MAX) + 1,
            node_id: "n".into(),
        };
        assert!(Hlc::try_from(&aio).is_err());
    }
}
