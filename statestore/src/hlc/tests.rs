use super::*;

fn hlc(wall: u64, counter: u32, node: &str) -> Hlc {
    Hlc::new(wall, counter, node)
}

#[test]
fn display_pads_to_15_and_5_digits() {
    assert_eq!(
        hlc(1_795_685_572_581, 0, "node").to_string(),
        "001795685572581:00000:node"
    );
    assert_eq!(hlc(0, 7, "n").to_string(), "000000000000000:00007:n");
}

#[test]
fn display_does_not_truncate_wide_numbers() {
    assert_eq!(
        hlc(u64::MAX, u32::MAX, "n").to_string(),
        "18446744073709551615:4294967295:n"
    );
}

#[test]
fn parse_round_trips_display() {
    for version in [
        hlc(0, 0, "a"),
        hlc(1_795_685_572_581, 12, "node-1"),
        hlc(u64::MAX, u32::MAX, "x y.z"),
    ] {
        assert_eq!(version.to_string().parse::<Hlc>(), Ok(version.clone()));
        assert_eq!(
            Hlc::parse_bytes(version.to_string().as_bytes()),
            Ok(version)
        );
    }
}

#[test]
fn parse_accepts_unpadded_and_over_padded_numbers() {
    assert_eq!("5:3:n".parse(), Ok(hlc(5, 3, "n")));
    assert_eq!(
        "0000000000000000000000000005:0000000003:n".parse(),
        Ok(hlc(5, 3, "n"))
    );
}

/// Every way the text form can be malformed, each with the error that
/// names it (the former `parse_rejects_wrong_part_counts`,
/// `parse_rejects_empty_parts`, `parse_rejects_non_digits` and
/// `parse_rejects_overflow`).
#[test]
fn parse_rejects_malformed_text() {
    use HlcParseError::{EmptyNodeId, EmptyPart, NotDigits, Overflow, WrongPartCount};
    let cases = [
        // Wrong part counts.
        ("", WrongPartCount(1), "empty text"),
        ("1:2", WrongPartCount(2), "no node id"),
        ("1:2:node:extra", WrongPartCount(4), "a fourth part"),
        ("1:2:no:de", WrongPartCount(4), "a node id with a colon"),
        // Empty parts.
        (":2:n", EmptyPart("wall clock"), "empty wall clock"),
        ("1::n", EmptyPart("counter"), "empty counter"),
        ("1:2:", EmptyNodeId, "empty node id"),
        ("::", EmptyPart("wall clock"), "all parts empty"),
        // Non-digits: signs, spaces, letters, hex, non-ASCII digits.
        ("+1:2:n", NotDigits("wall clock"), "plus sign"),
        ("-1:2:n", NotDigits("wall clock"), "minus sign"),
        (" 1:2:n", NotDigits("wall clock"), "leading space"),
        ("1a:2:n", NotDigits("wall clock"), "letter"),
        ("0x1:2:n", NotDigits("wall clock"), "hex"),
        ("1:+2:n", NotDigits("counter"), "plus sign"),
        ("1:2 :n", NotDigits("counter"), "trailing space"),
        ("1:٣:n", NotDigits("counter"), "Arabic-Indic digit"),
        // Overflow.
        (
            "18446744073709551616:0:n",
            Overflow("wall clock"),
            "u64::MAX + 1",
        ),
        (
            "99999999999999999999999:0:n",
            Overflow("wall clock"),
            "far past u64",
        ),
        ("1:4294967296:n", Overflow("counter"), "u32::MAX + 1"),
    ];
    for (text, error, why) in cases {
        assert_eq!(text.parse::<Hlc>(), Err(error), "{text:?}: {why}");
    }
}

#[test]
fn parse_accepts_the_largest_wall_clock_and_counter() {
    assert_eq!(
        "18446744073709551615:4294967295:n".parse(),
        Ok(hlc(u64::MAX, u32::MAX, "n"))
    );
}

#[test]
fn parse_bytes_rejects_invalid_utf8() {
    assert_eq!(Hlc::parse_bytes(b"1:2:\xff"), Err(HlcParseError::NotUtf8));
}

#[test]
fn node_id_validation() {
    assert_eq!(validate_node_id("store-1"), Ok(()));
    assert_eq!(validate_node_id(""), Err(HlcParseError::EmptyNodeId));
    assert_eq!(validate_node_id("a:b"), Err(HlcParseError::ColonInNodeId));
}

#[test]
#[should_panic(expected = "invalid HLC node id")]
fn clock_refuses_node_id_with_colon() {
    HlcClock::new("a:b");
}

#[test]
#[should_panic(expected = "invalid HLC node id")]
fn clock_refuses_empty_node_id() {
    HlcClock::new("");
}

#[test]
fn versions_order_by_wall_then_counter_ignoring_node() {
    let a = hlc(10, 5, "z");
    let b = hlc(11, 0, "a");
    let c = hlc(10, 6, "a");
    assert_eq!(a.cmp_version(&b), Ordering::Less);
    assert_eq!(a.cmp_version(&c), Ordering::Less);
    assert_eq!(b.cmp_version(&c), Ordering::Greater);
    assert_eq!(a.cmp_version(&hlc(10, 5, "other")), Ordering::Equal);
    assert!(b.is_newer_than(&a));
    assert!(!a.is_newer_than(&hlc(10, 5, "other")));
    assert!(a.is_at_least(&hlc(10, 5, "other")));
    assert!(!a.is_at_least(&c));
    assert_ne!(a, hlc(10, 5, "other"), "equality includes the node id");
}

#[test]
fn too_far_ahead_means_more_than_one_minute() {
    assert!(!is_too_far_ahead(&hlc(160_000, 99, "n"), 100_000));
    assert!(is_too_far_ahead(&hlc(160_001, 0, "n"), 100_000));
    assert!(!is_too_far_ahead(&hlc(0, 0, "n"), 100_000), "past is fine");
    assert!(!is_too_far_ahead(&hlc(u64::MAX, 0, "n"), u64::MAX - 1));
}

#[test]
fn clock_starts_at_zero_with_its_node_id() {
    let clock = HlcClock::new("store");
    assert_eq!(clock.current(), hlc(0, 0, "store"));
    assert_eq!(clock.node_id(), "store");
}

#[test]
fn now_uses_wall_clock_when_it_advances() {
    let mut clock = HlcClock::new("n");
    assert_eq!(clock.now(100), hlc(100, 0, "n"));
    assert_eq!(clock.now(250), hlc(250, 0, "n"));
    assert_eq!(clock.current(), hlc(250, 0, "n"));
}

#[test]
fn now_counts_within_a_millisecond_and_when_wall_goes_back() {
    let mut clock = HlcClock::new("n");
    assert_eq!(clock.now(100), hlc(100, 0, "n"));
    assert_eq!(clock.now(100), hlc(100, 1, "n"));
    assert_eq!(clock.now(40), hlc(100, 2, "n"), "wall clock went back");
    assert_eq!(clock.now(99), hlc(100, 3, "n"));
    assert_eq!(clock.now(101), hlc(101, 0, "n"));
}

#[test]
fn now_at_full_counter_moves_to_next_millisecond() {
    let mut clock = HlcClock::new("n");
    clock.merge(&hlc(100, u32::MAX - 1, "r"), 0);
    assert_eq!(clock.now(100), hlc(100, u32::MAX, "n"));
    assert_eq!(clock.now(100), hlc(101, 0, "n"));
    assert_eq!(clock.now(100), hlc(101, 1, "n"));
}

#[test]
fn current_does_not_tick() {
    let mut clock = HlcClock::new("n");
    let issued = clock.now(5);
    assert_eq!(clock.current(), issued);
    assert_eq!(clock.current(), issued);
    assert!(clock.now(5).is_newer_than(&issued));
}

#[test]
fn merge_makes_next_version_newer_than_remote() {
    let mut clock = HlcClock::new("n");
    clock.now(100);
    let remote = hlc(5_000, 7, "client");
    clock.merge(&remote, 100);
    assert_eq!(clock.current(), hlc(5_000, 7, "n"));
    let next = clock.now(100);
    assert_eq!(next, hlc(5_000, 8, "n"));
    assert!(next.is_newer_than(&remote));
}

#[test]
fn merge_of_older_remote_changes_nothing() {
    let mut clock = HlcClock::new("n");
    let issued = clock.now(100);
    clock.merge(&hlc(50, 9, "client"), 10);
    assert_eq!(clock.current(), issued);
    assert_eq!(clock.now(100), hlc(100, 1, "n"));
}

#[test]
fn merge_does_not_issue_or_skip_versions() {
    let mut clock = HlcClock::new("n");
    clock.now(100);
    clock.merge(&hlc(50, 0, "client"), 300);
    assert_eq!(clock.current(), hlc(100, 0, "n"));
    assert_eq!(clock.now(300), hlc(300, 0, "n"));
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "ms ahead of")]
fn merge_of_a_version_too_far_ahead_is_a_caller_bug() {
    HlcClock::new("n").merge(&hlc(160_001, 0, "r"), 100_000);
}

#[test]
fn clock_is_strictly_monotonic_under_erratic_wall_clock() {
    let mut clock = HlcClock::new("n");
    let mut previous = clock.current();
    let mut wall: u64 = 1_000;
    for step in 0u64..2_000 {
        // Deterministic zig-zag: forward, stall, backwards, jumps.
        wall = match step % 7 {
            0 => wall + 3,
            1 | 2 => wall,
            3 => wall.saturating_sub(50),
            4 => wall + 100,
            5 => wall.saturating_sub(1),
            _ => wall + 1,
        };
        if step % 11 == 0 {
            clock.merge(&hlc(wall + 20, (step % 3) as u32, "r"), wall);
            let merged = clock.current();
            assert!(merged.is_at_least(&previous));
            previous = merged;
        }
        let next = clock.now(wall);
        assert!(next.is_newer_than(&previous), "{next} after {previous}");
        previous = next;
    }
}
