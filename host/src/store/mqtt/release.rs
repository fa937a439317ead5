//! Release on disconnect: the connection's MQTT Will is the state-store
//! `VDEL` of the candidate's position and lock value, published by the
//! broker when it has lost the connection for the Will Delay Interval. A
//! crashed leader is then replaced about that delay after the crash,
//! whatever its term.
//!
//! The candidate must never believe it leads once the Will may have acted.
//! [`elector_statestore::release::LinkTrust`] keeps the rule; this module
//! feeds it: the send time of every request whose answer came back, a probe
//! every fifth of the delay so an idle leader stays confirmed, and each
//! reconnect (was the session resumed before the old Will could fire?).
//!
//! The Will is rebuilt before every connect, with fresh correlation data
//! (two Wills with the same correlation data would look like a re-send to
//! the store, which answers a re-send from its replay cache instead of
//! applying it) and a current `__ts`.

use std::sync::{Mutex, Weak};
use std::time::Duration;

use elector_statestore as ss;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, LastWillProperties};
use ss::release::{LinkTrust, Trust};

use super::Shared;
use super::link::LinkState;
use crate::clock;
use crate::mqtt::properties;

/// The position a connection releases when it is lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseOnDisconnect {
    pub position: Vec<u8>,
    /// The candidate's lock value (`name:session`), so the `VDEL` deletes
    /// the position only while this candidate holds it.
    pub lock_value: Vec<u8>,
    /// The Will Delay Interval: whole seconds (MQTT counts it so), at
    /// least one.
    pub delay: Duration,
}

/// The default Will Delay Interval.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReleaseError {
    #[error(
        "release-on-disconnect delay {0:?} must be a whole number of seconds, at least 1 s (MQTT \
         counts the Will Delay Interval in seconds, and a delay of 0 would release the position \
         before the candidate could know its link was lost)"
    )]
    Delay(Duration),
}

impl ReleaseOnDisconnect {
    pub fn new(position: &str, lock_value: &str, delay: Duration) -> Result<Self, ReleaseError> {
        if delay < Duration::from_secs(1)
            || delay.subsec_nanos() != 0
            || delay.as_secs() > u64::from(u32::MAX)
        {
            return Err(ReleaseError::Delay(delay));
        }
        Ok(ReleaseOnDisconnect {
            position: position.as_bytes().to_vec(),
            lock_value: lock_value.as_bytes().to_vec(),
            delay,
        })
    }

    fn delay_secs(&self) -> u32 {
        u32::try_from(self.delay.as_secs()).unwrap_or(u32::MAX)
    }

    /// How long a published Will can take to land: its message expiry
    /// (the request timeout's) plus the protocol's transit bound.
    pub fn will_lifetime(request_timeout: Duration) -> Duration {
        ss::protocol::request_lifetime(request_timeout, ss::protocol::TRANSIT_BOUND)
    }

    /// The Will for the next connect: a state-store request like any
    /// other, answered (to nobody, usually) on the client's response topic.
    pub fn will(
        &self,
        client_id: &str,
        timestamp: &ss::Hlc,
        request_timeout: Duration,
    ) -> LastWill {
        let command = ss::client::vdel_command(&self.position, &self.lock_value);
        let request = properties::request(
            client_id,
            &ss::protocol::response_topic(client_id),
            rand::random(),
            timestamp,
            None,
            ss::protocol::message_expiry_secs(request_timeout),
        );
        LastWill {
            topic: ss::protocol::REQUEST_TOPIC.into(),
            message: ss::resp::encode_request(&command).into(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Some(LastWillProperties {
                delay_interval: Some(self.delay_secs()),
                payload_format_indicator: None,
                message_expiry_interval: request.message_expiry_interval,
                content_type: request.content_type,
                response_topic: request.response_topic,
                correlation_data: request.correlation_data,
                user_properties: request.user_properties,
            }),
        }
    }

    /// The session expiry a connection with this Will needs: at least the
    /// delay, or the broker ends the session (and publishes the Will) first.
    pub fn session_expiry(&self, configured: Duration) -> Duration {
        configured.max(self.delay)
    }
}

/// A connection's release bookkeeping.
pub(crate) struct Release {
    pub config: ReleaseOnDisconnect,
    trust: Mutex<LinkTrust>,
    /// When the current connection was seen lost (before the reconnect was
    /// asked for).
    lost_at: Mutex<u64>,
    /// Probes in flight: sequence number → send time.
    probes: Mutex<std::collections::BTreeMap<u64, u64>>,
    /// The connection generation on which a probe last came back.
    echoed_on: std::sync::atomic::AtomicU64,
    /// Whether falling back to state-store probes was logged.
    fallback_logged: std::sync::atomic::AtomicBool,
}

impl Release {
    pub fn new(config: ReleaseOnDisconnect, request_timeout: Duration) -> Self {
        let now = clock::now_ns();
        Release {
            trust: Mutex::new(LinkTrust::new(
                config.delay,
                ReleaseOnDisconnect::will_lifetime(request_timeout),
                now,
            )),
            config,
            lost_at: Mutex::new(now),
            probes: Mutex::default(),
            echoed_on: std::sync::atomic::AtomicU64::new(0),
            fallback_logged: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn trust(&self) -> Trust {
        self.trust.lock().unwrap().trust()
    }

    /// A request sent at `sent_at` (ns) was answered.
    pub fn confirmed(&self, sent_at: u64) {
        self.trust.lock().unwrap().confirmed(sent_at);
    }

    pub fn link_lost(&self) {
        *self.lost_at.lock().unwrap() = clock::now_ns();
        self.probes.lock().unwrap().clear();
    }

    /// A CONNACK after the first: see [`LinkTrust::reconnected`].
    pub fn reconnected(&self, session_present: bool) {
        let lost_at = *self.lost_at.lock().unwrap();
        let mut trust = self.trust.lock().unwrap();
        trust.reconnected(clock::now_ns(), lost_at, session_present);
        let guard = trust.trust();
        if guard.may_land_until.is_some() {
            tracing::warn!(
                "the broker may have published this connection's release-on-disconnect Will: \
                 no campaign wins until it can no longer land"
            );
        }
    }

    /// How often an idle connection is confirmed: a fifth of the delay, so
    /// a lost probe or two still leave the lease standing.
    fn probe_period(&self) -> Duration {
        self.config.delay / 5
    }

    /// A probe came back on the connection of `generation`: `payload` is
    /// its sequence number.
    pub fn probe_returned(&self, generation: u64, payload: &[u8]) {
        self.echoed_on
            .store(generation, std::sync::atomic::Ordering::Relaxed);
        let Ok(bytes) = <[u8; 8]>::try_from(payload) else {
            return;
        };
        let sequence = u64::from_be_bytes(bytes);
        let sent_at = {
            let mut probes = self.probes.lock().unwrap();
            let sent_at = probes.get(&sequence).copied();
            // Older probes that never came back will not matter any more.
            probes.retain(|&s, _| s > sequence);
            sent_at
        };
        if let Some(sent_at) = sent_at {
            self.confirmed(sent_at);
        }
    }
}

/// The topic a client's probes go to and come back on: its own, under
/// the client id, which nobody else subscribes to.
pub fn probe_topic(client_id: &str) -> String {
    format!("clients/{client_id}/elector/probe")
}

/// How long a connection may be up before a probe that never came back
/// means the broker does not echo them.
const ECHO_PATIENCE: Duration = Duration::from_secs(1);

/// Sends a probe every [`Release::probe_period`] while the link is up, so
/// an idle connection keeps confirming it is alive at the broker. QoS 0:
/// a probe that is lost is simply not confirmed.
///
/// A broker whose ACL forbids the probe topic never echoes a probe; the
/// lease would then end a delay after every renewal. Such a connection
/// probes with a state-store request instead (a read of the empty key,
/// which every store refuses at once: its answer confirms like any other).
pub(crate) async fn probe(shared: Weak<Shared>) {
    let mut sequence = 0u64;
    loop {
        let Some(this) = shared.upgrade() else { return };
        let Some(release) = &this.release else { return };
        let period = release.probe_period();
        let up = match *this.link.borrow() {
            LinkState::Up { generation } => Some(generation),
            _ => None,
        };
        let echoes = up.is_some_and(|generation| {
            release.echoed_on.load(std::sync::atomic::Ordering::Relaxed) == generation
        });
        let up_for = this
            .up_since
            .lock()
            .unwrap()
            .map_or(Duration::ZERO, |since| since.elapsed());
        if up.is_some() && !echoes && up_for > ECHO_PATIENCE {
            if !release
                .fallback_logged
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(
                    topic = %probe_topic(&this.client_id),
                    "the broker does not echo this client's probes (an ACL?): probing with \
                     state-store requests instead"
                );
            }
            // Bounded by the period, so a silent store does not hold the
            // connection open after its last user is gone.
            let read = this.request(ss::client::get_command(b""), None);
            let _ = tokio::time::timeout(period, read).await;
        } else if up.is_some() {
            sequence += 1;
            release
                .probes
                .lock()
                .unwrap()
                .insert(sequence, clock::now_ns());
            let send = this.client.publish(
                probe_topic(&this.client_id),
                QoS::AtMostOnce,
                false,
                sequence.to_be_bytes().to_vec(),
            );
            if !matches!(tokio::time::timeout(period, send).await, Ok(Ok(()))) {
                // The connection is busy or gone; the next period tries
                // again.
                release.probes.lock().unwrap().remove(&sequence);
            }
        }
        let closing = this.closing.clone();
        drop(this);
        tokio::select! {
            () = closing.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_must_be_whole_seconds_and_at_least_one() {
        for bad in [0, 500, 1_500] {
            assert!(ReleaseOnDisconnect::new("p", "a:1", Duration::from_millis(bad)).is_err());
        }
        assert!(ReleaseOnDisconnect::new("p", "a:1", Duration::from_secs(2)).is_ok());
    }

    #[test]
    fn the_will_is_the_vdel_of_the_position_as_a_request() {
        let release = ReleaseOnDisconnect::new("job", "a:1", Duration::from_secs(3)).unwrap();
        let stamp = ss::Hlc::new(1, 0, "n");
        let first = release.will("c1", &stamp, Duration::from_secs(5));
        let second = release.will("c1", &stamp, Duration::from_secs(5));
        assert_eq!(first.topic, ss::protocol::REQUEST_TOPIC.as_bytes());
        let request = ss::resp::decode_request(&first.message).unwrap();
        assert_eq!(request, ss::client::vdel_command(b"job", b"a:1"));
        let properties = first.properties.unwrap();
        assert_eq!(properties.delay_interval, Some(3));
        assert_eq!(properties.message_expiry_interval, Some(5));
        assert_ne!(
            properties.correlation_data,
            second.properties.unwrap().correlation_data,
            "each connect's Will is a new request"
        );
    }
}
