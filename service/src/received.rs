//! A request in the service's queue, with the moment its message expiry
//! runs out.
//!
//! The broker drops a request whose Message Expiry Interval has passed,
//! and forwards what is left of it with the ones it delivers; but a
//! delivered request can still wait in this service's own queue behind
//! others. Its requester gives up at its deadline and counts on the
//! request never landing after its expiry (`protocol::request_lifetime`),
//! so a request whose expiry passed while it waited here is dropped, not
//! applied late.

use elector_statestore as ss;
use rumqttc::v5::mqttbytes::v5::Publish;

pub struct Received {
    pub publish: Publish,
    /// When it was taken off the connection, for the latency it saw.
    pub arrived: std::time::Instant,
    /// On the service's store clock; `None`: the request never expires.
    expires_at_ms: Option<u64>,
}

impl Received {
    /// A request taken off the connection at `now_ms` (the service's store
    /// clock). The broker forwarded the expiry left at that moment, so the
    /// expiry counts from here.
    pub fn new(publish: Publish, now_ms: u64) -> Self {
        let expires_at_ms = publish
            .properties
            .as_ref()
            .and_then(|properties| properties.message_expiry_interval)
            .map(|secs| now_ms.saturating_add(u64::from(secs) * 1000));
        Received {
            publish,
            arrived: std::time::Instant::now(),
            expires_at_ms,
        }
    }

    /// When its message expiry runs out (store clock), if it has one. Only
    /// the etcd-backed frontends (`ha/`) hand it on.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expires_at_ms
    }

    /// True once its expiry has run out: at `now_ms` its requester has
    /// given up on it. (An interval of 0, nothing left, is expired at once.)
    pub fn has_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }

    /// What the service core reads of it.
    pub fn incoming(&self) -> ss::service::Incoming<'_> {
        incoming(&self.publish)
    }
}

/// What the service core reads of a request: its response topic,
/// correlation data, user properties and payload.
pub fn incoming(publish: &Publish) -> ss::service::Incoming<'_> {
    let properties = publish.properties.as_ref();
    ss::service::Incoming {
        response_topic: properties.and_then(|p| p.response_topic.as_deref()),
        correlation: properties.and_then(|p| p.correlation_data.as_deref()),
        user_properties: properties.map_or(&[], |p| &p.user_properties),
        payload: &publish.payload,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::PublishProperties;

    fn with_expiry(secs: Option<u32>) -> Publish {
        let mut publish = Publish::new("t", QoS::AtLeastOnce, "p", None);
        publish.properties = Some(PublishProperties {
            message_expiry_interval: secs,
            ..PublishProperties::default()
        });
        publish
    }

    /// A request at `NOW` from `client`, on its SDK-form response topic,
    /// with `__srcId`, `__ts`, `__protVer` and then `extra`, and 16 random
    /// bytes of correlation data.
    pub(crate) fn request_with(client: &str, payload: &[u8], extra: &[(&str, &str)]) -> Publish {
        let mut user_properties = vec![
            ("__srcId".to_owned(), client.to_owned()),
            ("__ts".to_owned(), format!("{NOW:015}:00000:{client}")),
            ("__protVer".to_owned(), "1.0".to_owned()),
        ];
        user_properties.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut publish = Publish::new(
            ss::protocol::REQUEST_TOPIC,
            QoS::AtLeastOnce,
            payload.to_vec(),
            None,
        );
        publish.properties = Some(PublishProperties {
            response_topic: Some(ss::protocol::response_topic(client)),
            correlation_data: Some(rand::random::<[u8; 16]>().to_vec().into()),
            content_type: Some(ss::protocol::CONTENT_TYPE.into()),
            user_properties,
            ..PublishProperties::default()
        });
        publish
    }

    /// [`request_with`] without extra properties.
    pub(crate) fn request(client: &str, payload: &[u8]) -> Publish {
        request_with(client, payload, &[])
    }

    /// The service clock's "now" in unit tests.
    pub(crate) const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn the_expiry_counts_from_receipt() {
        let received = Received::new(with_expiry(Some(2)), 10_000);
        assert!(!received.has_expired(11_999));
        assert!(received.has_expired(12_000));
        assert!(Received::new(with_expiry(Some(0)), 10_000).has_expired(10_000));
    }

    #[test]
    fn a_request_without_expiry_never_expires() {
        assert!(!Received::new(with_expiry(None), 10_000).has_expired(u64::MAX));
        let bare = Publish::new("t", QoS::AtLeastOnce, "p", None);
        assert!(!Received::new(bare, 10_000).has_expired(u64::MAX));
    }
}
