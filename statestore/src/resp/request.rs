//! Requests: a [`Command`] as the array of bulk strings clients publish.

use super::frame::{bulk_size, push_array_header, push_bulk, read_bulk_array};
use crate::command::{Command, SetCondition};
use crate::error::StoreErrorKind;

/// The verb of `command` as it goes on the wire, also used to name the
/// command in errors.
pub(super) fn verb(command: &Command) -> &'static str {
    command.verb()
}

/// Encodes `command` as a request payload, in the form Microsoft's SDKs
/// send: upper-case verb and options, then `SET key value [NX|NEX] [PX ms]`,
/// `GET key`, `DEL key`, `VDEL key value` or `KEYNOTIFY key [STOP]`.
///
/// Keys and values are bulk strings, so any bytes (CRLF, NUL) travel
/// unchanged. The command is written as given: an empty key or `PX 0` is
/// encoded, and the service refuses it.
pub fn encode_request(command: &Command) -> Vec<u8> {
    let expiry;
    let mut parts: Vec<&[u8]> = vec![verb(command).as_bytes(), command.key()];
    match command {
        Command::Set {
            value,
            condition,
            expiry_ms,
            ..
        } => {
            parts.push(value);
            match condition {
                SetCondition::Unconditional => {}
                SetCondition::OnlyIfAbsent => parts.push(b"NX"),
                SetCondition::OnlyIfAbsentOrEqual => parts.push(b"NEX"),
            }
            if let Some(ms) = expiry_ms {
                expiry = ms.to_string();
                parts.extend([b"PX".as_slice(), expiry.as_bytes()]);
            }
        }
        Command::VDel { value, .. } => parts.push(value),
        Command::KeyNotify { stop: true, .. } => parts.push(b"STOP"),
        Command::Get { .. } | Command::Del { .. } | Command::KeyNotify { stop: false, .. } => {}
    }
    let size = parts
        .iter()
        .map(|part| bulk_size(part.len()))
        .sum::<usize>()
        + 4;
    let mut out = Vec::with_capacity(size);
    push_array_header(&mut out, parts.len());
    for part in parts {
        push_bulk(&mut out, part);
    }
    out
}

/// Decodes a request payload on the service side, refusing it with the
/// error the service answers.
///
/// Verbs and options (`NX`, `NEX`, `PX`, `STOP`) match case-insensitively,
/// as in Redis, whose protocol the state store borrows: clients send upper
/// case, so accepting `set` costs nothing and refusing it would only break
/// hand-written clients. Options after a SET's value may come in any order.
///
/// An empty key is decoded, not refused: [`StateStore`](crate::StateStore)
/// answers it with `KeyLengthZero`, first of its checks, so the rule lives in
/// one place for every driver.
///
/// # Errors
///
/// - `SyntaxError`: not exactly one well-formed array of bulk strings (see
///   the [module docs](super)), an empty array, or bad SET/KEYNOTIFY
///   options: unknown, repeated, both `NX` and `NEX`, `PX` without a
///   positive decimal `u64` after it.
/// - `UnknownCommand`: the verb is not SET, GET, DEL, VDEL or KEYNOTIFY.
/// - `WrongNumberOfArguments`: SET without a key and value, GET or DEL
///   without exactly a key, VDEL without exactly a key and value, KEYNOTIFY
///   without a key or with more than one option.
pub fn decode_request(payload: &[u8]) -> Result<Command, StoreErrorKind> {
    let elements = read_bulk_array(payload).map_err(|_| StoreErrorKind::SyntaxError)?;
    let (verb, args) = elements.split_first().ok_or(StoreErrorKind::SyntaxError)?;
    let is = |name: &str| verb.eq_ignore_ascii_case(name.as_bytes());
    if is("SET") {
        decode_set(args)
    } else if is("GET") {
        let [key] = args else {
            return Err(StoreErrorKind::WrongNumberOfArguments);
        };
        Ok(Command::Get { key: key.to_vec() })
    } else if is("DEL") {
        let [key] = args else {
            return Err(StoreErrorKind::WrongNumberOfArguments);
        };
        Ok(Command::Del { key: key.to_vec() })
    } else if is("VDEL") {
        let [key, value] = args else {
            return Err(StoreErrorKind::WrongNumberOfArguments);
        };
        Ok(Command::VDel {
            key: key.to_vec(),
            value: value.to_vec(),
        })
    } else if is("KEYNOTIFY") {
        decode_keynotify(args)
    } else {
        Err(StoreErrorKind::UnknownCommand)
    }
}

/// `key value [NX|NEX] [PX ms]`, options in any order, each at most once.
fn decode_set(args: &[&[u8]]) -> Result<Command, StoreErrorKind> {
    let [key, value, options @ ..] = args else {
        return Err(StoreErrorKind::WrongNumberOfArguments);
    };
    let mut condition = None;
    let mut expiry_ms = None;
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let is = |name: &str| option.eq_ignore_ascii_case(name.as_bytes());
        if is("NX") || is("NEX") {
            if condition.is_some() {
                return Err(StoreErrorKind::SyntaxError);
            }
            condition = Some(if is("NX") {
                SetCondition::OnlyIfAbsent
            } else {
                SetCondition::OnlyIfAbsentOrEqual
            });
        } else if is("PX") {
            if expiry_ms.is_some() {
                return Err(StoreErrorKind::SyntaxError);
            }
            let ms = options.next().ok_or(StoreErrorKind::SyntaxError)?;
            expiry_ms = Some(parse_expiry_ms(ms).ok_or(StoreErrorKind::SyntaxError)?);
        } else {
            return Err(StoreErrorKind::SyntaxError);
        }
    }
    Ok(Command::Set {
        key: key.to_vec(),
        value: value.to_vec(),
        condition: condition.unwrap_or_default(),
        expiry_ms,
    })
}

/// `key [STOP]`.
fn decode_keynotify(args: &[&[u8]]) -> Result<Command, StoreErrorKind> {
    let (key, stop) = match args {
        [key] => (key, false),
        [key, option] if option.eq_ignore_ascii_case(b"STOP") => (key, true),
        [_, _] => return Err(StoreErrorKind::SyntaxError),
        _ => return Err(StoreErrorKind::WrongNumberOfArguments),
    };
    Ok(Command::KeyNotify {
        key: key.to_vec(),
        stop,
    })
}

/// A `PX` argument: ASCII digits only (leading zeros allowed, as any decimal
/// parser would), fitting `u64`, and positive: `PX 0` would expire the key
/// as it is written.
fn parse_expiry_ms(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let ms = digits.iter().try_fold(0u64, |acc, &byte| {
        if !byte.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
    })?;
    (ms > 0).then_some(ms)
}

#[cfg(test)]
mod tests;
