//! The mosquitto ACL `docs/security.md` shows, taken from the document
//! itself: with it the service still answers and notifies elector's client,
//! and an eavesdropper subscribed to everything it may ask for reads no
//! request, no answer and no notification of anyone else's.

use std::sync::Arc;
use std::time::Duration;

use elector_host::StateStoreBackend;
use elector_host::mqtt::BrokerOptions;
use elector_host::store::NotificationQueue;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};
use elector_statestore::protocol;
use tokio::sync::Notify;

use crate::raw::{publish_request, raw_client, received_within, request_properties};
use crate::support::*;

/// The block after the marker in `docs/security.md`.
pub(crate) fn documented_acl() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
        .expect("docs/security.md");
    let after = doc
        .split("<!-- tests/mqtt/acl.rs reads the next block -->")
        .nth(1)
        .expect("the marker in docs/security.md");
    let block = after.split("```text\n").nth(1).expect("a text block");
    block.split("```").next().unwrap().to_owned()
}

/// The per-user line the document shows for a client that watches keys.
fn notifications_of(user: &str, client_id: &str) -> String {
    let prefix = protocol::notification_filter(client_id);
    let prefix = prefix.strip_suffix('+').unwrap();
    format!("user {user}\ntopic read {prefix}#\n")
}

async fn connect_as(port: u16, user: &str, client_id: &str) -> MqttStore {
    let args = BrokerOptions {
        broker: Some(format!("mqtt://127.0.0.1:{port}")),
        username: Some(user.into()),
        client_id: Some(client_id.into()),
        ..BrokerOptions::default()
    };
    let options = MqttStoreOptions {
        request_timeout: Duration::from_secs(3),
        ..MqttStoreOptions::default()
    };
    MqttStore::connect(&args.settings().unwrap(), options)
        .await
        .expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acl_keeps_requests_answers_and_notifications_to_their_clients() {
    let acl = format!(
        "{}\n{}",
        documented_acl(),
        notifications_of("node1", "node1")
    );
    let broker = Broker::start_prepared(|dir| {
        let file = dir.join("acl");
        std::fs::write(&file, acl).unwrap();
        format!("acl_file {}", file.display())
    });
    let _service = Service::start_with(&broker, broker.port, &["--username", "elector-statestore"]);
    let (_eve, mut eavesdropped) =
        raw_client(broker.port, "eve", &["clients/#", "statestore/#", "#"]).await;

    let node1 = connect_as(broker.port, "node1", "node1").await;
    let queue = NotificationQueue::new(Arc::new(Notify::new()));
    let _watch = node1.watch(b"k", queue.clone()).await.unwrap();
    let writer = connect(broker.port, Duration::from_secs(3)).await;
    set_applied(&writer, b"k", b"secret").await;
    tokio::time::timeout(PATIENCE, queue.wait_ready())
        .await
        .expect("node1 is notified");
    assert_eq!(node1.get(b"k").await.unwrap().unwrap().value, b"secret");

    // A client id with a `/` gets no answer: it would go to
    // clients/a/b/..., which `pattern read clients/%c/#` also lets the
    // client "a" read.
    let (_a, mut a_reads) = raw_client(broker.port, "a", &["clients/a/#"]).await;
    let (a_slash_b, _) = raw_client(broker.port, "a/b", &[]).await;
    publish_request(
        &a_slash_b,
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        request_properties("a/b", &[1; 16]),
    )
    .await;
    let read_by_a = received_within(&mut a_reads, Duration::from_secs(1)).await;
    assert_eq!(
        read_by_a.len(),
        0,
        "the client a read the answer meant for a/b"
    );

    let seen = received_within(&mut eavesdropped, Duration::from_secs(1)).await;
    let topics: Vec<String> = seen
        .iter()
        .map(|m| String::from_utf8_lossy(&m.topic).into_owned())
        .collect();
    assert_eq!(
        topics,
        Vec::<String>::new(),
        "eve read someone else's messages"
    );
}
