//! Windows of message time, free of bindings so they are tested natively.

/// The window a message stamped at `time_ms` (since the epoch) falls in.
pub fn window_of(time_ms: u64, window_ms: u64) -> u64 {
    time_ms / window_ms.max(1)
}

/// The closed windows a leader seeing `current` summarises: the two
/// before it (a hand-over may have crossed one boundary).
pub fn closed_windows(current: u64) -> impl Iterator<Item = u64> {
    current.saturating_sub(2)..current
}

/// The key whose only-if-absent write claims window `window`'s summary.
pub fn summary_key(window: u64) -> Vec<u8> {
    format!("aio-singleton/summary/{window}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(window_of(4_999, 2_000), 2);
        assert_eq!(closed_windows(5).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(closed_windows(0).count(), 0);
        assert_eq!(summary_key(7), b"aio-singleton/summary/7");
    }
}
