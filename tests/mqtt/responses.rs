//! Responses and notifications without `__ts`, from a hand-written state
//! store on the real broker. Microsoft's command invoker treats `__ts` as
//! optional, so the client accepts answers without it wherever the
//! operation does not need a version; an applied SET without one still
//! fails the election (no fencing token), and a notification without one
//! is still dropped, as the protocol says.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use elector_host::bindings::{ElectionError, StoreError as WitStoreError};
use elector_host::store::NotificationQueue;
use elector_host::store::mqtt::wall_clock_ms;
use elector_host::{
    ClientError, ClientOptions, ElectorRuntime, LeaderElectionClient, RuntimeConfig,
    StateStoreBackend,
};
use elector_statestore as ss;
use elector_statestore::protocol;
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use ss::{DeleteOutcome, KeyEvent, SetCondition, SetOptions, SetResponse, StoreError};
use tokio::sync::Notify;

use crate::raw::raw_client;
use crate::support::*;

/// What the hand-written store answers: a payload, and `__ts` if any.
struct Answer {
    payload: &'static [u8],
    version: Option<ss::Hlc>,
}

fn without_ts(payload: &'static [u8]) -> Answer {
    Answer {
        payload,
        version: None,
    }
}

fn with_ts(payload: &'static [u8]) -> Answer {
    Answer {
        payload,
        version: Some(version_now()),
    }
}

/// A version a little after every earlier one.
fn version_now() -> ss::Hlc {
    ss::Hlc::new(wall_clock_ms(), 0, "responder")
}

/// `__stat`, `__protVer`, and `__ts` when given.
fn properties(version: Option<&ss::Hlc>) -> Vec<(String, String)> {
    let mut properties = vec![
        ("__stat".to_owned(), "200".to_owned()),
        ("__protVer".to_owned(), "1.0".to_owned()),
    ];
    if let Some(version) = version {
        properties.push(("__ts".to_owned(), version.to_string()));
    }
    properties
}

/// Plays the state store on the broker: every request is answered with
/// what `answer` makes of its command. Returns the responder's client, to
/// publish notifications with.
async fn responder(
    port: u16,
    mut answer: impl FnMut(&ss::Command) -> Answer + Send + 'static,
) -> AsyncClient {
    let (client, mut requests) = raw_client(port, "responder", &[protocol::REQUEST_TOPIC]).await;
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            let props = request.properties.unwrap_or_default();
            let command = ss::resp::decode_request(&request.payload).expect("a request");
            let Answer { payload, version } = answer(&command);
            let reply = PublishProperties {
                correlation_data: props.correlation_data,
                user_properties: properties(version.as_ref()),
                ..PublishProperties::default()
            };
            replier
                .publish_with_properties(
                    props.response_topic.expect("a response topic"),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                    reply,
                )
                .await
                .unwrap();
        }
    });
    client
}

/// Publishes a KEYNOTIFY message about `key` to `client_id`.
async fn notify(
    responder: &AsyncClient,
    client_id: &str,
    key: &[u8],
    event: &ss::KeyEvent,
    version: Option<&ss::Hlc>,
) {
    responder
        .publish_with_properties(
            protocol::notification_topic(client_id, key),
            QoS::AtLeastOnce,
            false,
            ss::resp::encode_notification(event),
            PublishProperties {
                user_properties: properties(version),
                ..PublishProperties::default()
            },
        )
        .await
        .unwrap();
}

fn options(condition: SetCondition) -> SetOptions {
    SetOptions {
        condition,
        expiry_ms: None,
        fencing_token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_without_ts_are_read_where_the_operation_needs_no_version() {
    let broker = Broker::start();
    let _responder = responder(broker.port, |command| match (command, command.key()) {
        (ss::Command::Set { .. }, b"applies") => without_ts(b"+OK\r\n"),
        (ss::Command::Set { .. }, _) => without_ts(b":-1\r\n"),
        (ss::Command::Get { .. }, b"absent") => without_ts(b"$-1\r\n"),
        (ss::Command::Get { .. }, _) => without_ts(b"$1\r\nv\r\n"),
        (ss::Command::Del { .. }, b"fenced") => {
            without_ts(b"-ERR a fencing token is required for this request\r\n")
        }
        (ss::Command::Del { .. }, _) => without_ts(b":1\r\n"),
        (ss::Command::VDel { .. }, _) => without_ts(b":-1\r\n"),
        (ss::Command::KeyNotify { .. }, _) => without_ts(b"+OK\r\n"),
    })
    .await;
    let store = connect(broker.port, Duration::from_secs(2)).await;

    // KEYNOTIFY: the registration stands.
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    assert!(store.watch(b"k", queue).await.is_ok());
    // -ERR keeps its type.
    assert_eq!(
        store.del(b"fenced", None).await,
        Err(StoreError::Refused(
            ss::StoreErrorKind::FencingTokenRequired
        ))
    );
    // DEL and VDEL.
    assert_eq!(store.del(b"k", None).await, Ok(DeleteOutcome::Deleted));
    assert_eq!(
        store.vdel(b"k", b"x", None).await,
        Ok(DeleteOutcome::ValueMismatch)
    );
    // GET: a miss needs no version; a hit without one is refused, since
    // its version is what orders it against the key's changes.
    assert_eq!(store.get(b"absent").await, Ok(None));
    assert!(matches!(
        store.get(b"present").await,
        Err(StoreError::Protocol(_))
    ));
    // SET: the outcome, without a version; the election layer decides.
    for (key, condition, applied) in [
        ("applies", SetCondition::Unconditional, true),
        ("held", SetCondition::OnlyIfAbsent, false),
    ] {
        assert_eq!(
            store.set(key.as_bytes(), b"v", &options(condition)).await,
            Ok(SetResponse {
                applied,
                version: None
            }),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_set_without_a_version_fails_the_campaign_as_a_protocol_error() {
    let broker = Broker::start();
    let _responder = responder(broker.port, |command| match command {
        ss::Command::Set { .. } => without_ts(b"+OK\r\n"),
        _ => with_ts(b"+OK\r\n"),
    })
    .await;
    let store: Arc<dyn StateStoreBackend> =
        Arc::new(connect(broker.port, Duration::from_secs(2)).await);
    let runtime = ElectorRuntime::new(RuntimeConfig::default()).unwrap();
    let candidate = LeaderElectionClient::start(&runtime, store, ClientOptions::new("job", "a"))
        .await
        .unwrap();
    let refused = candidate.try_campaign(Duration::from_secs(5)).await;
    assert!(
        matches!(
            &refused,
            Err(ClientError::Election(ElectionError::Store(WitStoreError::Protocol(text))))
                if text == "an applied SET carried no version"
        ),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_campaign_waits_and_wins_when_keynotify_answers_carry_no_ts() {
    let broker = Broker::start();
    // The position is held by "other" until the test releases it; every
    // answer carries __ts except KEYNOTIFY's.
    let held = Arc::new(Mutex::new(true));
    let responder = responder(broker.port, {
        let held = held.clone();
        move |command| {
            let held = *held.lock().unwrap();
            match command {
                ss::Command::Set { .. } if held => with_ts(b":-1\r\n"),
                ss::Command::Set { .. } => with_ts(b"+OK\r\n"),
                ss::Command::Get { .. } if held => with_ts(b"$5\r\nother\r\n"),
                ss::Command::Get { .. } => with_ts(b"$-1\r\n"),
                ss::Command::Del { .. } | ss::Command::VDel { .. } => with_ts(b":1\r\n"),
                ss::Command::KeyNotify { .. } => without_ts(b"+OK\r\n"),
            }
        }
    })
    .await;
    let store = connect(broker.port, Duration::from_secs(2)).await;
    let client_id = store.client_id().to_owned();
    let runtime = ElectorRuntime::new(RuntimeConfig::default()).unwrap();
    let candidate =
        LeaderElectionClient::start(&runtime, Arc::new(store), ClientOptions::new("job", "a"))
            .await
            .unwrap();
    let campaign = tokio::spawn({
        let candidate = candidate.clone();
        async move {
            candidate
                .campaign(Duration::from_secs(30), Some(PATIENCE))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!campaign.is_finished(), "waits while the position is held");

    // "other" resigns: the DELETE notification wakes the candidate.
    *held.lock().unwrap() = false;
    notify(
        &responder,
        &client_id,
        b"job",
        &ss::KeyEvent::Delete,
        Some(&version_now()),
    )
    .await;
    let won = tokio::time::timeout(Duration::from_secs(5), campaign)
        .await
        .expect("woken by the notification, not by the 30 s term")
        .unwrap()
        .expect("elected");
    assert!(won.is_leader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_without_ts_are_dropped() {
    let broker = Broker::start();
    let responder = responder(broker.port, |_| with_ts(b"+OK\r\n")).await;
    let store = connect(broker.port, Duration::from_secs(2)).await;
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    let _watch = store.watch(b"k", queue.clone()).await.unwrap();

    let unversioned = ss::KeyEvent::Set(b"no ts".to_vec());
    notify(&responder, store.client_id(), b"k", &unversioned, None).await;
    let versioned = ss::KeyEvent::Set(b"with ts".to_vec());
    notify(
        &responder,
        store.client_id(),
        b"k",
        &versioned,
        Some(&version_now()),
    )
    .await;
    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .unwrap();
    // Both came in order on one connection: only the second was kept.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let delivered: Vec<KeyEvent> = queue.take_all().into_iter().map(|n| n.event).collect();
    assert_eq!(delivered, vec![KeyEvent::Set(b"with ts".to_vec())]);
}
