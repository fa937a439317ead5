//! The MQTT 5 properties of state-store messages: building requests and
//! responses, and reading the ones that carry the protocol (`__ts`, `__ft`,
//! `__stat`, `__protVer`, `__srcId`).

use elector_statestore::Hlc;
use elector_statestore::protocol;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

/// The first user property called `name`.
pub fn user_property<'a>(properties: &'a PublishProperties, name: &str) -> Option<&'a str> {
    properties
        .user_properties
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// A request as Microsoft's SDK clients send it.
pub fn request(
    client_id: &str,
    response_topic: &str,
    correlation: [u8; 16],
    timestamp: &Hlc,
    fencing_token: Option<&Hlc>,
    timeout_secs: u32,
) -> PublishProperties {
    let mut user_properties = vec![
        (protocol::SOURCE_ID.to_owned(), client_id.to_owned()),
        (protocol::TIMESTAMP.to_owned(), timestamp.to_string()),
        (
            protocol::PROTOCOL_VERSION.to_owned(),
            protocol::PROTOCOL_VERSION_VALUE.to_owned(),
        ),
        (protocol::PARTITION.to_owned(), client_id.to_owned()),
    ];
    if let Some(token) = fencing_token {
        user_properties.push((protocol::FENCING_TOKEN.to_owned(), token.to_string()));
    }
    PublishProperties {
        response_topic: Some(response_topic.to_owned()),
        correlation_data: Some(correlation.to_vec().into()),
        content_type: Some(protocol::CONTENT_TYPE.to_owned()),
        message_expiry_interval: Some(timeout_secs.max(1)),
        user_properties,
        ..PublishProperties::default()
    }
}

/// Why a response cannot be used, in the words of the protocol.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResponseError {
    #[error("response without __stat")]
    MissingStatus,
    #[error("response status {0} (not 200)")]
    Status(String),
    #[error("response protocol version {0:?} is not major.minor 1.x")]
    ProtocolVersion(String),
    #[error("response without __ts")]
    MissingTimestamp,
    #[error("response __ts {0:?} is not an HLC")]
    BadTimestamp(String),
    #[error("content type {0:?} is not application/octet-stream")]
    ContentType(String),
}

/// Checks a response's status, protocol version and content type, and
/// returns its `__ts`, if it has one.
///
/// A missing `__ts` is not an error here, as Microsoft's command invoker
/// treats it as optional: the contract has the service send it on every
/// response, but a `-ERR` or KEYNOTIFY answer does not need it, and
/// refusing those would fail every blocking campaign (KEYNOTIFY) or turn a
/// fencing refusal into an untyped protocol error. Whether an operation
/// needs the version is decided where its reply is read
/// (`store::reply`). A `__ts` that is present but not an HLC is an error.
pub fn check_response(properties: &PublishProperties) -> Result<Option<Hlc>, ResponseError> {
    let status = user_property(properties, protocol::STATUS).ok_or(ResponseError::MissingStatus)?;
    if status != protocol::STATUS_OK {
        return Err(ResponseError::Status(status.to_owned()));
    }
    if let Some(version) = user_property(properties, protocol::PROTOCOL_VERSION) {
        match protocol::parse_protocol_version(version) {
            Some((1, _)) => {}
            _ => return Err(ResponseError::ProtocolVersion(version.to_owned())),
        }
    }
    if let Some(content_type) = &properties.content_type
        && content_type != protocol::CONTENT_TYPE
    {
        return Err(ResponseError::ContentType(content_type.clone()));
    }
    match timestamp(properties) {
        Ok(version) => Ok(Some(version)),
        Err(ResponseError::MissingTimestamp) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The `__ts` of a response or notification.
pub fn timestamp(properties: &PublishProperties) -> Result<Hlc, ResponseError> {
    let text =
        user_property(properties, protocol::TIMESTAMP).ok_or(ResponseError::MissingTimestamp)?;
    text.parse()
        .map_err(|_| ResponseError::BadTimestamp(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_what_the_sdks_send() {
        let ts = Hlc::new(1_795_685_572_581, 0, "me");
        let ft = Hlc::new(1_795_685_572_000, 3, "store");
        let properties = request("me", "clients/me/r", [7; 16], &ts, Some(&ft), 10);
        assert_eq!(properties.response_topic.as_deref(), Some("clients/me/r"));
        assert_eq!(properties.correlation_data.as_deref(), Some(&[7u8; 16][..]));
        assert_eq!(
            properties.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(properties.message_expiry_interval, Some(10));
        assert_eq!(user_property(&properties, "__srcId"), Some("me"));
        assert_eq!(
            user_property(&properties, "__ts"),
            Some("001795685572581:00000:me")
        );
        assert_eq!(
            user_property(&properties, "__ft"),
            Some("001795685572000:00003:store")
        );
        assert_eq!(user_property(&properties, "__protVer"), Some("1.0"));
    }

    #[test]
    fn responses_are_checked() {
        let version = Hlc::new(5, 1, "store");
        let good = PublishProperties {
            content_type: Some(protocol::CONTENT_TYPE.into()),
            user_properties: elector_statestore::service::reply_properties(&version),
            ..PublishProperties::default()
        };
        assert_eq!(check_response(&good), Ok(Some(version.clone())));
        let mut no_status = good.clone();
        no_status.user_properties.retain(|(k, _)| k != "__stat");
        assert_eq!(
            check_response(&no_status),
            Err(ResponseError::MissingStatus)
        );
        let mut bad_status = good.clone();
        bad_status.user_properties[0].1 = "503".into();
        assert_eq!(
            check_response(&bad_status),
            Err(ResponseError::Status("503".into()))
        );
        let mut bare_version = good.clone();
        bare_version.user_properties[1].1 = "1".into();
        assert!(matches!(
            check_response(&bare_version),
            Err(ResponseError::ProtocolVersion(_))
        ));
        let mut no_ts = good.clone();
        no_ts.user_properties.truncate(2);
        assert_eq!(check_response(&no_ts), Ok(None), "__ts is optional");
        assert_eq!(timestamp(&no_ts), Err(ResponseError::MissingTimestamp));
        let mut bad_ts = good.clone();
        bad_ts.user_properties[2].1 = "yesterday".into();
        assert_eq!(
            check_response(&bad_ts),
            Err(ResponseError::BadTimestamp("yesterday".into()))
        );
        let mut text = good;
        text.content_type = Some("text/plain".into());
        assert!(matches!(
            check_response(&text),
            Err(ResponseError::ContentType(_))
        ));
    }
}
