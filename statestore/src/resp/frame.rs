//! RESP3 framing: reading lines, numbers and bulk strings from a payload,
//! and writing them. Knows nothing about commands or replies.

use super::{MAX_ELEMENTS, ReplyDecodeError};

/// Bytes of the shortest bulk string, `$0\r\n\r\n`: how many elements an
/// array header may promise is bounded by the bytes that follow it.
const MIN_BULK_BYTES: usize = 6;

/// Why a payload is not well-formed RESP3. Requests map every variant to
/// `syntax error`; replies and notifications to [`ReplyDecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FrameError {
    Truncated,
    Malformed(&'static str),
    UnexpectedType(u8),
    TrailingBytes(usize),
}

impl From<FrameError> for ReplyDecodeError {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Truncated => Self::Truncated,
            FrameError::Malformed(what) => Self::Malformed(what),
            FrameError::UnexpectedType(byte) => Self::UnexpectedType(byte),
            FrameError::TrailingBytes(count) => Self::TrailingBytes(count),
        }
    }
}

/// A cursor over one payload. Every read either consumes a complete item or
/// fails; nothing is copied.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// A type byte and the rest of its line, e.g. `(b'$', b"5")` for
    /// `$5\r\n`.
    pub(super) fn header(&mut self) -> Result<(u8, &'a [u8]), FrameError> {
        let (&type_byte, rest) = self.rest.split_first().ok_or(FrameError::Truncated)?;
        self.rest = rest;
        Ok((type_byte, self.line()?))
    }

    /// The bytes up to the next CRLF, which is consumed. A CR or LF that is
    /// not part of a CRLF is malformed: lines cannot contain them.
    fn line(&mut self) -> Result<&'a [u8], FrameError> {
        let end = self
            .rest
            .iter()
            .position(|&byte| byte == b'\r' || byte == b'\n')
            .ok_or(FrameError::Truncated)?;
        match self.rest[end..] {
            [b'\r', b'\n', ..] => {}
            [b'\r'] => return Err(FrameError::Truncated),
            _ => return Err(FrameError::Malformed("bare CR or LF in a line")),
        }
        let line = &self.rest[..end];
        self.rest = &self.rest[end + 2..];
        Ok(line)
    }

    /// The body of a bulk string of `len` bytes and its CRLF. A length that
    /// exceeds the payload is refused before anything is read.
    pub(super) fn bulk_body(&mut self, len: u64) -> Result<&'a [u8], FrameError> {
        let len = usize::try_from(len).map_err(|_| FrameError::Truncated)?;
        if len > self.rest.len() {
            return Err(FrameError::Truncated);
        }
        let (body, after) = self.rest.split_at(len);
        match after.get(..2) {
            Some(b"\r\n") => {}
            None if b"\r\n".starts_with(after) => return Err(FrameError::Truncated),
            _ => return Err(FrameError::Malformed("bulk string not followed by CRLF")),
        }
        self.rest = &after[2..];
        Ok(body)
    }

    /// Succeeds only if the whole payload was read.
    pub(super) fn finish(self) -> Result<(), FrameError> {
        match self.rest.len() {
            0 => Ok(()),
            extra => Err(FrameError::TrailingBytes(extra)),
        }
    }
}

/// Parses a canonical non-negative decimal: ASCII digits, no sign, no
/// leading zeros (except `0` itself), no overflow of `u64`.
pub(super) fn parse_decimal(digits: &[u8]) -> Result<u64, FrameError> {
    match digits {
        [] => return Err(FrameError::Malformed("empty number")),
        [b'0', _, ..] => return Err(FrameError::Malformed("number with a leading zero")),
        _ => {}
    }
    digits.iter().try_fold(0u64, |acc, &byte| {
        if !byte.is_ascii_digit() {
            return Err(FrameError::Malformed("number with a non-digit"));
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(byte - b'0')))
            .ok_or(FrameError::Malformed("number overflows"))
    })
}

/// Parses a canonical RESP3 integer: an optional `-`, then a canonical
/// decimal; `-0` and values outside `i64` are malformed.
pub(super) fn parse_integer(text: &[u8]) -> Result<i64, FrameError> {
    let overflow = FrameError::Malformed("integer overflows");
    match text.strip_prefix(b"-") {
        Some(magnitude) => match parse_decimal(magnitude)? {
            0 => Err(FrameError::Malformed("negative zero")),
            magnitude => 0i64.checked_sub_unsigned(magnitude).ok_or(overflow),
        },
        None => i64::try_from(parse_decimal(text)?).map_err(|_| overflow),
    }
}

/// Reads a payload that must be exactly one array of (non-null) bulk
/// strings, as requests and notifications are, borrowing the elements.
///
/// The element count is checked against [`MAX_ELEMENTS`] and against the
/// bytes left before the element list is allocated.
pub(super) fn read_bulk_array(payload: &[u8]) -> Result<Vec<&[u8]>, FrameError> {
    let mut reader = Reader::new(payload);
    let count = match reader.header()? {
        (b'*', b"-1") => return Err(FrameError::Malformed("null array")),
        (b'*', count) => parse_decimal(count)?,
        (other, _) => return Err(FrameError::UnexpectedType(other)),
    };
    let count = usize::try_from(count)
        .ok()
        .filter(|&count| count <= MAX_ELEMENTS)
        .ok_or(FrameError::Malformed("array has too many elements"))?;
    if count * MIN_BULK_BYTES > reader.remaining() {
        return Err(FrameError::Truncated);
    }
    let mut elements = Vec::with_capacity(count);
    for _ in 0..count {
        let len = match reader.header()? {
            (b'$', b"-1") => return Err(FrameError::Malformed("null bulk string in an array")),
            (b'$', len) => parse_decimal(len)?,
            (other, _) => return Err(FrameError::UnexpectedType(other)),
        };
        elements.push(reader.bulk_body(len)?);
    }
    reader.finish()?;
    Ok(elements)
}

/// Bytes [`push_bulk`] writes for a body of `len` bytes (an upper bound on
/// the digits), for sizing buffers up front.
pub(super) fn bulk_size(len: usize) -> usize {
    len + 25
}

/// Writes `*{count}\r\n`.
pub(super) fn push_array_header(out: &mut Vec<u8>, count: usize) {
    push_line(out, b'*', count.to_string().as_bytes());
}

/// Writes `${len}\r\n{body}\r\n`.
pub(super) fn push_bulk(out: &mut Vec<u8>, body: &[u8]) {
    push_line(out, b'$', body.len().to_string().as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Writes a type byte, `line` and CRLF; `line` must not contain CR or LF.
pub(super) fn push_line(out: &mut Vec<u8>, type_byte: u8, line: &[u8]) {
    out.push(type_byte);
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reads_a_type_and_a_line() {
        let mut reader = Reader::new(b"$5\r\nhello\r\n");
        assert_eq!(reader.header(), Ok((b'$', b"5".as_slice())));
        assert_eq!(reader.bulk_body(5), Ok(b"hello".as_slice()));
        assert_eq!(reader.finish(), Ok(()));
    }

    #[test]
    fn lines_need_crlf_and_no_bare_cr_or_lf() {
        for (payload, expected) in [
            (b"".as_slice(), FrameError::Truncated),
            (b"+OK", FrameError::Truncated),
            (b"+OK\r", FrameError::Truncated),
            (b"+OK\n", FrameError::Malformed("bare CR or LF in a line")),
            (
                b"+O\rK\r\n",
                FrameError::Malformed("bare CR or LF in a line"),
            ),
            (
                b"+O\nK\r\n",
                FrameError::Malformed("bare CR or LF in a line"),
            ),
        ] {
            assert_eq!(Reader::new(payload).header(), Err(expected), "{payload:?}");
        }
    }

    #[test]
    fn bulk_bodies_are_exact() {
        assert_eq!(Reader::new(b"ab\r\n").bulk_body(2), Ok(b"ab".as_slice()));
        assert_eq!(
            Reader::new(b"ab\r\n").bulk_body(4),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            Reader::new(b"ab\r\n").bulk_body(3),
            Err(FrameError::Malformed("bulk string not followed by CRLF"))
        );
        assert_eq!(Reader::new(b"ab").bulk_body(2), Err(FrameError::Truncated));
        assert_eq!(
            Reader::new(b"ab\r").bulk_body(2),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            Reader::new(b"ab\n\r").bulk_body(2),
            Err(FrameError::Malformed("bulk string not followed by CRLF"))
        );
        assert_eq!(
            Reader::new(b"abc\r\n").bulk_body(2),
            Err(FrameError::Malformed("bulk string not followed by CRLF"))
        );
        assert_eq!(
            Reader::new(b"ab\r\n").bulk_body(u64::MAX),
            Err(FrameError::Truncated)
        );
    }

    #[test]
    fn trailing_bytes_are_counted() {
        let mut reader = Reader::new(b"+OK\r\nxyz");
        reader.header().unwrap();
        assert_eq!(reader.finish(), Err(FrameError::TrailingBytes(3)));
    }

    /// Asserts that `parse` refuses every one of `texts` as malformed.
    fn assert_all_malformed<T: core::fmt::Debug>(
        parse: fn(&[u8]) -> Result<T, FrameError>,
        texts: &[&[u8]],
    ) {
        for text in texts {
            assert!(
                matches!(parse(text), Err(FrameError::Malformed(_))),
                "{text:?}: {:?}",
                parse(text)
            );
        }
    }

    #[test]
    fn decimals_are_canonical() {
        assert_eq!(parse_decimal(b"0"), Ok(0));
        assert_eq!(parse_decimal(b"1234"), Ok(1234));
        assert_eq!(parse_decimal(b"18446744073709551615"), Ok(u64::MAX));
        assert_all_malformed(
            parse_decimal,
            &[
                b"",
                b"00",
                b"01",
                b"+1",
                b"-1",
                b" 1",
                b"1 ",
                b"1a",
                b"18446744073709551616",
                b"99999999999999999999999",
            ],
        );
    }

    #[test]
    fn integers_are_canonical_i64() {
        assert_eq!(parse_integer(b"0"), Ok(0));
        assert_eq!(parse_integer(b"-1"), Ok(-1));
        assert_eq!(parse_integer(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_integer(b"-9223372036854775808"), Ok(i64::MIN));
        assert_all_malformed(
            parse_integer,
            &[
                b"",
                b"-",
                b"-0",
                b"+1",
                b"--1",
                b"-01",
                b"9223372036854775808",
                b"-9223372036854775809",
            ],
        );
    }

    #[test]
    fn bulk_arrays_are_read_whole() {
        assert_eq!(
            read_bulk_array(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n"),
            Ok(vec![b"GET".as_slice(), b""])
        );
        assert_eq!(read_bulk_array(b"*0\r\n"), Ok(vec![]));
        assert_eq!(
            read_bulk_array(b"*1\r\n$1\r\na\r\n "),
            Err(FrameError::TrailingBytes(1))
        );
        assert_eq!(
            read_bulk_array(b"*-1\r\n"),
            Err(FrameError::Malformed("null array"))
        );
        assert_eq!(
            read_bulk_array(b"*1\r\n$-1\r\n\r\n"),
            Err(FrameError::Malformed("null bulk string in an array"))
        );
        assert_eq!(
            read_bulk_array(b"*1\r\n:12345\r\n"),
            Err(FrameError::UnexpectedType(b':'))
        );
        assert_eq!(
            read_bulk_array(b"$1\r\na\r\n"),
            Err(FrameError::UnexpectedType(b'$'))
        );
    }

    #[test]
    fn hostile_array_headers_are_refused_before_allocating() {
        assert_eq!(
            read_bulk_array(b"*17\r\n"),
            Err(FrameError::Malformed("array has too many elements"))
        );
        assert_eq!(
            read_bulk_array(b"*18446744073709551615\r\n"),
            Err(FrameError::Malformed("array has too many elements"))
        );
        assert_eq!(
            read_bulk_array(b"*99999999999999999999999\r\n"),
            Err(FrameError::Malformed("number overflows"))
        );
        // Two elements promised, room for at most one.
        assert_eq!(
            read_bulk_array(b"*2\r\n$1\r\na\r\n"),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            read_bulk_array(b"*1\r\n$4294967296\r\nab\r\n"),
            Err(FrameError::Truncated)
        );
    }

    #[test]
    fn writers_produce_canonical_frames() {
        let mut out = Vec::new();
        push_array_header(&mut out, 2);
        push_bulk(&mut out, b"GET");
        push_bulk(&mut out, b"");
        push_line(&mut out, b'+', b"OK");
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n+OK\r\n");
        assert!(bulk_size(3) >= b"$3\r\nGET\r\n".len());
    }
}
