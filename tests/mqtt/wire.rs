//! The exact bytes and properties on the wire, both ways, as seen by a raw
//! MQTT client on the real broker.

use std::time::Duration;

use elector_host::StateStoreBackend;
use elector_statestore::protocol;
use elector_statestore::{SetCondition, SetOptions};
use rumqttc::v5::mqttbytes::QoS;

use crate::raw::{next, publish_request, raw_client, request_properties, user};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_sends_what_the_contract_says() {
    let (broker, _service) = broker_with_service();
    let (_sniffer, mut requests) =
        raw_client(broker.port, "sniffer", &[protocol::REQUEST_TOPIC]).await;
    let store = connect(broker.port, Duration::from_secs(3)).await;

    let token = elector_statestore::Hlc::new(1, 2, "x");
    let options = SetOptions {
        condition: SetCondition::OnlyIfAbsentOrEqual,
        expiry_ms: Some(5000),
        fencing_token: Some(token),
    };
    assert!(
        store
            .set(b"lock", b"node1", &options)
            .await
            .unwrap()
            .applied
    );
    let request = next(&mut requests).await;
    assert_eq!(
        &request.payload[..],
        b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$5\r\nnode1\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$4\r\n5000\r\n"
    );
    assert_eq!(request.qos, QoS::AtLeastOnce);
    let properties = request.properties.unwrap();
    let client_id = store.client_id();
    assert_eq!(
        properties.response_topic,
        Some(protocol::response_topic(client_id))
    );
    assert_eq!(
        properties.correlation_data.as_ref().map(|c| c.len()),
        Some(16)
    );
    assert_eq!(
        properties.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(properties.message_expiry_interval, Some(3));
    assert_eq!(user(&properties, "__srcId").as_deref(), Some(client_id));
    assert_eq!(user(&properties, "__protVer").as_deref(), Some("1.0"));
    assert_eq!(
        user(&properties, "__ft").as_deref(),
        Some("000000000000001:00002:x")
    );
    let ts: elector_statestore::Hlc = user(&properties, "__ts").unwrap().parse().unwrap();
    assert_eq!(ts.node_id, client_id);

    // The next request's __ts is newer than the version the store returned.
    let current = store.get(b"lock").await.unwrap().unwrap();
    let request = next(&mut requests).await;
    assert_eq!(&request.payload[..], b"*2\r\n$3\r\nGET\r\n$4\r\nlock\r\n");
    assert_eq!(current.value, b"node1");
    let later: elector_statestore::Hlc = user(request.properties.as_ref().unwrap(), "__ts")
        .unwrap()
        .parse()
        .unwrap();
    assert!(later.is_newer_than(&ts));
    let correlations: Vec<_> = [
        properties.correlation_data.clone(),
        request.properties.unwrap().correlation_data,
    ]
    .into_iter()
    .collect();
    assert_ne!(
        correlations[0], correlations[1],
        "a fresh correlation per request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_and_notifies_what_the_contract_says() {
    let (broker, _service) = broker_with_service();
    let me = "raw-client";
    let response_topic = protocol::response_topic(me);
    let notify_filter = protocol::notification_filter(me);
    let (client, mut received) =
        raw_client(broker.port, me, &[&response_topic, &notify_filter]).await;
    let send = |payload: &'static [u8], correlation: u8| {
        let client = client.clone();
        async move {
            let properties = request_properties(me, &[correlation; 16]);
            publish_request(&client, payload, properties).await;
        }
    };

    send(b"*2\r\n$9\r\nKEYNOTIFY\r\n$4\r\nlock\r\n", 1).await;
    let answer = next(&mut received).await;
    assert_eq!(&answer.payload[..], b"+OK\r\n");
    let properties = answer.properties.unwrap();
    assert_eq!(properties.correlation_data.as_deref(), Some(&[1u8; 16][..]));
    assert_eq!(user(&properties, "__stat").as_deref(), Some("200"));
    assert_eq!(user(&properties, "__protVer").as_deref(), Some("1.0"));
    assert!(user(&properties, "__ts").is_some());

    send(
        b"*5\r\n$3\r\nSET\r\n$4\r\nlock\r\n$2\r\nme\r\n$2\r\nPX\r\n$3\r\n300\r\n",
        2,
    )
    .await;
    let notification = next(&mut received).await;
    assert_eq!(
        String::from_utf8_lossy(&notification.topic),
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/7261772D636C69656E74/command/notify/6C6F636B"
    );
    assert_eq!(
        &notification.payload[..],
        b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$2\r\nme\r\n"
    );
    let set_version = user(notification.properties.as_ref().unwrap(), "__ts").unwrap();
    let answer = next(&mut received).await;
    assert_eq!(&answer.payload[..], b"+OK\r\n");
    assert_eq!(
        user(answer.properties.as_ref().unwrap(), "__ts").unwrap(),
        set_version
    );

    // The key expires by itself 300 ms later: a DELETE with no request.
    let expiry = next(&mut received).await;
    assert_eq!(
        &expiry.payload[..],
        b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"
    );

    // Garbage gets -ERR, and the service keeps serving.
    let garbage: [(&[u8], u8, &str); 3] = [
        (b"this is not RESP", 3, "-ERR syntax error\r\n"),
        (
            b"*2\r\n$4\r\nPING\r\n$1\r\nx\r\n",
            4,
            "-ERR unknown command\r\n",
        ),
        (
            b"*1\r\n$3\r\nGET\r\n",
            5,
            "-ERR wrong number of arguments\r\n",
        ),
    ];
    for (request, correlation, error) in garbage {
        send(request, correlation).await;
        let answer = next(&mut received).await;
        assert_eq!(&answer.payload[..], error.as_bytes(), "{error}");
    }
    send(b"*2\r\n$3\r\nGET\r\n$4\r\nlock\r\n", 6).await;
    let answer = next(&mut received).await;
    assert_eq!(&answer.payload[..], b"$-1\r\n");
    assert_eq!(
        answer.properties.unwrap().correlation_data.as_deref(),
        Some(&[6u8; 16][..])
    );
}
