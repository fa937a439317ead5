//! The bodies of the fuzz targets (`fuzz/`), here so that `cargo test` can
//! run them too: over the regression inputs kept in `fuzz/regressions/` and
//! a short burst of generated ones (`tests/fuzz_smoke.rs`), so every crash
//! ever found stays fixed. Each target panics only on a real defect.

use crate::command::Command;
use crate::hlc::Hlc;
use crate::limits::Limits;
use crate::service::{Incoming, Service};
use crate::{protocol, resp};

/// Decoding any bytes as a request never panics, and a decoded request
/// encodes back to something that decodes to the same command.
pub fn resp_request(data: &[u8]) {
    if let Ok(command) = resp::decode_request(data) {
        let again = resp::decode_request(&resp::encode_request(&command))
            .expect("an encoded request decodes");
        assert_eq!(again, command);
    }
}

/// Replies and notifications: no panic, and what decodes round-trips.
pub fn resp_reply(data: &[u8]) {
    if let Ok(reply) = resp::decode_reply(data) {
        let encoded = resp::encode_reply(&reply);
        assert_eq!(
            resp::decode_reply(&encoded).expect("an encoded reply decodes"),
            reply
        );
    }
    for command in [
        Command::Get { key: b"k".to_vec() },
        Command::Del { key: b"k".to_vec() },
        Command::KeyNotify {
            key: b"k".to_vec(),
            stop: false,
        },
    ] {
        let _ = resp::decode_reply_for(&command, data);
    }
    if let Ok(event) = resp::decode_notification(data) {
        assert_eq!(
            resp::encode_notification(&event),
            data,
            "notifications are exact"
        );
    }
}

/// HLC text: no panic; what parses prints back to a form that parses to
/// the same clock.
pub fn hlc(data: &[u8]) {
    if let Ok(hlc) = Hlc::parse_bytes(data) {
        let again: Hlc = hlc.to_string().parse().expect("a printed HLC parses");
        assert_eq!(again, hlc);
    }
}

/// The service, fed a sequence of requests made from the bytes (payloads,
/// properties, timestamps, fencing tokens, response topics): it never
/// panics, answers every request that has a usable response topic, and
/// every message carries `__stat` 200 and a parseable `__ts`.
pub fn service(data: &[u8]) {
    let mut service = Service::new(
        "fuzz",
        Limits {
            max_keys: 64,
            max_value_bytes: 256,
            ..Limits::default()
        },
    );
    let mut now_ms = 1_800_000_000_000u64;
    for chunk in data.split(|b| *b == 0xFF).take(64) {
        let (control, payload) = chunk.split_first().unwrap_or((&0, &[]));
        now_ms += u64::from(control & 0x0F) * 100;
        let mut properties = vec![("__srcId".to_owned(), format!("c{}", control >> 6))];
        if control & 0x10 != 0 {
            properties.push(("__ts".to_owned(), format!("{now_ms}:0:c")));
        }
        if control & 0x20 != 0 {
            let token = String::from_utf8_lossy(&payload[..payload.len().min(24)]).into_owned();
            properties.push(("__ft".to_owned(), token));
        }
        let response_topic = protocol::response_topic(&format!("c{}", control >> 6));
        let incoming = Incoming {
            response_topic: Some(&response_topic),
            correlation: Some(&chunk[..chunk.len().min(4)]),
            user_properties: &properties,
            payload,
        };
        let outgoing = service
            .handle(now_ms, &incoming)
            .expect("a usable response topic is answered");
        assert!(!outgoing.is_empty());
        for message in outgoing.iter().chain(&service.expire(now_ms)) {
            assert_eq!(
                message.user_properties[0],
                ("__stat".to_owned(), "200".to_owned())
            );
            let ts = &message.user_properties[2].1;
            ts.parse::<Hlc>()
                .expect("every message carries a parseable __ts");
        }
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The targets by name, for the smoke test and the fuzz harness.
pub const TARGETS: &[(&str, Target)] = &[
    ("resp_request", resp_request),
    ("resp_reply", resp_reply),
    ("hlc", hlc),
    ("service", service),
];
