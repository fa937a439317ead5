//! Randomised differential test: thousands of random requests against the
//! store and against a deliberately naive reference model (a `HashMap` and a
//! linear scan for expiry), comparing replies, notifications and versions.

use std::collections::HashMap;

use super::*;
use crate::test_rng::XorShift;

const KEYS: [&[u8]; 4] = [b"a", b"b", b"lock", b"\x00bin"];
const VALUES: [&[u8]; 3] = [b"x", b"y", b""];
const WATCHER: &str = "watcher";
const WRITER: &str = "writer";

#[derive(Clone, Debug)]
struct ModelEntry {
    value: Vec<u8>,
    version: Hlc,
    fencing_token: Option<Hlc>,
    expires_at_ms: Option<u64>,
}

/// What the model expects of one request: the reply and, for a change, the
/// event the watcher hears (its version is only known from the store).
struct Expected {
    reply: Reply,
    event: Option<KeyEvent>,
}

#[derive(Default)]
struct Model {
    entries: HashMap<Vec<u8>, ModelEntry>,
}

impl Model {
    /// Keys due at `now`, in (deadline, key) order, removed from the model.
    fn expire(&mut self, now: u64) -> Vec<Vec<u8>> {
        let mut due: Vec<(u64, Vec<u8>)> = self
            .entries
            .iter()
            .filter_map(|(key, entry)| {
                entry
                    .expires_at_ms
                    .filter(|deadline| *deadline <= now)
                    .map(|deadline| (deadline, key.clone()))
            })
            .collect();
        due.sort();
        due.into_iter()
            .map(|(_, key)| {
                self.entries.remove(&key);
                key
            })
            .collect()
    }

    fn next_expiry(&self) -> Option<u64> {
        self.entries.values().filter_map(|e| e.expires_at_ms).min()
    }

    fn fencing_error(&self, key: &[u8], token: Option<&Hlc>) -> Option<StoreErrorKind> {
        let stored = self.entries.get(key)?.fencing_token.as_ref()?;
        match token {
            None => Some(StoreErrorKind::FencingTokenRequired),
            Some(token) if token.cmp_version(stored).is_lt() => {
                Some(StoreErrorKind::FencingTokenLowerVersion)
            }
            Some(_) => None,
        }
    }

    /// The model's answer; it does not record versions (see `record`).
    fn apply(&mut self, now: u64, request: &Request<&'static str>) -> Expected {
        let reply = |reply| Expected { reply, event: None };
        let ft = request.fencing_token.as_ref();
        match &request.command {
            Command::Set {
                key,
                value,
                condition,
                expiry_ms,
            } => {
                if let Some(kind) = self.fencing_error(key, ft) {
                    return reply(Reply::Error(kind));
                }
                let current = self.entries.get(key);
                let applies = match (condition, current) {
                    (_, None) | (SetCondition::Unconditional, _) => true,
                    (SetCondition::OnlyIfAbsent, Some(_)) => false,
                    (SetCondition::OnlyIfAbsentOrEqual, Some(e)) => &e.value == value,
                };
                if !applies {
                    return reply(Reply::NotApplied);
                }
                let stored_token = current.and_then(|e| e.fencing_token.clone());
                let fencing_token = match (stored_token, ft) {
                    (Some(s), Some(t)) if t.cmp_version(&s).is_gt() => Some(t.clone()),
                    (Some(s), _) => Some(s),
                    (None, t) => t.cloned(),
                };
                self.entries.insert(
                    key.clone(),
                    ModelEntry {
                        value: value.clone(),
                        version: Hlc::new(0, 0, "unknown yet"),
                        fencing_token,
                        expires_at_ms: expiry_ms.map(|px| now + px),
                    },
                );
                Expected {
                    reply: Reply::Ok,
                    event: Some(KeyEvent::Set(value.clone())),
                }
            }
            Command::Get { key } => {
                reply(Reply::Value(self.entries.get(key).map(|e| e.value.clone())))
            }
            Command::Del { key } | Command::VDel { key, .. } => {
                let Some(entry) = self.entries.get(key) else {
                    return reply(Reply::Count(0));
                };
                if let Some(kind) = self.fencing_error(key, ft) {
                    return reply(Reply::Error(kind));
                }
                if let Command::VDel { value, .. } = &request.command
                    && &entry.value != value
                {
                    return reply(Reply::Count(-1));
                }
                self.entries.remove(key);
                Expected {
                    reply: Reply::Count(1),
                    event: Some(KeyEvent::Delete),
                }
            }
            Command::KeyNotify { .. } => unreachable!("the model only writes and reads"),
        }
    }

    /// Records the version the store gave a SET the model applied.
    fn record(&mut self, key: &[u8], version: &Hlc) {
        self.entries.get_mut(key).expect("just written").version = version.clone();
    }
}

fn random_request(
    rng: &mut XorShift,
    now: u64,
    client_clock: &mut HlcClock,
    tokens: &[Hlc],
) -> Request<&'static str> {
    let key = rng.pick(&KEYS).to_vec();
    let value = rng.pick(&VALUES).to_vec();
    let command = match rng.below(10) {
        0..=4 => Command::Set {
            key,
            value,
            condition: *rng.pick(&[
                SetCondition::Unconditional,
                SetCondition::OnlyIfAbsent,
                SetCondition::OnlyIfAbsentOrEqual,
                SetCondition::OnlyIfAbsentOrEqual,
            ]),
            expiry_ms: if rng.chance(3) {
                None
            } else {
                Some(1 + rng.below(2_000))
            },
        },
        5 | 6 => Command::Get { key },
        7 => Command::Del { key },
        _ => Command::VDel { key, value },
    };
    let mut request = Request::new(WRITER, command);
    // The writer's clock wanders within the allowed minute of skew.
    let client_wall = (now + rng.below(20_000)).saturating_sub(10_000);
    if request.command.is_write() || rng.chance(2) {
        request.timestamp = Some(client_clock.now(client_wall));
    }
    // A fencing token from the recent past, sometimes one too old.
    if request.command.is_write() && !tokens.is_empty() && !rng.chance(3) {
        let recent = &tokens[tokens.len().saturating_sub(6)..];
        request.fencing_token = Some(rng.pick(recent).clone());
    }
    request
}

#[test]
fn random_operations_match_the_reference_model() {
    for seed in [0x9E37_79B9_7F4A_7C15, 42, 0xDEAD_BEEF] {
        run_against_model(seed, 3_000);
    }
}

fn run_against_model(seed: u64, steps: usize) {
    let mut rng = XorShift(seed);
    let mut store = StateStore::new("store", Limits::default());
    let mut model = Model::default();
    let mut client_clock = HlcClock::new("client");
    let mut tokens: Vec<Hlc> = Vec::new();
    let mut last_change = store.current_version();
    let mut now: u64 = 1_700_000_000_000;
    let mut applied = [0usize; 4];

    for key in KEYS {
        let watch = Request::new(
            WATCHER,
            Command::KeyNotify {
                key: key.to_vec(),
                stop: false,
            },
        );
        assert_eq!(store.handle(now, watch).0.reply, Reply::Ok);
    }

    for step in 0..steps {
        now += rng.below(300);
        let context = format!("seed {seed:#x}, step {step}");

        // Sometimes the driver's timer fires between requests.
        let mut expected_deletes = Vec::new();
        let mut notifications = Vec::new();
        if rng.chance(4) {
            expected_deletes.extend(model.expire(now));
            notifications.extend(store.expire(now));
        }

        let request = random_request(&mut rng, now, &mut client_clock, &tokens);
        expected_deletes.extend(model.expire(now));
        let expected = model.apply(now, &request);
        let (response, request_notifications) = store.handle(now, request.clone());
        notifications.extend(request_notifications);
        client_clock.merge(&response.version, now + 10_000);

        assert_eq!(response.reply, expected.reply, "{context}: {request:?}");

        // Expiries come first, one DELETE each, with increasing versions.
        let key = request.command.key();
        let mut expected_events: Vec<(Vec<u8>, KeyEvent)> = expected_deletes
            .into_iter()
            .map(|key| (key, KeyEvent::Delete))
            .collect();
        expected_events.extend(expected.event.clone().map(|event| (key.to_vec(), event)));
        let events: Vec<(Vec<u8>, KeyEvent)> = notifications
            .iter()
            .map(|n| (n.key.clone(), n.event.clone()))
            .collect();
        assert_eq!(events, expected_events, "{context}");
        for notification in &notifications {
            assert_eq!(notification.client, WATCHER);
            assert!(
                notification.version.is_newer_than(&last_change),
                "{context}: {} after {last_change}",
                notification.version
            );
            last_change = notification.version.clone();
        }

        // Versions: a change carries the version its notification carried;
        // otherwise the key's version or the clock's, without a tick.
        let stored_version = model.entries.get(key).map(|e| e.version.clone());
        match (&response.reply, &expected.event) {
            (_, Some(_)) => {
                assert_eq!(response.version, last_change, "{context}");
                let ts = request.timestamp.as_ref().expect("writes carry __ts");
                assert!(response.version.is_newer_than(ts), "{context}");
                if let Reply::Ok = response.reply {
                    model.record(key, &response.version);
                    tokens.push(response.version.clone());
                    applied[0] += 1;
                } else {
                    applied[1] += 1;
                }
            }
            (Reply::Value(Some(_)) | Reply::NotApplied | Reply::Count(-1), None) => {
                assert_eq!(
                    Some(&response.version),
                    stored_version.as_ref(),
                    "{context}"
                );
                applied[2] += 1;
            }
            (_, None) => {
                assert_eq!(response.version, store.current_version(), "{context}");
                applied[3] += 1;
            }
        }
        assert!(store.current_version().is_at_least(&last_change));

        assert_eq!(store.len(), model.entries.len(), "{context}");
        assert_eq!(store.next_expiry(), model.next_expiry(), "{context}");
        for (key, entry) in &model.entries {
            let stored = &store.entries[key];
            assert_eq!(stored.value, entry.value, "{context}");
            assert_eq!(stored.version, entry.version, "{context}");
            assert_eq!(stored.fencing_token, entry.fencing_token, "{context}");
        }
    }

    // The random mix really exercised every branch.
    assert!(
        applied.iter().all(|count| *count > steps / 50),
        "seed {seed:#x}: sets, deletes, unchanged-key and no-key replies: {applied:?}"
    );
    assert_eq!(store.watch_count(), KEYS.len());
}
