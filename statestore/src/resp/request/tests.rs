use super::*;
use crate::command::{Reply, Request};
use crate::hlc::Hlc;
use crate::limits::Limits;
use crate::machine::StateStore;

fn set(condition: SetCondition, expiry_ms: Option<u64>) -> Command {
    Command::Set {
        key: b"lock".to_vec(),
        value: b"node1".to_vec(),
        condition,
        expiry_ms,
    }
}

/// Every command shape with its exact encoding.
fn goldens() -> Vec<(Command, &'static [u8])> {
    vec![
        (
            set(SetCondition::Unconditional, None),
            b"*3\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n",
        ),
        (
            set(SetCondition::OnlyIfAbsent, None),
            b"*4\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$2\r\nNX\r\n",
        ),
        (
            set(SetCondition::OnlyIfAbsentOrEqual, None),
            b"*4\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$3\r\nNEX\r\n",
        ),
        (
            set(SetCondition::Unconditional, Some(10_000)),
            b"*5\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$2\r\nPX\r\n$5\r\n10000\r\n",
        ),
        (
            set(SetCondition::OnlyIfAbsent, Some(1)),
            b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$2\r\nNX\r\n$2\r\nPX\r\n$1\r\n1\r\n",
        ),
        (
            set(SetCondition::OnlyIfAbsentOrEqual, Some(u64::MAX)),
            b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$20\r\n18446744073709551615\r\n",
        ),
        (
            Command::Get {
                key: b"lock".to_vec(),
            },
            b"*2\r\n$3\r\nGET\r\n$4\r\nlock\r\n",
        ),
        (
            Command::Del {
                key: b"lock".to_vec(),
            },
            b"*2\r\n$3\r\nDEL\r\n$4\r\nlock\r\n",
        ),
        (
            Command::VDel {
                key: b"lock".to_vec(),
                value: b"node1".to_vec(),
            },
            b"*3\r\n$4\r\nVDEL\r\n$4\r\nlock\r\n$5\r\nnode1\r\n",
        ),
        (
            Command::KeyNotify {
                key: b"lock".to_vec(),
                stop: false,
            },
            b"*2\r\n$9\r\nKEYNOTIFY\r\n$4\r\nlock\r\n",
        ),
        (
            Command::KeyNotify {
                key: b"lock".to_vec(),
                stop: true,
            },
            b"*3\r\n$9\r\nKEYNOTIFY\r\n$4\r\nlock\r\n$4\r\nSTOP\r\n",
        ),
    ]
}

#[test]
fn every_command_shape_encodes_to_its_golden_bytes() {
    for (command, bytes) in goldens() {
        assert_eq!(
            encode_request(&command),
            bytes,
            "{command:?} as {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn every_command_shape_decodes_from_its_golden_bytes() {
    for (command, bytes) in goldens() {
        assert_eq!(decode_request(bytes), Ok(command));
    }
}

#[test]
fn binary_keys_and_values_round_trip() {
    let awkward: [&[u8]; 5] = [
        b"\r\n",
        b"\0",
        b"a\r\nb\0c",
        b"*1\r\n$3\r\n",
        &[0xff, 0xfe, 0],
    ];
    for key in awkward {
        for value in awkward {
            for command in Command::one_of_each(key, value) {
                assert_eq!(decode_request(&encode_request(&command)), Ok(command));
            }
        }
    }
}

#[test]
fn verbs_and_options_match_case_insensitively() {
    assert_eq!(
        decode_request(
            b"*6\r\n$3\r\nsEt\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$3\r\nnex\r\n$2\r\npx\r\n$1\r\n1\r\n"
        ),
        Ok(set(SetCondition::OnlyIfAbsentOrEqual, Some(1)))
    );
    assert_eq!(
        decode_request(b"*3\r\n$9\r\nkeyNotify\r\n$4\r\nlock\r\n$4\r\nstop\r\n"),
        Ok(Command::KeyNotify {
            key: b"lock".to_vec(),
            stop: true
        })
    );
    assert_eq!(
        decode_request(b"*2\r\n$3\r\nget\r\n$4\r\nlock\r\n"),
        Ok(Command::Get {
            key: b"lock".to_vec()
        })
    );
}

#[test]
fn set_options_come_in_any_order() {
    let expected = Ok(set(SetCondition::OnlyIfAbsentOrEqual, Some(10)));
    assert_eq!(
        decode_request(b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$2\r\nPX\r\n$2\r\n10\r\n$3\r\nNEX\r\n"),
        expected
    );
    assert_eq!(
        decode_request(b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$2\r\n10\r\n"),
        expected
    );
}

/// A SET payload with `options` after `SET lock node1`.
fn set_with_options(options: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    push_array_header(&mut out, 3 + options.len());
    for part in [b"SET".as_slice(), b"lock", b"node1"].iter().chain(options) {
        push_bulk(&mut out, part);
    }
    out
}

#[test]
fn bad_set_options_are_syntax_errors() {
    let cases: [&[&[u8]]; 14] = [
        &[b"NX", b"NEX"],
        &[b"NEX", b"NX"],
        &[b"NX", b"NX"],
        &[b"PX"],
        &[b"PX", b"10", b"PX", b"10"],
        &[b"PX", b"0"],
        &[b"PX", b"-1"],
        &[b"PX", b"+1"],
        &[b"PX", b" 1"],
        &[b"PX", b""],
        &[b"PX", b"18446744073709551616"],
        &[b"PX", b"1.5"],
        &[b"EX", b"10"],
        &[b"NX", b"PX", b"10", b"extra"],
    ];
    for options in cases {
        assert_eq!(
            decode_request(&set_with_options(options)),
            Err(StoreErrorKind::SyntaxError),
            "{options:?}"
        );
    }
}

#[test]
fn px_accepts_any_positive_decimal() {
    assert_eq!(
        decode_request(&set_with_options(&[b"PX", b"007"])),
        Ok(set(SetCondition::Unconditional, Some(7)))
    );
    assert_eq!(
        decode_request(&set_with_options(&[b"PX", b"18446744073709551615"])),
        Ok(set(SetCondition::Unconditional, Some(u64::MAX)))
    );
}

#[test]
fn px_zero_is_encoded_but_refused() {
    let bytes = encode_request(&set(SetCondition::Unconditional, Some(0)));
    assert!(bytes.ends_with(b"$2\r\nPX\r\n$1\r\n0\r\n"));
    assert_eq!(decode_request(&bytes), Err(StoreErrorKind::SyntaxError));
}

#[test]
fn keynotify_option_must_be_stop() {
    for option in [b"STOPP".as_slice(), b"STO", b"", b"NX"] {
        let mut payload = Vec::new();
        push_array_header(&mut payload, 3);
        for part in [b"KEYNOTIFY".as_slice(), b"lock", option] {
            push_bulk(&mut payload, part);
        }
        assert_eq!(
            decode_request(&payload),
            Err(StoreErrorKind::SyntaxError),
            "{option:?}"
        );
    }
}

#[test]
fn wrong_arity_is_reported() {
    let cases: [&[&[u8]]; 9] = [
        &[b"SET"],
        &[b"SET", b"k"],
        &[b"GET"],
        &[b"GET", b"k", b"v"],
        &[b"DEL"],
        &[b"DEL", b"k", b"v"],
        &[b"VDEL", b"k"],
        &[b"VDEL", b"k", b"v", b"w"],
        &[b"KEYNOTIFY", b"k", b"STOP", b"STOP"],
    ];
    for parts in cases {
        let mut payload = Vec::new();
        push_array_header(&mut payload, parts.len());
        for part in parts {
            push_bulk(&mut payload, part);
        }
        assert_eq!(
            decode_request(&payload),
            Err(StoreErrorKind::WrongNumberOfArguments),
            "{parts:?}"
        );
    }
    assert_eq!(
        decode_request(b"*1\r\n$9\r\nKEYNOTIFY\r\n"),
        Err(StoreErrorKind::WrongNumberOfArguments)
    );
}

#[test]
fn unknown_verbs_are_unknown_commands() {
    for payload in [
        b"*2\r\n$4\r\nPING\r\n$1\r\nk\r\n".as_slice(),
        b"*1\r\n$0\r\n\r\n",
        b"*2\r\n$4\r\nSET \r\n$1\r\nk\r\n",
        b"*2\r\n$3\r\nGE\0\r\n$1\r\nk\r\n",
    ] {
        assert_eq!(decode_request(payload), Err(StoreErrorKind::UnknownCommand));
    }
}

#[test]
fn malformed_payloads_are_syntax_errors() {
    for payload in [
        b"".as_slice(),
        b"*0\r\n",
        b"*-1\r\n",
        b"GET lock\r\n",
        b"+OK\r\n",
        b"*2\r\n$3\r\nGET\r\n$4\r\nlock\r\n\r\n",
        b"*2\r\n$3\r\nGET\r\n$4\r\nlock",
        b"*2\r\n$3\r\nGET\r\n$5\r\nlock\r\n",
        b"*2\r\n$3\r\nGET\r\n$3\r\nlock\r\n",
        b"*2\r\n$3\r\nGET\r\n$04\r\nlock\r\n",
        b"*2\r\n$3\r\nGET\r\n$-1\r\n",
        b"*2\r\n$3\r\nGET\r\n:4\r\n",
        b"*2\n$3\nGET\n$4\nlock\n",
        b"*3\r\n$3\r\nGET\r\n$4\r\nlock\r\n",
        b"*17\r\n$3\r\nGET\r\n",
        b"*2\r\n$3\r\nGET\r\n$18446744073709551615\r\nlock\r\n",
        b"*2\r\n$3\r\nGET\r\n$184467440737095516150\r\nlock\r\n",
    ] {
        assert_eq!(
            decode_request(payload),
            Err(StoreErrorKind::SyntaxError),
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn empty_keys_are_left_to_the_state_store() {
    let payload = b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n";
    let command = decode_request(payload).unwrap();
    assert_eq!(command, Command::Get { key: Vec::new() });
    let mut store = StateStore::new("store", Limits::default());
    let (response, _) = store.handle(
        1_700_000_000_000,
        Request::new("client", command).with_timestamp(Hlc::new(1, 0, "client")),
    );
    assert_eq!(response.reply, Reply::Error(StoreErrorKind::KeyLengthZero));
}

#[test]
fn verbs_name_their_commands() {
    let names: Vec<&str> = goldens().iter().map(|(command, _)| verb(command)).collect();
    assert_eq!(
        names,
        [
            "SET",
            "SET",
            "SET",
            "SET",
            "SET",
            "SET",
            "GET",
            "DEL",
            "VDEL",
            "KEYNOTIFY",
            "KEYNOTIFY"
        ]
    );
}
