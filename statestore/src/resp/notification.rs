//! KEYNOTIFY notifications: a [`KeyEvent`] as the array the service
//! publishes on a watcher's notification topic.

use super::ReplyDecodeError;
use super::frame::{bulk_size, push_bulk, read_bulk_array};
use crate::notify::KeyEvent;

/// Encodes `event` exactly as the service publishes it:
/// `*2 NOTIFY DELETE` for a delete or expiry, `*4 NOTIFY SET VALUE <value>`
/// for a write (the `VALUE` part is always there).
pub fn encode_notification(event: &KeyEvent) -> Vec<u8> {
    match event {
        KeyEvent::Delete => b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n".to_vec(),
        KeyEvent::Set(value) => {
            const HEAD: &[u8] = b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n";
            let mut out = Vec::with_capacity(HEAD.len() + bulk_size(value.len()));
            out.extend_from_slice(HEAD);
            push_bulk(&mut out, value);
            out
        }
    }
}

/// Decodes a notification payload on the client side.
///
/// Strict: the words must be exactly `NOTIFY`, `DELETE`, `SET` and `VALUE`
/// in upper case, as the service sends them, and a SET must carry its
/// `VALUE`. (Requests are matched case-insensitively because the service
/// should accept what a hand-written client sends; a client reading the
/// service's own output has no such reason.)
///
/// # Errors
///
/// The framing errors of [`ReplyDecodeError`] for anything but one array of
/// bulk strings, and [`ReplyDecodeError::NotANotification`] for any other
/// array.
pub fn decode_notification(payload: &[u8]) -> Result<KeyEvent, ReplyDecodeError> {
    let elements = read_bulk_array(payload)?;
    let not = ReplyDecodeError::NotANotification;
    let Some((&b"NOTIFY", event)) = elements.split_first() else {
        return Err(not("does not start with NOTIFY"));
    };
    match event {
        [b"DELETE"] => Ok(KeyEvent::Delete),
        [b"SET", b"VALUE", value] => Ok(KeyEvent::Set(value.to_vec())),
        [b"DELETE", ..] => Err(not("DELETE with arguments")),
        [b"SET", ..] => Err(not("SET without exactly VALUE <value>")),
        _ => Err(not("neither SET nor DELETE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_have_golden_bytes_both_ways() {
        let cases: [(KeyEvent, &[u8]); 4] = [
            (KeyEvent::Delete, b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"),
            (
                KeyEvent::Set(b"node1".to_vec()),
                b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$5\r\nnode1\r\n",
            ),
            (
                KeyEvent::Set(Vec::new()),
                b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$0\r\n\r\n",
            ),
            (
                KeyEvent::Set(b"\r\n\0".to_vec()),
                b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\n\r\n\0\r\n",
            ),
        ];
        for (event, bytes) in cases {
            assert_eq!(encode_notification(&event), bytes, "{event:?}");
            assert_eq!(decode_notification(bytes), Ok(event));
        }
    }

    #[test]
    fn other_arrays_are_not_notifications() {
        let cases: [&[u8]; 9] = [
            b"*0\r\n",
            b"*1\r\n$6\r\nNOTIFY\r\n",
            b"*2\r\n$6\r\nnotify\r\n$6\r\nDELETE\r\n",
            b"*2\r\n$6\r\nNOTIFY\r\n$6\r\ndelete\r\n",
            b"*3\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n$1\r\nx\r\n",
            b"*2\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n",
            b"*3\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$1\r\nv\r\n",
            b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUX\r\n$1\r\nv\r\n",
            b"*2\r\n$6\r\nNOTIFY\r\n$3\r\nDEL\r\n",
        ];
        for payload in cases {
            assert!(
                matches!(
                    decode_notification(payload),
                    Err(ReplyDecodeError::NotANotification(_))
                ),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    #[test]
    fn malformed_notifications_are_framing_errors() {
        use ReplyDecodeError::*;
        let cases: [(&[u8], ReplyDecodeError); 5] = [
            (b"", Truncated),
            (b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE", Truncated),
            (b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n+", TrailingBytes(1)),
            (b"+OK\r\n", UnexpectedType(b'+')),
            (
                b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$-1\r\n",
                Malformed("null bulk string in an array"),
            ),
        ];
        for (payload, expected) in cases {
            assert_eq!(decode_notification(payload), Err(expected));
        }
    }
}
