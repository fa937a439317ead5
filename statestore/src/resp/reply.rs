//! Replies: a [`Reply`] as the single RESP3 value the service answers.

use super::ReplyDecodeError;
use super::frame::{Reader, bulk_size, parse_decimal, parse_integer, push_bulk, push_line};
use super::request::verb;
use crate::command::{Command, Reply};
use crate::error::StoreErrorKind;

/// Encodes `reply` as the service sends it: `+OK`, `:-1` for
/// [`Reply::NotApplied`], `$-1` for a missing value, `$N` with the value,
/// `:N` for a count, `-ERR <text>` for an error.
///
/// An error text cannot contain CR or LF (it is one RESP3 line); any that a
/// [`StoreErrorKind::Service`] text holds are sent as spaces, so the frame
/// stays intact.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    match reply {
        Reply::Ok => b"+OK\r\n".to_vec(),
        Reply::NotApplied => b":-1\r\n".to_vec(),
        Reply::Value(None) => b"$-1\r\n".to_vec(),
        Reply::Value(Some(value)) => {
            let mut out = Vec::with_capacity(bulk_size(value.len()));
            push_bulk(&mut out, value);
            out
        }
        Reply::Count(count) => {
            let mut out = Vec::new();
            push_line(&mut out, b':', count.to_string().as_bytes());
            out
        }
        Reply::Error(kind) => {
            let text: Vec<u8> = kind
                .text()
                .bytes()
                .map(|byte| {
                    if byte == b'\r' || byte == b'\n' {
                        b' '
                    } else {
                        byte
                    }
                })
                .collect();
            let mut out = Vec::with_capacity(text.len() + 7);
            out.extend_from_slice(b"-ERR ");
            out.extend_from_slice(&text);
            out.extend_from_slice(b"\r\n");
            out
        }
    }
}

/// Decodes a reply payload on the client side, byte-exactly, without
/// knowing the command it answers.
///
/// `:-1` decodes as `Count(-1)`: only the caller knows whether it answered a
/// SET (not applied) or a VDEL (value mismatch); [`decode_reply_for`] makes
/// that call. `-ERR <text>` decodes with [`StoreErrorKind::from_text`] on
/// exactly the bytes after `-ERR `; an error line without the `ERR ` prefix
/// is kept whole as [`StoreErrorKind::Service`]. Error text that is not
/// UTF-8 is converted lossily (each invalid byte becomes U+FFFD, so such a
/// text may take up to three times its bytes): the service still refused the
/// request, and a client must cope with texts it does not know anyway.
///
/// # Errors
///
/// [`ReplyDecodeError`] for anything but exactly one `+OK`, `-…`, `:N`,
/// `$-1` or `$N` value with canonical numbers.
pub fn decode_reply(payload: &[u8]) -> Result<Reply, ReplyDecodeError> {
    let mut reader = Reader::new(payload);
    let (type_byte, line) = reader.header()?;
    let reply = match type_byte {
        b'+' if line == b"OK" => Reply::Ok,
        b'+' => {
            return Err(ReplyDecodeError::UnexpectedSimpleString(
                String::from_utf8_lossy(line).into_owned(),
            ));
        }
        b'-' => Reply::Error(error_kind(line)),
        b':' => Reply::Count(parse_integer(line)?),
        b'$' if line == b"-1" => Reply::Value(None),
        b'$' => {
            let value = reader.bulk_body(parse_decimal(line)?)?;
            reader.finish()?;
            return Ok(Reply::Value(Some(value.to_vec())));
        }
        other => return Err(ReplyDecodeError::UnexpectedType(other)),
    };
    reader.finish()?;
    Ok(reply)
}

/// Decodes the reply to `command`, checking that its shape answers it.
///
/// `:-1` to a SET becomes [`Reply::NotApplied`]; to a VDEL it stays
/// `Count(-1)` (value mismatch). Accepted shapes, besides `-ERR` for any
/// command: SET `+OK` or `:-1`; GET `$…`; DEL and VDEL `:N`; KEYNOTIFY
/// `+OK` or `:N`. Which counts make sense is left to
/// [`Response`](crate::Response)'s outcome methods.
///
/// # Errors
///
/// What [`decode_reply`] refuses, and [`ReplyDecodeError::WrongShape`] for a
/// well-formed reply of another shape.
pub fn decode_reply_for(command: &Command, payload: &[u8]) -> Result<Reply, ReplyDecodeError> {
    let reply = decode_reply(payload)?;
    match (command, reply) {
        (Command::Set { .. }, Reply::Count(-1)) => Ok(Reply::NotApplied),
        (_, reply @ Reply::Error(_))
        | (Command::Set { .. } | Command::KeyNotify { .. }, reply @ Reply::Ok)
        | (Command::Get { .. }, reply @ Reply::Value(_))
        | (
            Command::Del { .. } | Command::VDel { .. } | Command::KeyNotify { .. },
            reply @ Reply::Count(_),
        ) => Ok(reply),
        (command, reply) => Err(ReplyDecodeError::WrongShape {
            command: verb(command),
            reply,
        }),
    }
}

/// The error in a `-` line: `ERR <text>` by its text, anything else whole
/// (also matched against the known texts, so that `Service` never holds a
/// known one and a decoded error re-encodes to the same kind). Valid UTF-8
/// is copied at most once; invalid bytes become U+FFFD.
fn error_kind(line: &[u8]) -> StoreErrorKind {
    let text = line.strip_prefix(b"ERR ").unwrap_or(line);
    match std::str::from_utf8(text) {
        Ok(text) => StoreErrorKind::from_text(text),
        Err(_) => StoreErrorKind::Service(String::from_utf8_lossy(text).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goldens() -> Vec<(Reply, &'static [u8])> {
        vec![
            (Reply::Ok, b"+OK\r\n"),
            (Reply::Value(None), b"$-1\r\n"),
            (Reply::Value(Some(b"node1".to_vec())), b"$5\r\nnode1\r\n"),
            (Reply::Value(Some(Vec::new())), b"$0\r\n\r\n"),
            (
                Reply::Value(Some(b"a\r\nb\0".to_vec())),
                b"$5\r\na\r\nb\0\r\n",
            ),
            (Reply::Count(1), b":1\r\n"),
            (Reply::Count(0), b":0\r\n"),
            (Reply::Count(-1), b":-1\r\n"),
            (Reply::Count(i64::MIN), b":-9223372036854775808\r\n"),
            (
                Reply::Error(StoreErrorKind::SyntaxError),
                b"-ERR syntax error\r\n",
            ),
            (
                Reply::Error(StoreErrorKind::FencingTokenLowerVersion),
                b"-ERR the request fencing token is a lower version than the fencing token protecting the resource\r\n",
            ),
            (
                Reply::Error(StoreErrorKind::Service("disk on fire".into())),
                b"-ERR disk on fire\r\n",
            ),
        ]
    }

    #[test]
    fn every_reply_shape_has_golden_bytes_both_ways() {
        for (reply, bytes) in goldens() {
            assert_eq!(encode_reply(&reply), bytes, "{reply:?}");
            assert_eq!(decode_reply(bytes), Ok(reply));
        }
    }

    #[test]
    fn not_applied_is_minus_one() {
        assert_eq!(encode_reply(&Reply::NotApplied), b":-1\r\n");
        assert_eq!(decode_reply(b":-1\r\n"), Ok(Reply::Count(-1)));
    }

    #[test]
    fn every_known_error_round_trips() {
        use StoreErrorKind::*;
        for kind in [
            TimestampSkew,
            FencingTokenRequired,
            FencingTokenSkew,
            FencingTokenLowerVersion,
            QuotaExceeded,
            SyntaxError,
            NotAuthorized,
            UnknownCommand,
            WrongNumberOfArguments,
            MissingTimestamp,
            MalformedTimestamp,
            KeyLengthZero,
        ] {
            let reply = Reply::Error(kind);
            assert_eq!(decode_reply(&encode_reply(&reply)), Ok(reply));
        }
    }

    #[test]
    fn error_lines_without_err_prefix_are_read_whole() {
        for (payload, text) in [
            (b"-WRONGTYPE bad\r\n".as_slice(), "WRONGTYPE bad"),
            (b"-ERR\r\n", "ERR"),
            (b"-\r\n", ""),
        ] {
            assert_eq!(
                decode_reply(payload),
                Ok(Reply::Error(StoreErrorKind::Service(text.into())))
            );
        }
        // A known text is known with or without the prefix (fuzzing found
        // that otherwise it would not survive a re-encoding).
        assert_eq!(
            decode_reply(b"-syntax error\r\n"),
            Ok(Reply::Error(StoreErrorKind::SyntaxError))
        );
        assert_eq!(
            decode_reply(b"-ERR \r\n"),
            Ok(Reply::Error(StoreErrorKind::Service(String::new())))
        );
        assert_eq!(
            decode_reply(b"-ERR  syntax error\r\n"),
            Ok(Reply::Error(StoreErrorKind::Service(
                " syntax error".into()
            )))
        );
    }

    #[test]
    fn article_spelling_decodes_to_the_known_kind() {
        assert_eq!(
            decode_reply(b"-ERR the request fencing token is a lower version that the fencing token protecting the resource\r\n"),
            Ok(Reply::Error(StoreErrorKind::FencingTokenLowerVersion))
        );
    }

    #[test]
    fn non_utf8_error_text_is_kept_lossily() {
        assert_eq!(
            decode_reply(b"-ERR bad \xff\r\n"),
            Ok(Reply::Error(StoreErrorKind::Service("bad \u{fffd}".into())))
        );
    }

    #[test]
    fn line_breaks_in_error_texts_become_spaces() {
        let reply = Reply::Error(StoreErrorKind::Service("two\r\nlines\n".into()));
        assert_eq!(encode_reply(&reply), b"-ERR two  lines \r\n");
    }

    #[test]
    fn malformed_replies_are_typed_errors() {
        use ReplyDecodeError::*;
        let cases: [(&[u8], ReplyDecodeError); 20] = [
            (b"", Truncated),
            (b"+OK", Truncated),
            (b"+OK\r", Truncated),
            (b"$5\r\nnode", Truncated),
            (b"$5\r\nnode1\r", Truncated),
            (b"$9223372036854775807\r\nx\r\n", Truncated),
            (b"+OK\r\n\r\n", TrailingBytes(2)),
            (b"$-1\r\nx", TrailingBytes(1)),
            (
                b"$1\r\nab\r\n",
                Malformed("bulk string not followed by CRLF"),
            ),
            (b"$01\r\na\r\n", Malformed("number with a leading zero")),
            (b"$-2\r\n", Malformed("number with a non-digit")),
            (b":+1\r\n", Malformed("number with a non-digit")),
            (b":-0\r\n", Malformed("negative zero")),
            (b": 1\r\n", Malformed("number with a non-digit")),
            (b":\r\n", Malformed("empty number")),
            (b"+OK\n", Malformed("bare CR or LF in a line")),
            (b"+ok\r\n", UnexpectedSimpleString("ok".into())),
            (b"+OK \r\n", UnexpectedSimpleString("OK ".into())),
            (b"_\r\n", UnexpectedType(b'_')),
            (b"*1\r\n$2\r\nOK\r\n", UnexpectedType(b'*')),
        ];
        for (payload, expected) in cases {
            assert_eq!(
                decode_reply(payload),
                Err(expected),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    #[test]
    fn minus_one_means_not_applied_only_for_set() {
        let [set, _, del, vdel, ..] = Command::one_of_each(b"k", b"v");
        assert_eq!(decode_reply_for(&set, b":-1\r\n"), Ok(Reply::NotApplied));
        assert_eq!(decode_reply_for(&vdel, b":-1\r\n"), Ok(Reply::Count(-1)));
        assert_eq!(decode_reply_for(&del, b":-1\r\n"), Ok(Reply::Count(-1)));
    }

    #[test]
    fn reply_shapes_are_checked_against_the_command() {
        let payloads: [&[u8]; 6] = [
            b"+OK\r\n",
            b":-1\r\n",
            b":1\r\n",
            b"$-1\r\n",
            b"$1\r\nv\r\n",
            b"-ERR syntax error\r\n",
        ];
        // Per command (rows as in `Command::one_of_each`), whether each payload fits.
        let accepted = [
            [true, true, false, false, false, true],
            [false, false, false, true, true, true],
            [false, true, true, false, false, true],
            [false, true, true, false, false, true],
            [true, true, true, false, false, true],
            [true, true, true, false, false, true],
        ];
        for (command, row) in Command::one_of_each(b"k", b"v").iter().zip(accepted) {
            for (payload, fits) in payloads.iter().zip(row) {
                let decoded = decode_reply_for(command, payload);
                if fits {
                    assert!(decoded.is_ok(), "{command:?} {decoded:?}");
                } else {
                    assert_eq!(
                        decoded,
                        Err(ReplyDecodeError::WrongShape {
                            command: verb(command),
                            reply: decode_reply(payload).unwrap(),
                        })
                    );
                }
            }
        }
    }

    #[test]
    fn decode_reply_for_passes_decode_errors_through() {
        let [set, ..] = Command::one_of_each(b"k", b"v");
        assert_eq!(
            decode_reply_for(&set, b"+OK\r\nx"),
            Err(ReplyDecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn errors_display_what_went_wrong() {
        let error = ReplyDecodeError::WrongShape {
            command: "GET",
            reply: Reply::Ok,
        };
        assert_eq!(error.to_string(), "reply Ok does not answer GET");
        assert_eq!(
            ReplyDecodeError::UnexpectedType(b'*').to_string(),
            "unexpected RESP3 type byte 0x2a"
        );
    }
}
