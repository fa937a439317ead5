//! Deterministic property tests of the decoders against hostile input:
//! thousands of random payloads and mutated valid ones (truncated,
//! bit-flipped, lengths changed), checking that decoding never panics, fails
//! only with typed errors, re-encodes what it accepts consistently and
//! allocates at most about the payload's size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::*;
use crate::command::{Command, SetCondition};
use crate::error::StoreErrorKind;
use crate::notify::KeyEvent;
use crate::test_rng::XorShift;

/// Counts the bytes each thread asks the allocator for, so a test can
/// measure what one decode call allocates (tests run on separate threads).
struct CountingAllocator;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: the slot may already be gone while the thread exits.
    let _ = ALLOCATED.try_with(|allocated| allocated.set(allocated.get().saturating_add(bytes)));
}

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counting touches only a const-initialised thread-local `Cell`, which
// neither allocates nor can re-enter the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the bytes it allocated.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let result = f();
    (result, ALLOCATED.with(Cell::get) - before)
}

/// What decoding `payload` as a request or notification may allocate:
/// copies of its bytes plus the element list of at most [`MAX_ELEMENTS`]
/// slices.
fn allocation_bound(payload: &[u8]) -> usize {
    payload.len() + MAX_ELEMENTS * std::mem::size_of::<&[u8]>() + 64
}

/// What decoding `payload` as a reply may allocate: a lossy UTF-8 copy of
/// an error text takes up to three bytes per invalid byte.
fn reply_allocation_bound(payload: &[u8]) -> usize {
    3 * payload.len() + 64
}

/// The generator's awkward inputs for the decoders.
impl XorShift {
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.index(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Mostly RESP-ish bytes, so random payloads get past the first byte.
    fn resp_bytes(&mut self, max_len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"*$+-:_\r\n0123456789-SETGETDELVDELNXEXPKEYNOTIFYSTOPVALUE\0";
        let len = self.index(max_len + 1);
        (0..len).map(|_| *self.pick(ALPHABET)).collect()
    }

    /// Keys and values with the awkward bytes: CRLF, NUL, RESP syntax.
    fn blob(&mut self) -> Vec<u8> {
        match self.below(4) {
            0 => Vec::new(),
            1 => b"lock".to_vec(),
            2 => b"\r\n$3\r\n\0".to_vec(),
            _ => self.bytes(12),
        }
    }
}

fn random_command(rng: &mut XorShift) -> Command {
    let key = rng.blob();
    match rng.below(5) {
        0 => Command::Set {
            key,
            value: rng.blob(),
            condition: *rng.pick(&[
                SetCondition::Unconditional,
                SetCondition::OnlyIfAbsent,
                SetCondition::OnlyIfAbsentOrEqual,
            ]),
            expiry_ms: (!rng.chance(3)).then(|| (rng.next() >> rng.below(64)).max(1)),
        },
        1 => Command::Get { key },
        2 => Command::Del { key },
        3 => Command::VDel {
            key,
            value: rng.blob(),
        },
        _ => Command::KeyNotify {
            key,
            stop: rng.chance(2),
        },
    }
}

fn random_reply(rng: &mut XorShift) -> Reply {
    match rng.below(6) {
        0 => Reply::Ok,
        1 => Reply::NotApplied,
        2 => Reply::Value(None),
        3 => Reply::Value(Some(rng.blob())),
        4 => Reply::Count([-1, 0, 1, rng.next() as i64][rng.index(4)]),
        _ => Reply::Error(
            rng.pick(&[
                StoreErrorKind::SyntaxError,
                StoreErrorKind::FencingTokenLowerVersion,
                StoreErrorKind::Service("boom".into()),
            ])
            .clone(),
        ),
    }
}

fn random_event(rng: &mut XorShift) -> KeyEvent {
    if rng.chance(2) {
        KeyEvent::Delete
    } else {
        KeyEvent::Set(rng.blob())
    }
}

/// One to three damages to a valid payload.
fn mutate(rng: &mut XorShift, mut payload: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(3) {
        let len = payload.len();
        let at = rng.index(len + 1);
        match rng.below(7) {
            0 => payload.truncate(at),
            1 if at < len => payload[at] ^= 1 << rng.below(8),
            2 if at < len => payload[at] = rng.next() as u8,
            3 => payload.insert(at, rng.next() as u8),
            4 if at < len => {
                payload.remove(at);
            }
            5 => change_a_length(rng, &mut payload),
            _ => payload.extend(rng.resp_bytes(8)),
        }
    }
    payload
}

/// Rewrites the number after a random `*` or `$` (or `:`) to another one:
/// off by one, zero, huge or negative.
fn change_a_length(rng: &mut XorShift, payload: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..payload.len())
        .filter(|&i| matches!(payload[i], b'*' | b'$' | b':'))
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = rng.pick(&starts) + 1;
    let end = (start..payload.len())
        .find(|&i| !payload[i].is_ascii_digit() && payload[i] != b'-')
        .unwrap_or(payload.len());
    let old: u64 = std::str::from_utf8(&payload[start..end])
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let new = match rng.below(6) {
        0 => old.wrapping_add(1).to_string(),
        1 => old.saturating_sub(1).to_string(),
        2 => "0".to_owned(),
        3 => u64::MAX.to_string(),
        4 => "-1".to_owned(),
        _ => format!("0{old}"),
    };
    payload.splice(start..end, new.into_bytes()).for_each(drop);
}

/// A payload for one round: random bytes, or a valid request, reply or
/// notification, damaged or not.
fn payload(rng: &mut XorShift) -> Vec<u8> {
    let valid = match rng.below(5) {
        0 => return rng.bytes(40),
        1 => return rng.resp_bytes(40),
        2 => encode_request(&random_command(rng)),
        3 => encode_reply(&random_reply(rng)),
        _ => encode_notification(&random_event(rng)),
    };
    if rng.chance(4) {
        valid
    } else {
        mutate(rng, valid)
    }
}

/// Successes per decoder, to check the generator reaches past the framing.
#[derive(Default)]
struct Tally {
    requests: usize,
    replies: usize,
    notifications: usize,
}

fn check(rng: &mut XorShift, payload: &[u8], tally: &mut Tally) {
    let bound = allocation_bound(payload);

    let (request, allocated) = allocated_by(|| decode_request(payload));
    assert!(allocated <= bound, "{allocated} bytes for {payload:?}");
    match request {
        Ok(command) => {
            tally.requests += 1;
            assert_eq!(decode_request(&encode_request(&command)), Ok(command));
        }
        Err(kind) => assert!(
            matches!(
                kind,
                StoreErrorKind::SyntaxError
                    | StoreErrorKind::UnknownCommand
                    | StoreErrorKind::WrongNumberOfArguments
            ),
            "{kind:?} for {payload:?}"
        ),
    }

    let (reply, allocated) = allocated_by(|| decode_reply(payload));
    let reply_bound = reply_allocation_bound(payload);
    assert!(
        allocated <= reply_bound,
        "{allocated} bytes for {payload:?}"
    );
    match reply {
        Ok(reply) => {
            tally.replies += 1;
            let again = encode_reply(&reply);
            // Errors re-encode as `-ERR <text>`: a bare `-` line gains the
            // prefix (its text may then be a known one), the article's
            // spelling becomes the SDKs'.
            let expected = match reply {
                Reply::Error(kind) => Reply::Error(StoreErrorKind::from_text(kind.text())),
                other => {
                    assert_eq!(again, payload, "replies other than errors are canonical");
                    other
                }
            };
            assert_eq!(decode_reply(&again), Ok(expected));
        }
        Err(error) => {
            assert!(
                !matches!(
                    error,
                    ReplyDecodeError::WrongShape { .. } | ReplyDecodeError::NotANotification(_)
                ),
                "{error:?}"
            );
            assert!(!error.to_string().is_empty());
        }
    }

    let command = random_command(rng);
    match decode_reply_for(&command, payload) {
        Ok(Reply::NotApplied) => assert!(matches!(command, Command::Set { .. })),
        Ok(reply) => assert_eq!(decode_reply(payload), Ok(reply)),
        Err(error) => assert!(!matches!(error, ReplyDecodeError::NotANotification(_))),
    }

    let (event, allocated) = allocated_by(|| decode_notification(payload));
    assert!(allocated <= bound, "{allocated} bytes for {payload:?}");
    match event {
        Ok(event) => {
            tally.notifications += 1;
            assert_eq!(
                encode_notification(&event),
                payload,
                "notifications are canonical"
            );
        }
        Err(error) => assert!(
            !matches!(
                error,
                ReplyDecodeError::WrongShape { .. } | ReplyDecodeError::UnexpectedSimpleString(_)
            ),
            "{error:?}"
        ),
    }
}

#[test]
fn the_allocation_counter_counts() {
    let (buffer, allocated) = allocated_by(|| vec![0u8; 1_000]);
    assert_eq!(buffer.len(), 1_000);
    assert!(allocated >= 1_000);
    let ((), allocated) = allocated_by(|| ());
    assert_eq!(allocated, 0);
}

#[test]
fn random_and_mutated_payloads_decode_to_values_or_typed_errors() {
    let mut rng = XorShift(0x5eed_cafe_f00d_d00d);
    let mut tally = Tally::default();
    for _ in 0..20_000 {
        let payload = payload(&mut rng);
        check(&mut rng, &payload, &mut tally);
    }
    // The generator must exercise the value paths, not only the refusals.
    assert!(tally.requests > 800, "{} requests", tally.requests);
    assert!(tally.replies > 1_000, "{} replies", tally.replies);
    assert!(
        tally.notifications > 500,
        "{} notifications",
        tally.notifications
    );
}

#[test]
fn every_valid_command_round_trips() {
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for _ in 0..5_000 {
        let command = random_command(&mut rng);
        assert_eq!(decode_request(&encode_request(&command)), Ok(command));
    }
}

#[test]
fn hostile_headers_allocate_nothing_large() {
    let payloads: [&[u8]; 6] = [
        b"*16\r\n",
        b"*16\r\n$4294967295\r\n",
        b"*1\r\n$18446744073709551615\r\nx\r\n",
        b"$9223372036854775807\r\n",
        b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$1000000000\r\n",
        b"*9999999999\r\n",
    ];
    let mut rng = XorShift(1);
    for payload in payloads {
        check(&mut rng, payload, &mut Tally::default());
        let (_, allocated) = allocated_by(|| {
            (
                decode_request(payload),
                decode_reply(payload),
                decode_notification(payload),
            )
        });
        let bound = 2 * allocation_bound(payload) + reply_allocation_bound(payload);
        assert!(allocated <= bound, "{allocated}");
    }
}
