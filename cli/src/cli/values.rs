//! Value parsers shared by the commands' flags. Every argument is checked
//! here, while the command line is parsed, so a wrong one is refused
//! (exit code 2) before anything connects to a broker.

use std::time::Duration;

/// A duration such as `5s`, `500ms` or `2m`. Every duration flag takes
/// this one form; a bare number is refused rather than guessed at.
pub fn duration(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} has no unit: write it as {text}ms or {text}s, for example"
        ));
    }
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

/// A release-on-disconnect delay, or none (`off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseDelay(pub Option<Duration>);

/// `off`, or a whole number of seconds, at least one: MQTT counts the Will
/// Delay Interval in seconds.
pub fn release_delay(text: &str) -> Result<ReleaseDelay, String> {
    if text == "off" {
        return Ok(ReleaseDelay(None));
    }
    let delay = duration(text)?;
    if delay < Duration::from_secs(1) || delay.subsec_nanos() != 0 {
        return Err(format!(
            "{text:?} is not a whole number of seconds of at least 1s (MQTT counts a Will's              delay in seconds); give e.g. 1s or 3s, or off"
        ));
    }
    Ok(ReleaseDelay(Some(delay)))
}

/// The shortest term a command accepts: renewals run every third of it and
/// the lease ends a safety margin (at least 1 ms) before it, so shorter
/// terms leave no time for a round trip.
pub const MIN_TERM: Duration = Duration::from_millis(10);

/// An election term: a [`duration`] from [`MIN_TERM`] up to the longest
/// the election accepts (a year; longer is almost surely a unit mistake).
pub fn term(text: &str) -> Result<Duration, String> {
    let term = duration(text)?;
    let max = Duration::from_millis(elector_guest::timing::MAX_TERM_MS);
    if term < MIN_TERM {
        return Err(format!(
            "a term must be at least {}",
            humantime::format_duration(MIN_TERM)
        ));
    }
    if term > max {
        return Err(format!(
            "a term must be at most {}",
            humantime::format_duration(max)
        ));
    }
    Ok(term)
}

/// A candidate name: it is the lock value's first part, so it must be
/// non-empty and free of `:` (which separates the session id).
pub fn candidate_name(text: &str) -> Result<String, String> {
    let text = not_empty(text)?;
    if text.contains(':') {
        return Err("a name must not contain ':' (it separates the session id)".into());
    }
    Ok(text)
}

/// Any text that must not be empty (a position, a key, a session id).
pub fn not_empty(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_durations_within_bounds() {
        assert_eq!(term("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(term("10ms"), Ok(MIN_TERM));
        for bad in ["0s", "0ms", "9ms", "0", "5", "", "2years"] {
            assert!(term(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_non_empty_without_colons() {
        assert_eq!(candidate_name("node-1"), Ok("node-1".into()));
        assert!(candidate_name("").is_err());
        assert!(candidate_name("a:b").is_err());
        assert!(not_empty("").is_err());
    }
}
