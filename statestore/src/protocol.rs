//! The state store's MQTT-level contract: topics, user properties and their
//! values, and the timing of requests (message expiry, how long a request
//! may still land), as constants and pure functions.
//!
//! The MQTT client and the MQTT state-store service must agree with each
//! other and with Microsoft's SDKs on every topic and property name (see
//! `docs/state-store-protocol.md`); spelling them once here keeps
//! them from drifting. Nothing here touches a socket.
//!
//! Topic levels that carry arbitrary bytes (the client id and the key in a
//! notification topic) are upper-case hex, so `/`, `+`, `#` or non-UTF-8 in
//! them cannot break a topic. The response topic embeds the client id as it
//! is: a client id containing `+` or `#` gives a topic no one can publish
//! to ([`is_forbidden_response_topic`] says so).

use std::time::Duration;

/// The topic every request is published to (QoS 1).
pub const REQUEST_TOPIC: &str = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke";

/// Root of the notification topics; a response topic under it is refused
/// (the real broker disconnects such a client).
const NOTIFICATION_ROOT: &str = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";

/// After `clients/{clientId}` in the response topic Microsoft's Rust SDK
/// subscribes to.
const SDK_RESPONSE_SUFFIX: &str =
    "/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response";

/// After `clients/{clientId}` in the response topic Microsoft's
/// documentation recommends.
const DOCUMENTED_RESPONSE_SUFFIX: &str = "/services/statestore/_any_/command/invoke/response";

/// Between the hex client id and the hex key in a notification topic.
const NOTIFY_LEVELS: &str = "/command/notify/";

/// Longest topic MQTT can carry (a UTF-8 string with a 16-bit length).
const MAX_TOPIC_BYTES: usize = 65_535;

/// User property `__ts`: the sender's HLC on a request, the key's version on
/// a response or notification.
pub const TIMESTAMP: &str = "__ts";
/// User property `__ft`: the fencing token guarding a SET, DEL or VDEL.
pub const FENCING_TOKEN: &str = "__ft";
/// User property `__stat`: on every response and notification, always
/// [`STATUS_OK`]; clients treat its absence as a protocol failure.
pub const STATUS: &str = "__stat";
/// User property `__protVer`: the protocol version, [`PROTOCOL_VERSION_VALUE`].
pub const PROTOCOL_VERSION: &str = "__protVer";
/// User property `__srcId`: the requester's MQTT client id, which a service
/// behind a plain broker cannot otherwise see (it addresses notifications).
pub const SOURCE_ID: &str = "__srcId";
/// User property `$partition`: a routing hint (the client id) the SDKs send;
/// the service accepts and ignores it.
pub const PARTITION: &str = "$partition";

/// The protocol version spoken, in the `major.minor` form clients insist
/// on (a bare `1` is refused).
pub const PROTOCOL_VERSION_VALUE: &str = "1.0";
/// The only `__stat` value: errors travel in the payload as `-ERR`, and any
/// other status is a transport error to the clients.
pub const STATUS_OK: &str = "200";
/// The content type of every payload (or none at all).
pub const CONTENT_TYPE: &str = "application/octet-stream";

/// The response topic a client subscribes to and names in its requests, in
/// the form Microsoft's Rust SDK uses:
/// `clients/{clientId}/services/statestore/v1/FA9AE35F-…/command/invoke/response`.
///
/// `client_id` goes in verbatim (see the module docs about `+` and `#`).
pub fn response_topic(client_id: &str) -> String {
    format!("clients/{client_id}{SDK_RESPONSE_SUFFIX}")
}

/// The client id inside a response topic of either known form (the Rust
/// SDK's, or the documented `clients/{clientId}/services/statestore/_any_/command/invoke/response`),
/// so the service can address notifications when a request lacks
/// `__srcId`.
///
/// The id is everything between `clients/` and the suffix, `/` included,
/// so it inverts [`response_topic`]. `None` for other topics, an empty id,
/// or a topic [`is_forbidden_response_topic`] refuses.
pub fn client_id_from_response_topic(topic: &str) -> Option<String> {
    if is_forbidden_response_topic(topic) {
        return None;
    }
    let rest = topic.strip_prefix("clients/")?;
    let client_id = rest
        .strip_suffix(SDK_RESPONSE_SUFFIX)
        .or_else(|| rest.strip_suffix(DOCUMENTED_RESPONSE_SUFFIX))?;
    (!client_id.is_empty()).then(|| client_id.to_owned())
}

/// True when a request's response topic must be refused: one the real
/// broker disconnects a client for (the request topic, or anything starting
/// with the notification root `clients/statestore/v1/FA9AE35F-…`), or one
/// nothing can be published to (empty, with a `+` or `#` wildcard or a NUL,
/// or longer than MQTT allows).
pub fn is_forbidden_response_topic(topic: &str) -> bool {
    topic.is_empty()
        || topic.len() > MAX_TOPIC_BYTES
        || topic.contains(['+', '#', '\0'])
        || topic == REQUEST_TOPIC
        || topic.starts_with(NOTIFICATION_ROOT)
}

/// The topic the service publishes `client_id`'s notifications about `key`
/// on: `clients/statestore/v1/FA9AE35F-…/{HEX(clientId)}/command/notify/{HEX(key)}`,
/// with upper-case hex of the UTF-8 bytes of the client id and of the key.
pub fn notification_topic(client_id: &str, key: &[u8]) -> String {
    format!(
        "{}{}",
        notification_filter_prefix(client_id),
        hex_upper(key)
    )
}

/// The filter matching every notification topic of `client_id` (the key
/// level is `+`), so a client needs one subscription for all its watches.
pub fn notification_filter(client_id: &str) -> String {
    format!("{}+", notification_filter_prefix(client_id))
}

/// Everything of a notification topic before the key's hex.
fn notification_filter_prefix(client_id: &str) -> String {
    format!(
        "{NOTIFICATION_ROOT}/{}{NOTIFY_LEVELS}",
        hex_upper(client_id.as_bytes())
    )
}

/// The client id and key a notification topic is about: the inverse of
/// [`notification_topic`], for a client that subscribed with
/// [`notification_filter`].
///
/// Hex digits may be upper or lower case (or mixed). `None` for another
/// topic, hex of odd length or with other characters, a client id that is
/// not UTF-8, or an empty client id or key (no registration can have one:
/// the store refuses empty keys).
pub fn parse_notification_topic(topic: &str) -> Option<(String, Vec<u8>)> {
    let rest = topic.strip_prefix(NOTIFICATION_ROOT)?.strip_prefix('/')?;
    let (client_hex, rest) = rest.split_once('/')?;
    let key_hex = rest.strip_prefix(&NOTIFY_LEVELS[1..])?;
    let client_id = String::from_utf8(decode_hex(client_hex)?).ok()?;
    let key = decode_hex(key_hex)?;
    (!client_id.is_empty() && !key.is_empty()).then_some((client_id, key))
}

/// Upper-case hex of `bytes`, two digits per byte, as the notification
/// topics spell client ids and keys.
pub fn hex_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Bytes from hex digits of either case; `None` for odd length or a
/// non-hex character.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digit = |byte: u8| char::from(byte).to_digit(16);
    let hex = hex.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| {
            let (high, low) = (digit(pair[0])?, digit(pair[1])?);
            u8::try_from((high << 4) | low).ok()
        })
        .collect()
}

/// The longest a request spends where nobody counts it against its message
/// expiry: from the moment the client hands it to its MQTT connection, in
/// socket buffers and on the wire to the broker, and from the broker to the
/// store. The stated assumption behind [`request_lifetime`]: a request
/// written to the socket reaches the broker (and the store) within this
/// bound, or never. A broker and the store count the time a request waits
/// in their queues against its expiry themselves.
pub const TRANSIT_BOUND: Duration = Duration::from_secs(1);

/// The rounding of a message expiry: MQTT counts it in whole seconds, so a
/// request's expiry, rounded up from the time left, may outlast its
/// deadline by up to this much.
const EXPIRY_ROUNDING: Duration = Duration::from_secs(1);

/// The MQTT Message Expiry Interval of a request with `left` until its
/// deadline: whole seconds, rounded up, and at least 1 (a request about to
/// time out still gets the shortest expiry MQTT can state, rather than none,
/// which would mean "never expires").
pub fn message_expiry_secs(left: Duration) -> u32 {
    let whole = left
        .as_secs()
        .saturating_add(u64::from(left.subsec_nanos() > 0));
    u32::try_from(whole).unwrap_or(u32::MAX).max(1)
}

/// How long after a request's call began the store may still apply it, for
/// a client that gives up after `timeout` and whose requests take at most
/// `transit` (see [`TRANSIT_BOUND`]) on the way.
///
/// A request whose answer was lost is in doubt until then, so a candidate
/// waits this long before it trusts that an earlier resignation or write
/// can no longer land. The bound holds for a client that (as the host's
/// MQTT client does) hands each request over before its deadline, with a
/// message expiry of [`message_expiry_secs`] of the time left and handed
/// over so that the hand-over plus that expiry ends at most
/// [`EXPIRY_ROUNDING`] (1 s) after the deadline: the broker drops the
/// request once its expiry has passed since receipt, and the store drops
/// one whose expiry passed while it waited in the store's own queue. So:
/// timeout + 1 s + transit. The simulator models the same client, with the
/// same formula.
pub fn request_lifetime(timeout: Duration, transit: Duration) -> Duration {
    timeout
        .saturating_add(EXPIRY_ROUNDING)
        .saturating_add(transit)
}

/// Parses a `__protVer` value of the form `major.minor` (ASCII digits only on
/// both sides), as clients do: `1` or `1.0.0` is not a version.
pub fn parse_protocol_version(value: &str) -> Option<(u32, u32)> {
    let number = |digits: &str| {
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u32>().ok()
    };
    let (major, minor) = value.split_once('.')?;
    Some((number(major)?, number(minor)?))
}

#[cfg(test)]
mod tests;
