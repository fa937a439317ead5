//! The MQTT face of the service's protocol core
//! (`elector_statestore::service`): a PUBLISH in, PUBLISHes out, no IO.

use std::sync::Arc;
use std::time::Duration;

use elector_statestore as ss;
use elector_statestore::protocol;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};

use super::disk::Disk;
use super::drops::{Drops, EXPIRED_IN_QUEUE};
use super::received::{Received, incoming};
use elector_host::clock::StoreClock;

/// A message to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Vec<u8>,
    pub properties: PublishProperties,
}

impl From<ss::service::Outgoing> for Outgoing {
    fn from(message: ss::service::Outgoing) -> Self {
        Outgoing {
            topic: message.topic,
            payload: message.payload,
            properties: PublishProperties {
                correlation_data: message.correlation.map(Into::into),
                content_type: Some(protocol::CONTENT_TYPE.to_owned()),
                user_properties: message.user_properties,
                ..PublishProperties::default()
            },
        }
    }
}

pub struct Handler {
    service: ss::service::Service,
    /// Where changes go before anything they caused is published (none:
    /// in memory).
    disk: Option<Disk>,
    clock: StoreClock,
    drops: Arc<Drops>,
    metrics: Option<Arc<super::metrics::ServiceMetrics>>,
}

impl Handler {
    pub fn new(
        service: ss::service::Service,
        disk: Option<Disk>,
        clock: StoreClock,
        drops: Arc<Drops>,
        metrics: Option<Arc<super::metrics::ServiceMetrics>>,
    ) -> Self {
        Handler {
            service,
            disk,
            clock,
            drops,
            metrics,
        }
    }

    /// Writes down what the requests and expiries handled since the last
    /// call changed, and returns once it is on disk: only then may their
    /// answers and notifications be published. Nothing to do in memory.
    ///
    /// # Errors
    ///
    /// When the write failed: the store in memory is now ahead of the disk,
    /// and the service must stop without publishing what it holds.
    pub async fn write_down(&mut self) -> anyhow::Result<()> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        let changes = self.service.take_changes();
        if changes.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        disk.write(changes).await?;
        if let Some(metrics) = &self.metrics {
            metrics.written(started.elapsed());
        }
        Ok(())
    }

    pub fn time_to_next_expiry(&self) -> Option<Duration> {
        self.service.next_expiry().map(|ms| self.clock.until(ms))
    }

    /// DELETE notifications for every key due to expire by now.
    pub fn expire(&mut self) -> Vec<Outgoing> {
        let expired = self.service.expire(self.clock.now_ms());
        if let Some(metrics) = &self.metrics {
            metrics.holds(&self.service.usage());
        }
        expired.into_iter().map(Outgoing::from).collect()
    }

    /// Answers a request taken from the service's queue.
    pub fn handle_received(&mut self, request: &Received) -> Vec<Outgoing> {
        self.handle_received_at(self.clock.now_ms(), request)
    }

    /// Answers a request taken from the service's queue at `now_ms`, unless
    /// its message expiry ran out while it waited there: then it is dropped
    /// unanswered, as the broker would have dropped it (its requester has
    /// given up, and counts on it never landing after its expiry).
    pub fn handle_received_at(&mut self, now_ms: u64, request: &Received) -> Vec<Outgoing> {
        if request.has_expired(now_ms) {
            self.dropped(EXPIRED_IN_QUEUE);
            return Vec::new();
        }
        let outgoing = self.handle_at(now_ms, &request.publish);
        if let Some(metrics) = &self.metrics
            && let Some(answer) = outgoing
                .iter()
                .find(|o| o.properties.correlation_data.is_some())
        {
            metrics.answered(
                &request.publish.payload,
                &answer.payload,
                request.arrived.elapsed(),
            );
            metrics.holds(&self.service.usage());
        }
        outgoing
    }

    pub fn handle_at(&mut self, now_ms: u64, publish: &Publish) -> Vec<Outgoing> {
        match self.service.handle(now_ms, &incoming(publish)) {
            Ok(outgoing) => outgoing.into_iter().map(Outgoing::from).collect(),
            Err(dropped) => {
                self.dropped(dropped.reason());
                Vec::new()
            }
        }
    }

    /// Logs what was dropped since the last summary, if anything, with what
    /// the service holds.
    pub fn log_summary(&self) {
        let dropped = self.drops.take_summary();
        if !dropped.is_empty() {
            let usage = self.service.usage();
            tracing::warn!(
                ?dropped,
                keys = usage.keys,
                stored_bytes = usage.stored_bytes,
                watches = usage.watches,
                lapsed_registrations = usage.lapsed_registrations,
                "state-store requests dropped unanswered since the last summary"
            );
        }
    }

    /// Debug, not warn: a client sending such requests on purpose must not
    /// be able to flood the log as well (`Drops` keeps the count).
    fn dropped(&self, reason: &'static str) {
        tracing::debug!(reason, "request dropped unanswered");
        self.drops.count(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::received::tests::{NOW, request_with};
    use elector_host::mqtt::properties::user_property;

    fn handler() -> Handler {
        handler_counting(Arc::default())
    }

    fn handler_counting(drops: Arc<Drops>) -> Handler {
        let service = ss::service::Service::new("elector-statestore", ss::Limits::default());
        Handler::new(service, None, StoreClock::start(), drops, None)
    }

    fn request(client: &str, payload: &[u8], extra: &[(&str, &str)]) -> Publish {
        request_with(client, payload, extra)
    }

    fn user<'a>(out: &'a Outgoing, name: &str) -> Option<&'a str> {
        user_property(&out.properties, name)
    }

    #[test]
    fn a_set_is_answered_byte_for_byte_with_status_version_and_correlation() {
        let mut handler = handler();
        let out = handler.handle_at(
            NOW,
            &request(
                "c1",
                b"*5\r\n$3\r\nSET\r\n$4\r\nlock\r\n$2\r\nc1\r\n$3\r\nNEX\r\n$2\r\nPX\r\n",
                &[],
            ),
        );
        // The request above is malformed (PX without a number): -ERR.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].payload, b"-ERR syntax error\r\n");
        let set = request(
            "c1",
            b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$2\r\nc1\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$4\r\n5000\r\n",
            &[],
        );
        let out = handler.handle_at(NOW, &set);
        assert_eq!(out.len(), 1);
        let answer = &out[0];
        assert_eq!(
            answer.topic,
            "clients/c1/services/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response"
        );
        assert_eq!(answer.payload, b"+OK\r\n");
        assert_eq!(
            answer.properties.correlation_data,
            set.properties.as_ref().unwrap().correlation_data,
            "echoed"
        );
        assert_eq!(
            answer.properties.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(user(answer, "__stat"), Some("200"));
        assert_eq!(user(answer, "__protVer"), Some("1.0"));
        let version: ss::Hlc = user(answer, "__ts").unwrap().parse().unwrap();
        assert!(
            version.wall_clock_ms >= NOW,
            "newer than the request's __ts"
        );
        assert_eq!(version.node_id, "elector-statestore");
    }

    #[test]
    fn the_answer_goes_before_other_watchers_notifications_and_expiry_notifies_on_time() {
        let mut handler = handler();
        let keynotify = b"*2\r\n$9\r\nKEYNOTIFY\r\n$4\r\nlock\r\n";
        let out = handler.handle_at(NOW, &request("watcher", keynotify, &[]));
        assert_eq!(out[0].payload, b"+OK\r\n");
        let set = b"*5\r\n$3\r\nSET\r\n$4\r\nlock\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n100\r\n";
        let out = handler.handle_at(NOW, &request("writer", set, &[]));
        assert_eq!(out.len(), 2);
        // The writer does not watch: its answer need not wait for the
        // watcher's notification.
        assert_eq!(out[0].topic, protocol::response_topic("writer"));
        let note = &out[1];
        assert_eq!(
            note.topic,
            "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/77617463686572/command/notify/6C6F636B"
        );
        assert_eq!(
            note.payload,
            b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$1\r\nv\r\n"
        );
        assert_eq!(
            user(note, "__ts"),
            user(&out[0], "__ts"),
            "the change's version"
        );
        assert_eq!(note.properties.correlation_data, None);
        // The key expires 100 ms later, without any request.
        let expired = handler.handle_at(
            NOW + 100,
            &request("other", b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", &[]),
        );
        assert_eq!(
            expired[0].payload,
            b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"
        );
        assert_eq!(expired[1].payload, b"$-1\r\n");
    }

    #[test]
    fn fencing_errors_and_timestamps_are_enforced() {
        let mut handler = handler();
        let set = |token: &str| {
            request(
                "c",
                b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
                &[("__ft", token)],
            )
        };
        let fresh = format!("{NOW:015}:00005:store");
        let old = format!("{NOW:015}:00001:store");
        assert_eq!(handler.handle_at(NOW, &set(&fresh))[0].payload, b"+OK\r\n");
        assert_eq!(
            handler.handle_at(NOW, &set(&old))[0].payload,
            b"-ERR the request fencing token is a lower version than the fencing token protecting the resource\r\n"
        );
        let del = request("c", b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n", &[]);
        assert_eq!(
            handler.handle_at(NOW, &del)[0].payload,
            b"-ERR a fencing token is required for this request\r\n"
        );
        let mut ahead = request("c", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", &[]);
        ahead.properties.as_mut().unwrap().user_properties[1].1 =
            format!("{:015}:00000:c", NOW + 61_000);
        assert_eq!(
            handler.handle_at(NOW, &ahead)[0].payload,
            b"-ERR the request timestamp is too far in the future; ensure that the client and broker system clocks are synchronized\r\n"
        );
        let mut malformed = request("c", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", &[]);
        malformed.properties.as_mut().unwrap().user_properties[1].1 = "yesterday".into();
        assert_eq!(
            handler.handle_at(NOW, &malformed)[0].payload,
            b"-ERR malformed timestamp\r\n"
        );
    }

    #[test]
    fn garbage_gets_an_error_and_the_service_keeps_serving() {
        let mut handler = handler();
        for payload in [
            &b""[..],
            b"GET k",
            b"*1\r\n$4\r\nPING\r\n",
            b"*2\r\n$3\r\nGET\r\n$999\r\nk\r\n",
            &[0xff; 64],
        ] {
            let out = handler.handle_at(NOW, &request("c", payload, &[]));
            assert_eq!(out.len(), 1);
            assert!(
                out[0].payload.starts_with(b"-ERR "),
                "{:?}",
                String::from_utf8_lossy(&out[0].payload)
            );
        }
        let get = request("c", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", &[]);
        assert_eq!(handler.handle_at(NOW, &get)[0].payload, b"$-1\r\n");
    }

    #[test]
    fn forbidden_or_missing_response_topics_are_not_answered() {
        let mut handler = handler();
        let mut to_itself = request("c", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", &[]);
        to_itself.properties.as_mut().unwrap().response_topic =
            Some(protocol::REQUEST_TOPIC.into());
        assert!(handler.handle_at(NOW, &to_itself).is_empty());
        let mut spoofed = to_itself.clone();
        spoofed.properties.as_mut().unwrap().response_topic =
            Some("clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/x".into());
        assert!(handler.handle_at(NOW, &spoofed).is_empty());
        let mut none = to_itself;
        none.properties.as_mut().unwrap().response_topic = None;
        assert!(handler.handle_at(NOW, &none).is_empty());
    }

    #[test]
    fn a_request_whose_expiry_ran_out_in_the_queue_is_dropped_unanswered() {
        let mut handler = handler();
        let set = |value: &str| {
            let payload = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n{value}\r\n");
            let mut publish = request("c", payload.as_bytes(), &[]);
            publish.properties.as_mut().unwrap().message_expiry_interval = Some(2);
            publish
        };
        let get = || request("c", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", &[]);

        // Taken off the connection at NOW with 2 s left, handled 2 s later.
        let late = Received::new(set("a"), NOW);
        assert!(handler.handle_received_at(NOW + 2_000, &late).is_empty());
        assert_eq!(
            handler.handle_at(NOW + 2_000, &get())[0].payload,
            b"$-1\r\n",
            "not applied"
        );

        // Handled just in time: applied and answered.
        let in_time = Received::new(set("b"), NOW);
        assert_eq!(
            handler.handle_received_at(NOW + 1_999, &in_time)[0].payload,
            b"+OK\r\n"
        );
        assert_eq!(
            handler.handle_at(NOW + 2_000, &get())[0].payload,
            b"$1\r\nb\r\n"
        );

        // A request without an expiry is always answered.
        let forever = Received::new(get(), NOW);
        assert_eq!(handler.handle_received_at(u64::MAX / 2, &forever).len(), 1);
    }

    #[test]
    fn a_resent_request_gets_the_first_answer_again() {
        let mut handler = handler();
        let nx = request(
            "c",
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n",
            &[],
        );
        let first = handler.handle_at(NOW, &nx);
        let again = handler.handle_at(NOW, &nx);
        assert_eq!(first.len(), 1, "nobody watches");
        assert_eq!(first[0].payload, b"+OK\r\n");
        assert_eq!(again, vec![first[0].clone()], "not applied twice");
    }

    #[test]
    fn requests_dropped_unanswered_are_counted_by_reason() {
        let drops = Arc::new(Drops::default());
        let mut handler = handler_counting(drops.clone());
        let get = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let mut expired = request("c", get, &[]);
        expired.properties.as_mut().unwrap().message_expiry_interval = Some(0);
        assert!(
            handler
                .handle_received_at(NOW, &Received::new(expired, NOW))
                .is_empty()
        );
        let mut foreign = request("c", get, &[]);
        foreign.properties.as_mut().unwrap().response_topic = Some("factory/valve/cmd".into());
        assert!(handler.handle_at(NOW, &foreign).is_empty());
        assert_eq!(drops.total(EXPIRED_IN_QUEUE), 1);
        assert_eq!(drops.total("foreign-response-topic"), 1);
        handler.log_summary();
        assert!(
            drops.take_summary().is_empty(),
            "the summary took the counts"
        );
    }
}
