//! The service against requests a hostile or careless client sends:
//! foreign response topics and ids, re-used correlation data, re-sends, and
//! answers too large to keep.

use super::*;

const T0: u64 = 1_800_000_000_000;

/// A request from `client` on its SDK-form response topic, claiming
/// `__srcId` = `client`.
struct Sent {
    topic: String,
    properties: Vec<(String, String)>,
    correlation: Vec<u8>,
    payload: Vec<u8>,
}

impl Sent {
    fn new(client: &str, correlation: &[u8], payload: &[u8]) -> Sent {
        Sent {
            topic: protocol::response_topic(client),
            properties: vec![
                (protocol::SOURCE_ID.to_owned(), client.to_owned()),
                (protocol::TIMESTAMP.to_owned(), format!("{T0}:0:{client}")),
            ],
            correlation: correlation.to_vec(),
            payload: payload.to_vec(),
        }
    }

    fn incoming(&self) -> Incoming<'_> {
        Incoming {
            response_topic: Some(&self.topic),
            correlation: Some(&self.correlation),
            user_properties: &self.properties,
            payload: &self.payload,
        }
    }
}

fn service() -> Service {
    Service::new("store", Limits::default())
}

/// The answer's payload (the one message with correlation data), and how
/// many messages came.
fn answer(service: &mut Service, now_ms: u64, sent: &Sent) -> (Vec<u8>, usize) {
    let out = service.handle(now_ms, &sent.incoming()).expect("answered");
    let answer = out
        .iter()
        .find(|o| o.correlation.is_some())
        .expect("an answer");
    (answer.payload.clone(), out.len())
}

fn set(key: &str, value: &str) -> Vec<u8> {
    resp::encode_request(&Command::Set {
        key: key.into(),
        value: value.into(),
        condition: Default::default(),
        expiry_ms: None,
    })
}

fn get(key: &str) -> Vec<u8> {
    resp::encode_request(&Command::Get { key: key.into() })
}

fn keynotify(key: &str, stop: bool) -> Vec<u8> {
    resp::encode_request(&Command::KeyNotify {
        key: key.into(),
        stop,
    })
}

#[test]
fn a_resent_write_gets_its_first_answer_and_is_not_applied_again() {
    let mut service = service();
    let first = service.handle(T0, &Sent::new("c", b"1", &set("k", "v")).incoming());
    let again = service.handle(T0 + 10, &Sent::new("c", b"1", &set("k", "v")).incoming());
    assert_eq!(again, Ok(vec![first.unwrap().pop().unwrap()]));
    assert_eq!(
        service.store.current_version(),
        service.store.peek(T0, b"k").unwrap().1.clone()
    );
}

#[test]
fn a_different_request_with_used_correlation_data_is_refused_not_replayed() {
    let mut service = service();
    let (first, _) = answer(&mut service, T0, &Sent::new("c", b"1", &set("k", "v1")));
    assert_eq!(first, b"+OK\r\n");
    let (reused, _) = answer(&mut service, T0, &Sent::new("c", b"1", &set("k", "v2")));
    assert_eq!(
        reused,
        format!("-ERR {CORRELATION_REUSED}\r\n").into_bytes()
    );
    let (read, _) = answer(&mut service, T0, &Sent::new("c", b"2", &get("k")));
    assert_eq!(read, b"$2\r\nv1\r\n", "the second SET was not run");
    let (other, _) = answer(&mut service, T0, &Sent::new("d", b"1", &set("k", "v3")));
    assert_eq!(other, b"+OK\r\n", "correlation data is per client");
}

#[test]
fn a_resent_read_is_answered_afresh_and_its_answer_not_kept() {
    let mut service = service();
    let big = "v".repeat(100_000);
    answer(&mut service, T0, &Sent::new("c", b"w1", &set("k", &big)));
    let read = Sent::new("c", b"r", &get("k"));
    assert_eq!(answer(&mut service, T0, &read).0.len(), 100_000 + 11);
    let kept = service.usage().remembered_bytes;
    assert!(kept < 1_000, "the value is not kept: {kept} bytes");
    answer(&mut service, T0, &Sent::new("c", b"w2", &set("k", "new")));
    assert_eq!(answer(&mut service, T0, &read).0, b"$3\r\nnew\r\n");
}

#[test]
fn kept_answers_last_the_window_and_fit_the_budget() {
    let mut service = Service::new(
        "store",
        Limits {
            replay_window_ms: 1_000,
            max_replay_bytes: 20_000,
            ..Limits::default()
        },
    );
    for i in 0..1_000u32 {
        let sent = Sent::new("c", &i.to_be_bytes(), &set("k", "v"));
        answer(&mut service, T0, &sent);
        assert!(service.usage().remembered_bytes <= 20_000);
    }
    assert!(service.usage().remembered > 10);
    // After the window, the same correlation data is new again.
    let late = Sent::new("c", &999u32.to_be_bytes(), &set("k", "other"));
    assert_eq!(
        answer(&mut service, T0 + 999, &late).0,
        format!("-ERR {CORRELATION_REUSED}\r\n").into_bytes()
    );
    assert_eq!(answer(&mut service, T0 + 1_000, &late).0, b"+OK\r\n");
    assert_eq!(service.usage().remembered, 1);
}

#[test]
fn a_request_naming_someone_elses_id_changes_nothing() {
    let mut service = service();
    answer(
        &mut service,
        T0,
        &Sent::new("victim", b"1", &keynotify("job", false)),
    );
    let mut spoofed = Sent::new("victim", b"2", &keynotify("job", true));
    spoofed.topic = protocol::response_topic("spoofer");
    assert_eq!(
        service.handle(T0, &spoofed.incoming()),
        Err(Dropped::ForeignResponseTopic {
            topic: spoofed.topic.clone(),
            claimed: Some("victim".into())
        })
    );
    let (_, messages) = answer(
        &mut service,
        T0,
        &Sent::new("writer", b"1", &set("job", "v")),
    );
    assert_eq!(
        messages, 2,
        "the victim's watch stands: notification + answer"
    );
    let mut elsewhere = Sent::new("c", b"3", &get("job"));
    elsewhere.topic = "factory/valve/cmd".into();
    elsewhere.properties.remove(0);
    assert_eq!(
        service
            .handle(T0, &elsewhere.incoming())
            .map_err(|d| d.reason()),
        Err("foreign-response-topic")
    );
}

#[test]
fn oversized_correlation_data_is_dropped_before_anything_runs() {
    let mut service = service();
    let sent = Sent::new("c", &[1; 129], &set("k", "v"));
    assert_eq!(
        service.handle(T0, &sent.incoming()),
        Err(Dropped::OversizedCorrelation(129))
    );
    assert_eq!(service.usage(), Usage::default());
}

#[test]
fn every_request_of_a_client_renews_its_watches_even_one_not_run() {
    let mut service = Service::new(
        "store",
        Limits {
            watch_lease_ms: 1_000,
            ..Limits::default()
        },
    );
    answer(
        &mut service,
        T0,
        &Sent::new("w", b"1", &keynotify("k", false)),
    );
    // A malformed request at T0 + 900, a re-send of the KEYNOTIFY at 1,800.
    answer(&mut service, T0 + 900, &Sent::new("w", b"2", b"garbage"));
    answer(
        &mut service,
        T0 + 1_800,
        &Sent::new("w", b"1", &keynotify("k", false)),
    );
    let (_, messages) = answer(
        &mut service,
        T0 + 2_799,
        &Sent::new("x", b"1", &set("k", "v")),
    );
    assert_eq!(messages, 2, "still watched");
    service.expire(T0 + 2_800);
    assert_eq!(service.usage().watches, 0);
    assert_eq!(service.usage().lapsed_registrations, 1);
}

#[test]
fn a_writers_answer_follows_its_own_notification_and_precedes_everyone_elses() {
    let mut service = service();
    for watcher in ["a", "writer", "b"] {
        answer(
            &mut service,
            T0,
            &Sent::new(watcher, b"k", &keynotify("lock", false)),
        );
    }
    let write = Sent::new("writer", b"w", &set("lock", "v"));
    let out = service.handle(T0, &write.incoming()).expect("answered");
    let order: Vec<&str> = out
        .iter()
        .map(|o| match &o.correlation {
            Some(_) => "answer",
            None if o.topic == protocol::notification_topic("writer", b"lock") => "writer",
            None if o.topic == protocol::notification_topic("a", b"lock") => "a",
            None if o.topic == protocol::notification_topic("b", b"lock") => "b",
            None => "unexpected",
        })
        .collect();
    assert_eq!(order[..2], ["writer", "answer"], "{order:?}");
    let mut others = order[2..].to_vec();
    others.sort_unstable();
    assert_eq!(others, ["a", "b"], "{order:?}");
}

#[test]
fn a_deletions_notifications_go_before_the_deleters_answer() {
    let mut service = service();
    answer(
        &mut service,
        T0,
        &Sent::new("writer", b"s", &set("lock", "v")),
    );
    for watcher in ["a", "writer", "b"] {
        answer(
            &mut service,
            T0,
            &Sent::new(watcher, b"k", &keynotify("lock", false)),
        );
    }
    let del = resp::encode_request(&Command::Del { key: "lock".into() });
    let out = service
        .handle(T0, &Sent::new("writer", b"d", &del).incoming())
        .expect("answered");
    assert_eq!(out.len(), 4, "three notifications and the answer");
    assert!(out[3].correlation.is_some(), "the answer is last: {out:?}");
    assert!(
        out[..3]
            .iter()
            .all(|o| o.payload == b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n")
    );
}
