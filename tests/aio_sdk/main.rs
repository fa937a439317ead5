//! Microsoft's own Rust SDK for Azure IoT Operations, unchanged, against
//! `elector statestore` on mosquitto: its state-store client and its lease
//! client share the store and a position with elector's candidates. This
//! is the proof that the service is faithful enough for third-party clients.

#[path = "../mqtt/etcd_store.rs"]
#[allow(dead_code)]
mod etcd_store;
#[path = "../mqtt/support.rs"]
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_iot_operations_mqtt::aio::connection_settings::MqttConnectionSettingsBuilder;
use azure_iot_operations_mqtt::session::{Session, SessionExitHandle, SessionOptionsBuilder};
use azure_iot_operations_protocol::application::ApplicationContextBuilder;
use azure_iot_operations_protocol::common::hybrid_logical_clock::HybridLogicalClock;
use azure_iot_operations_services::leased_lock::ErrorKind as LeaseErrorKind;
use azure_iot_operations_services::leased_lock::lease;
use azure_iot_operations_services::state_store::{
    self, ClientOptionsBuilder, Operation, SetCondition, SetOptions,
};
use support::*;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A connected state-store client of Microsoft's SDK, as its own
/// documentation sets one up (without TLS, for the local broker).
struct SdkClient {
    client: Arc<state_store::Client>,
    exit: SessionExitHandle,
}

impl SdkClient {
    async fn connect(port: u16, client_id: &str) -> SdkClient {
        let settings = MqttConnectionSettingsBuilder::default()
            .client_id(client_id)
            .hostname("127.0.0.1")
            .tcp_port(port)
            .use_tls(false)
            .clean_start(true)
            .build()
            .unwrap();
        let session = Session::new(
            SessionOptionsBuilder::default()
                .connection_settings(settings)
                .build()
                .unwrap(),
        )
        .unwrap();
        let exit = session.create_exit_handle();
        let monitor = session.create_session_monitor();
        let client = state_store::Client::new(
            ApplicationContextBuilder::default().build().unwrap(),
            session.create_managed_client(),
            session.create_session_monitor(),
            ClientOptionsBuilder::default().build().unwrap(),
        )
        .unwrap();
        tokio::spawn(session.run());
        tokio::time::timeout(PATIENCE, monitor.connected())
            .await
            .unwrap();
        SdkClient {
            client: Arc::new(client),
            exit,
        }
    }

    async fn close(self) {
        let _ = self.client.shutdown().await;
        if self.exit.try_exit().is_err() {
            self.exit.force_exit();
        }
    }
}

fn options(condition: SetCondition, expires: Option<Duration>) -> SetOptions {
    SetOptions {
        set_condition: condition,
        expires,
        persist: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_state_store_client_works_against_the_service() {
    let (broker, _service) = broker_with_service();
    state_store_client_scenario(&broker).await;
}

/// The same, through the frontends of the etcd-backed store, while one
/// frontend and then one etcd member are killed with `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_state_store_client_works_through_etcd_frontends_under_kills() {
    let store = etcd_store::EtcdStore::start(3).await;
    let store = etcd_store::kill_one_of_each_meanwhile(store);
    state_store_client_scenario(&store.broker).await;
}

async fn state_store_client_scenario(broker: &Broker) {
    let sdk = SdkClient::connect(broker.port, "sdk-store-client").await;
    let store = &sdk.client;

    let mut observation = store
        .observe(b"k".to_vec(), TIMEOUT)
        .await
        .unwrap()
        .response;

    let set_k = |value: &[u8], condition| {
        store.set(
            b"k".to_vec(),
            value.to_vec(),
            TIMEOUT,
            None,
            options(condition, None),
        )
    };
    let vdel_k = |value: &[u8]| store.vdel(b"k".to_vec(), value.to_vec(), None, TIMEOUT);

    let first = set_k(b"v1", SetCondition::OnlyIfDoesNotExist)
        .await
        .unwrap();
    assert!(first.response, "NX on an absent key applies");
    assert!(first.version.is_some(), "the version travels in __ts");
    let again = set_k(b"v2", SetCondition::OnlyIfDoesNotExist)
        .await
        .unwrap();
    assert!(!again.response, "NX on a present key does not");
    let nex = set_k(b"v1", SetCondition::OnlyIfEqualOrDoesNotExist)
        .await
        .unwrap();
    assert!(nex.response, "NEX with the same value applies");

    let got = store.get(b"k".to_vec(), TIMEOUT).await.unwrap();
    assert_eq!(got.response.as_deref(), Some(&b"v1"[..]));
    assert_eq!(vdel_k(b"other").await.unwrap().response, -1);
    assert_eq!(vdel_k(b"v1").await.unwrap().response, 1);
    let del = store.del(b"k".to_vec(), None, TIMEOUT).await.unwrap();
    assert_eq!(del.response, 0);
    assert_eq!(
        store.get(b"k".to_vec(), TIMEOUT).await.unwrap().response,
        None
    );

    // Its notification parser accepts ours: SET, SET, DELETE in order.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let (notification, _) = tokio::time::timeout(PATIENCE, observation.recv_notification())
            .await
            .unwrap()
            .unwrap();
        seen.push(notification.operation);
    }
    assert!(
        matches!(&seen[..], [Operation::Set(a), Operation::Set(b), Operation::Del] if a == b"v1" && b == b"v1")
    );

    // A key with an expiry is deleted, and notified, on time.
    let written = Instant::now();
    store
        .set(
            b"k".to_vec(),
            b"short".to_vec(),
            TIMEOUT,
            None,
            options(
                SetCondition::Unconditional,
                Some(Duration::from_millis(300)),
            ),
        )
        .await
        .unwrap();
    let mut operations = Vec::new();
    while !matches!(operations.last(), Some(Operation::Del)) {
        let (notification, _) = tokio::time::timeout(PATIENCE, observation.recv_notification())
            .await
            .unwrap()
            .unwrap();
        operations.push(notification.operation);
    }
    assert!(written.elapsed() >= Duration::from_millis(300));

    // Fencing: a key written with a token refuses writes without one.
    let token = first.version.unwrap();
    store
        .set(
            b"fenced".to_vec(),
            b"1".to_vec(),
            TIMEOUT,
            Some(token),
            options(SetCondition::Unconditional, None),
        )
        .await
        .unwrap();
    let refused = store
        .del(b"fenced".to_vec(), None, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.kind(),
            state_store::ErrorKind::ServiceError(state_store::ServiceError::MissingFencingToken)
        ),
        "{refused:?}"
    );

    assert!(
        store
            .unobserve(b"k".to_vec(), TIMEOUT)
            .await
            .unwrap()
            .response
    );
    sdk.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_lease_client_and_elector_share_a_position() {
    let (broker, _service) = broker_with_service();
    lease_client_scenario(&broker, Duration::from_secs(2)).await;
}

/// The same, through the frontends of the etcd-backed store, while one
/// frontend and then one etcd member are killed with `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsofts_lease_client_and_elector_share_a_position_through_etcd_frontends_under_kills() {
    let store = etcd_store::EtcdStore::start(3).await;
    let store = etcd_store::kill_one_of_each_meanwhile(store);
    // An append caught by the etcd leader's death waits out the frontend's
    // 2 s etcd timeout before it is retried: still far from the 30 s term.
    lease_client_scenario(&store.broker, Duration::from_secs(10)).await;
}

/// `takeover`: how soon after the SDK's release the elector candidate must
/// be elected (far less than the 30 s term it would otherwise wait).
async fn lease_client_scenario(broker: &Broker, takeover: Duration) {
    let url = broker.url();
    let sdk = SdkClient::connect(broker.port, "ms-sdk").await;
    let lease =
        lease::Client::new(sdk.client.clone(), b"job".to_vec(), b"ms-sdk".to_vec()).unwrap();

    let token: HybridLogicalClock = lease
        .acquire(Duration::from_secs(30), TIMEOUT, None)
        .await
        .unwrap();
    let (_, lines) = run_elector(&["leader", "job", "--broker", &url]);
    assert_eq!(
        lines[0]["leader"]["name"], "ms-sdk",
        "elector reads the SDK's lease"
    );

    // An elector candidate waits for the position; when the SDK releases
    // it, the candidate hears the DELETE and takes over at once.
    let elector = Elector::campaign(broker, "job", "elector", "30s");
    assert!(!elector.sees("elected", Duration::from_millis(500)));
    let released_at = Instant::now();
    lease.release(TIMEOUT).await.unwrap();
    let elected = elector.expect("elected", PATIENCE);
    assert!(
        released_at.elapsed() < takeover,
        "not after a term: {:?}",
        released_at.elapsed()
    );
    let elector_token: elector_statestore::Hlc =
        elected["fencing_token"].as_str().unwrap().parse().unwrap();
    let sdk_token: elector_statestore::Hlc = token.to_string().parse().unwrap();
    assert!(
        elector_token.is_newer_than(&sdk_token),
        "fencing tokens keep increasing across clients"
    );

    // Now the SDK sees elector's hold and cannot take it.
    // (`elector campaign` holds as `name:session`, one session per process.)
    let holder = lease.get_holder(TIMEOUT).await.unwrap().unwrap();
    assert!(
        holder.starts_with(b"elector:"),
        "{}",
        String::from_utf8_lossy(&holder)
    );
    let refused = lease
        .acquire(Duration::from_secs(30), TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused.kind(), LeaseErrorKind::LeaseAlreadyHeld),
        "{refused:?}"
    );
    sdk.close().await;
}
