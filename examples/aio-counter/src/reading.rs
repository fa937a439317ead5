//! What the operator reads from a message and writes to the store, free of
//! bindings so it is tested natively.

/// Above this, a reading is over-temperature (degrees Celsius).
pub const OVER_TEMPERATURE: f64 = 100.0;

/// The shared key every instance counts into.
pub const COUNT_KEY: &[u8] = b"aio-counter/overtemp-count";

/// Whether `payload` (`{"temperature": t, ...}`) is over-temperature;
/// `None` when it holds no temperature.
pub fn is_over_temperature(payload: &[u8]) -> Option<bool> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    value
        .get("temperature")?
        .as_f64()
        .map(|t| t > OVER_TEMPERATURE)
}

/// The count after one more reading; an absent or unreadable key counts
/// from zero.
pub fn incremented(current: Option<&[u8]>) -> Vec<u8> {
    let count: u64 = current
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    (count + 1).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_and_counts() {
        assert_eq!(
            is_over_temperature(br#"{"temperature": 100.5}"#),
            Some(true)
        );
        assert_eq!(is_over_temperature(br#"{"temperature": 100}"#), Some(false));
        assert_eq!(is_over_temperature(b"{}"), None);
        assert_eq!(incremented(None), b"1");
        assert_eq!(incremented(Some(b"41")), b"42");
    }
}
