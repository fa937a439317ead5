//! Requests in flight: handed to the connection, keyed by correlation
//! data, waiting for the response that echoes it. Every request has one
//! deadline, fixed when the call begins, that bounds all of it: waiting for
//! the link, handing the request to the connection, and waiting for the
//! answer. A dropped link fails them all at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use elector_statestore as ss;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Publish;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Shared;
use super::handover;
use super::link::LinkState;
use crate::mqtt::properties;
use ss::StoreError;
use ss::client::Answer;

type Outcome = Result<Answer, StoreError>;

struct InFlight {
    /// Needed to read the reply (`:-1` means "not applied" only for SET).
    command: ss::Command,
    answer: oneshot::Sender<Outcome>,
    /// No later than the request went out (ns on the host's monotonic
    /// clock): its answer confirms the connection was alive after this.
    sent_at: u64,
}

#[derive(Default)]
pub struct Pending {
    requests: Mutex<HashMap<[u8; 16], InFlight>>,
}

impl Pending {
    fn insert(&self, correlation: [u8; 16], command: ss::Command) -> oneshot::Receiver<Outcome> {
        let (answer, receiver) = oneshot::channel();
        let sent_at = crate::clock::now_ns();
        self.requests.lock().unwrap().insert(
            correlation,
            InFlight {
                command,
                answer,
                sent_at,
            },
        );
        receiver
    }

    fn forget(&self, correlation: &[u8; 16]) {
        self.requests.lock().unwrap().remove(correlation);
    }

    /// Fails every request in flight: the link dropped, so their answers
    /// will never come (a request may still have been applied).
    pub fn fail_all(&self) {
        for (_, request) in self.requests.lock().unwrap().drain() {
            let _ = request.answer.send(Err(StoreError::Disconnected));
        }
    }
}

pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Removes a request's entry when its call ends (a no-op once its answer
/// took the entry).
struct Forget<'a> {
    pending: &'a Pending,
    correlation: [u8; 16],
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.pending.forget(&self.correlation);
    }
}

/// What a request carries besides its payload.
struct Envelope<'a> {
    correlation: [u8; 16],
    timestamp: ss::Hlc,
    fencing_token: Option<&'a ss::Hlc>,
    payload: bytes::Bytes,
}

impl Shared {
    /// Sends a request once the link is up and waits for its answer, all
    /// within the request timeout. `Disconnected` when the link is not up
    /// in time or drops before the answer; `Timeout` when the answer does
    /// not come in time. Either way the request may have been applied
    /// (unless the link never came up), but never later than
    /// `request_lifetime()` after this call began.
    pub async fn request(
        &self,
        command: ss::Command,
        fencing_token: Option<ss::Hlc>,
    ) -> Result<Answer, StoreError> {
        let deadline = Instant::now() + self.request_timeout;
        let generation = self.link_up_by(deadline).await?;
        let envelope = Envelope {
            correlation: rand::random(),
            timestamp: self.clock.lock().unwrap().now(wall_clock_ms()),
            fencing_token: fencing_token.as_ref(),
            payload: ss::resp::encode_request(&command).into(),
        };
        let correlation = envelope.correlation;
        let answer = self.pending.insert(correlation, command);
        // However this call ends (a caller that stops waiting drops it), its
        // entry goes: an answer that never comes must not keep it.
        let _entry = Forget {
            pending: &self.pending,
            correlation,
        };
        self.hand_over(&envelope, generation, deadline).await?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(StoreError::Disconnected),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Waits until requests may flow; returns the connection's generation.
    async fn link_up_by(&self, deadline: Instant) -> Result<u64, StoreError> {
        let mut link = self.link.subscribe();
        let up = link.wait_for(|state| matches!(state, LinkState::Up { .. } | LinkState::Closed));
        match tokio::time::timeout_at(deadline, up).await {
            Ok(Ok(state)) => match *state {
                LinkState::Up { generation } => Ok(generation),
                _ => Err(StoreError::Disconnected),
            },
            Ok(Err(_)) | Err(_) => Err(StoreError::Disconnected),
        }
    }

    /// Hands the request to the connection of `generation`, offering it in
    /// the windows of [`handover::window`] until the deadline. The request
    /// channel is a rendezvous: a request is either taken by the connection
    /// (and written to its socket at once) or not sent at all, so nothing
    /// waits in a queue to go out after a reconnect, or after its deadline.
    /// Gives up with `Disconnected` as soon as that connection is lost.
    async fn hand_over(
        &self,
        envelope: &Envelope<'_>,
        generation: u64,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let lost = self.connection_lost(generation);
        tokio::pin!(lost);
        loop {
            let Some(window) = handover::window(Instant::now(), deadline) else {
                return Err(StoreError::Timeout);
            };
            let publish = self.client.publish_with_properties(
                ss::protocol::REQUEST_TOPIC,
                QoS::AtLeastOnce,
                false,
                envelope.payload.clone(),
                properties::request(
                    &self.client_id,
                    &self.response_topic,
                    envelope.correlation,
                    &envelope.timestamp,
                    envelope.fencing_token,
                    window.expiry_secs,
                ),
            );
            tokio::select! {
                biased;
                () = &mut lost => return Err(StoreError::Disconnected),
                taken = tokio::time::timeout_at(window.hand_over_by, publish) => match taken {
                    Ok(Ok(())) => return Ok(()),
                    // The event loop is gone.
                    Ok(Err(_)) => return Err(StoreError::Disconnected),
                    // Not taken in this window: offer it again with the
                    // next, shorter expiry (same correlation data, so at
                    // most one answer counts should both copies go out).
                    Err(_) => {}
                },
            }
        }
    }

    /// Routes a response to its request. Responses nobody waits for (a
    /// second answer to a re-sent request, or one that came too late) are
    /// dropped.
    pub fn complete(&self, publish: &Publish) {
        let Some(properties) = &publish.properties else {
            return;
        };
        let Some(correlation) = properties
            .correlation_data
            .as_deref()
            .and_then(|c| <[u8; 16]>::try_from(c).ok())
        else {
            tracing::debug!("response without 16 bytes of correlation data dropped");
            return;
        };
        let Some(request) = self.pending.requests.lock().unwrap().remove(&correlation) else {
            return;
        };
        if let Some(release) = &self.release {
            release.confirmed(request.sent_at);
        }
        let answer = self.read_response(&request.command, properties, &publish.payload);
        let _ = request.answer.send(answer);
    }

    fn read_response(
        &self,
        command: &ss::Command,
        props: &rumqttc::v5::mqttbytes::v5::PublishProperties,
        payload: &[u8],
    ) -> Outcome {
        let protocol_error = |text: String| StoreError::Protocol(text);
        let version =
            properties::check_response(props).map_err(|e| protocol_error(e.to_string()))?;
        if let Some(version) = &version {
            self.merge_version(version)?;
        }
        let reply = ss::resp::decode_reply_for(command, payload)
            .map_err(|e| protocol_error(format!("malformed response payload: {e}")))?;
        Ok(Answer { reply, version })
    }

    /// Merges a version the store sent into the client's clock, refusing
    /// one more than a minute ahead of the local wall clock.
    pub fn merge_version(&self, version: &ss::Hlc) -> Result<(), StoreError> {
        let now = wall_clock_ms();
        if ss::is_too_far_ahead(version, now) {
            return Err(StoreError::Protocol(format!(
                "the store's version {version} is more than a minute ahead of this clock"
            )));
        }
        self.clock.lock().unwrap().merge(version, now);
        Ok(())
    }
}
