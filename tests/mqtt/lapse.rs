//! A registration left behind by a client that went away without
//! `KEYNOTIFY … STOP` lapses once that client has sent no request for the
//! watch lease; a client that keeps sending requests, a repeated KEYNOTIFY
//! among them, keeps its own. The service runs in this process, with a
//! lease of 1.5 s instead of the 24 h default.

use std::time::Duration;

use elector_statestore::{Limits, protocol};
use rumqttc::v5::AsyncClient;
use rumqttc::v5::mqttbytes::v5::Publish;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::raw::{next, publish_request, raw_client, received_within, request_properties};
use crate::support::*;

const LEASE: Duration = Duration::from_millis(1_500);
const KEYNOTIFY: &[u8] = b"*2\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n";

/// A raw client that reads its answers and its notifications.
async fn watcher(port: u16, id: &str) -> (AsyncClient, UnboundedReceiver<Publish>) {
    let topics = [
        protocol::response_topic(id),
        protocol::notification_filter(id),
    ];
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    raw_client(port, id, &topics).await
}

/// Sends `payload` as `id` and returns the answer's payload.
async fn ask(
    client: &AsyncClient,
    received: &mut UnboundedReceiver<Publish>,
    id: &str,
    payload: &[u8],
    correlation: u8,
) -> Vec<u8> {
    publish_request(client, payload, request_properties(id, &[correlation; 16])).await;
    next(received).await.payload.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_left_behind_lapses_and_one_kept_alive_stays() {
    let broker = Broker::start();
    let _service = ServiceInProcess::start(
        &broker,
        Limits {
            watch_lease_ms: LEASE.as_millis() as u64,
            ..Limits::default()
        },
    );
    let (gone, mut gone_hears) = watcher(broker.port, "gone").await;
    let (alive, mut alive_hears) = watcher(broker.port, "alive").await;
    assert_eq!(
        ask(&gone, &mut gone_hears, "gone", KEYNOTIFY, 1).await,
        b"+OK\r\n"
    );
    assert_eq!(
        ask(&alive, &mut alive_hears, "alive", KEYNOTIFY, 1).await,
        b"+OK\r\n"
    );

    // "gone" falls silent; "alive" sends a request every half second: a
    // GET of something else, then its KEYNOTIFY again.
    let get = b"*2\r\n$3\r\nGET\r\n$5\r\nother\r\n";
    for i in 0..6u8 {
        tokio::time::sleep(LEASE / 3).await;
        let payload = if i == 3 { KEYNOTIFY } else { &get[..] };
        let answer = ask(&alive, &mut alive_hears, "alive", payload, 2 + i).await;
        if i == 3 {
            assert_eq!(answer, b"+OK\r\n", "a repeated KEYNOTIFY answers +OK");
        }
    }

    let (writer, mut writer_hears) = watcher(broker.port, "writer").await;
    let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    assert_eq!(
        ask(&writer, &mut writer_hears, "writer", set, 1).await,
        b"+OK\r\n"
    );
    let note = next(&mut alive_hears).await;
    assert_eq!(
        &note.payload[..],
        b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$1\r\nv\r\n"
    );
    assert!(
        received_within(&mut gone_hears, Duration::from_secs(1))
            .await
            .is_empty(),
        "the silent client's registration lapsed"
    );
}
