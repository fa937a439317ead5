use super::*;

const NON_ASCII_ID: &str = "nœud-ü-🚀";

/// Whether MQTT topic filter `filter` (with `+` only) matches `topic`.
fn filter_matches(filter: &str, topic: &str) -> bool {
    let filter: Vec<&str> = filter.split('/').collect();
    let topic: Vec<&str> = topic.split('/').collect();
    filter.len() == topic.len() && filter.iter().zip(&topic).all(|(f, t)| *f == "+" || f == t)
}

#[test]
fn constants_are_the_contract_values() {
    assert_eq!(
        REQUEST_TOPIC,
        "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"
    );
    assert_eq!(
        [
            TIMESTAMP,
            FENCING_TOKEN,
            STATUS,
            PROTOCOL_VERSION,
            SOURCE_ID,
            PARTITION
        ],
        [
            "__ts",
            "__ft",
            "__stat",
            "__protVer",
            "__srcId",
            "$partition"
        ]
    );
    assert_eq!(PROTOCOL_VERSION_VALUE, "1.0");
    assert_eq!(STATUS_OK, "200");
    assert_eq!(CONTENT_TYPE, "application/octet-stream");
    assert_eq!(parse_protocol_version(PROTOCOL_VERSION_VALUE), Some((1, 0)));
    assert!(REQUEST_TOPIC.starts_with(&NOTIFICATION_ROOT["clients/".len()..]));
    assert!(SDK_RESPONSE_SUFFIX.contains(&NOTIFICATION_ROOT["clients/".len()..]));
}

#[test]
fn response_topic_is_the_rust_sdk_form() {
    assert_eq!(
        response_topic("node1"),
        "clients/node1/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response"
    );
    assert!(!is_forbidden_response_topic(&response_topic("node1")));
}

#[test]
fn client_ids_come_back_from_either_response_topic_form() {
    for id in ["node1", NON_ASCII_ID, "a/b", "x"] {
        assert_eq!(
            client_id_from_response_topic(&response_topic(id)).as_deref(),
            Some(id)
        );
        assert_eq!(
            client_id_from_response_topic(&format!(
                "clients/{id}/services/statestore/_any_/command/invoke/response"
            ))
            .as_deref(),
            Some(id)
        );
    }
}

#[test]
fn other_topics_carry_no_client_id() {
    for topic in [
        "",
        "clients//services/statestore/_any_/command/invoke/response",
        "clients/node1/services/statestore/_any_/command/invoke",
        "clients/node1/services/statestore/_any_/command/invoke/response/",
        "client/node1/services/statestore/_any_/command/invoke/response",
        "node1/services/statestore/_any_/command/invoke/response",
        "clients/+/services/statestore/_any_/command/invoke/response",
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/services/statestore/_any_/command/invoke/response",
        REQUEST_TOPIC,
    ] {
        assert_eq!(client_id_from_response_topic(topic), None, "{topic}");
    }
}

#[test]
fn forbidden_response_topics() {
    for topic in [
        "",
        REQUEST_TOPIC,
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8",
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/6E6F646531/command/notify/6B",
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8-suffix",
        "clients/+/response",
        "clients/#",
        "a\0b",
    ] {
        assert!(is_forbidden_response_topic(topic), "{topic:?}");
    }
    assert!(is_forbidden_response_topic(&"a".repeat(65_536)));
    for topic in [
        "clients/node1/services/statestore/_any_/command/invoke/response",
        "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response",
        "clients/statestore/v1/fa9ae35f-2f64-47cd-9bff-08e2b32a0fe8",
        "replies",
    ] {
        assert!(!is_forbidden_response_topic(topic), "{topic:?}");
    }
    assert!(!is_forbidden_response_topic(&"a".repeat(65_535)));
}

#[test]
fn notification_topic_is_hex_of_client_id_and_key() {
    assert_eq!(
        notification_topic("node1", b"lock"),
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/6E6F646531/command/notify/6C6F636B"
    );
    assert_eq!(
        notification_filter("node1"),
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/6E6F646531/command/notify/+"
    );
    assert_eq!(
        notification_topic("é", &[0x00, 0xff, b'/', b'+', b'#']),
        "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/C3A9/command/notify/00FF2F2B23"
    );
}

#[test]
fn notification_topics_match_their_filter_and_parse_back() {
    let keys: [&[u8]; 4] = [b"lock", b"\0\r\n", &[0xff, 0x00, 0x80], b"a/b+c#"];
    for id in ["node1", NON_ASCII_ID, "a/b+c#"] {
        for key in keys {
            let topic = notification_topic(id, key);
            assert!(filter_matches(&notification_filter(id), &topic), "{topic}");
            assert!(!filter_matches(&notification_filter("other"), &topic));
            assert_eq!(
                parse_notification_topic(&topic),
                Some((id.to_owned(), key.to_vec()))
            );
        }
    }
}

#[test]
fn notification_topics_parse_lower_and_mixed_case_hex() {
    let root = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";
    assert_eq!(
        parse_notification_topic(&format!("{root}/6e6f646531/command/notify/6c6F636b")),
        Some(("node1".to_owned(), b"lock".to_vec()))
    );
}

#[test]
fn bad_notification_topics_do_not_parse() {
    let root = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";
    for topic in [
        format!("{root}/6E6F646531/command/notify/6C6F636"),
        format!("{root}/6E6F64653/command/notify/6C6F636B"),
        format!("{root}/6E6F646531/command/notify/6G"),
        format!("{root}/6E6F646531/command/notify/+6"),
        format!("{root}/6E6F646531/command/notify/6C/6F"),
        format!("{root}/6E6F646531/command/notify/"),
        format!("{root}//command/notify/6C"),
        format!("{root}/FF/command/notify/6C"),
        format!("{root}/6E6F646531/command/notify"),
        format!("{root}/6E6F646531/command/notifyx/6C"),
        format!("{root}6E6F646531/command/notify/6C"),
        format!("{root}/6E6F646531/x/command/notify/6C"),
        "clients/statestore/v2/6E6F646531/command/notify/6C".to_owned(),
        format!("{root}/6E6F646531/command/notify/６C"),
    ] {
        assert_eq!(parse_notification_topic(&topic), None, "{topic}");
    }
}

#[test]
fn hex_upper_spells_every_byte() {
    assert_eq!(hex_upper(b""), "");
    assert_eq!(hex_upper(&[0x00, 0x0a, 0xab, 0xff]), "000AABFF");
    let all: Vec<u8> = (0..=255).collect();
    let hex = hex_upper(&all);
    assert_eq!(hex.len(), 512);
    assert_eq!(decode_hex(&hex), Some(all));
}

#[test]
fn message_expiry_is_the_time_left_rounded_up_to_a_second_at_least_one() {
    let ms = Duration::from_millis;
    assert_eq!(message_expiry_secs(ms(5000)), 5);
    assert_eq!(message_expiry_secs(ms(4001)), 5);
    assert_eq!(message_expiry_secs(Duration::new(4, 1)), 5);
    assert_eq!(message_expiry_secs(ms(999)), 1);
    assert_eq!(message_expiry_secs(Duration::ZERO), 1);
    assert_eq!(message_expiry_secs(Duration::MAX), u32::MAX);
}

#[test]
fn a_request_may_land_until_timeout_plus_a_second_of_rounding_plus_transit() {
    let ms = Duration::from_millis;
    assert_eq!(TRANSIT_BOUND, ms(1000));
    assert_eq!(request_lifetime(ms(5000), TRANSIT_BOUND), ms(7000));
    // Not rounded: a 2.5 s timeout is in doubt for 4.5 s, not 5 s.
    assert_eq!(request_lifetime(ms(2500), TRANSIT_BOUND), ms(4500));
    assert_eq!(request_lifetime(ms(200), ms(50)), ms(1250));
    assert_eq!(
        request_lifetime(Duration::MAX, TRANSIT_BOUND),
        Duration::MAX
    );
}

#[test]
fn protocol_versions_are_major_dot_minor() {
    assert_eq!(parse_protocol_version("1.0"), Some((1, 0)));
    assert_eq!(parse_protocol_version("2.13"), Some((2, 13)));
    assert_eq!(parse_protocol_version("01.00"), Some((1, 0)));
    assert_eq!(parse_protocol_version("4294967295.0"), Some((u32::MAX, 0)));
    for bad in [
        "",
        "1",
        "1.",
        ".0",
        "1.0.0",
        "+1.0",
        "1.+0",
        "-1.0",
        " 1.0",
        "1.0 ",
        "1,0",
        "v1.0",
        "4294967296.0",
        "１.0",
    ] {
        assert_eq!(parse_protocol_version(bad), None, "{bad:?}");
    }
}
