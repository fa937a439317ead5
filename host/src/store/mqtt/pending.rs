//! Requests in flight: sent, keyed by correlation data, waiting for the
//! response that echoes it. Each waits at most the request timeout; a
//! dropped link fails them all at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use elector_statestore as ss;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Publish;
use tokio::sync::oneshot;

use super::Shared;
use super::link::LinkState;
use crate::bindings::StoreError;
use crate::mqtt::properties;
use crate::store::reply::Answer;

type Outcome = Result<Answer, StoreError>;

struct InFlight {
    /// Needed to read the reply (`:-1` means "not applied" only for SET).
    command: ss::Command,
    answer: oneshot::Sender<Outcome>,
}

#[derive(Default)]
pub struct Pending {
    requests: Mutex<HashMap<[u8; 16], InFlight>>,
}

impl Pending {
    fn insert(&self, correlation: [u8; 16], command: ss::Command) -> oneshot::Receiver<Outcome> {
        let (answer, receiver) = oneshot::channel();
        self.requests
            .lock()
            .unwrap()
            .insert(correlation, InFlight { command, answer });
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

impl Shared {
    /// Sends a request once the link is up and waits for its answer, both
    /// within the request timeout.
    pub async fn request(
        &self,
        command: ss::Command,
        fencing_token: Option<ss::Hlc>,
    ) -> Result<Answer, StoreError> {
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let mut link = self.link.subscribe();
        let up = link.wait_for(|state| matches!(state, LinkState::Up { .. }));
        match tokio::time::timeout_at(deadline, up).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Err(StoreError::Disconnected),
        }
        self.request_now(command, fencing_token, deadline).await
    }

    /// Sends a request whatever the link state (used while re-registering
    /// after a reconnect, before the link counts as up).
    pub async fn request_now(
        &self,
        command: ss::Command,
        fencing_token: Option<ss::Hlc>,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, StoreError> {
        let correlation: [u8; 16] = rand::random();
        let timestamp = self.clock.lock().unwrap().now(wall_clock_ms());
        let timeout_secs =
            u32::try_from(self.request_timeout.as_secs_f64().ceil() as u64).unwrap_or(u32::MAX);
        let props = properties::request(
            &self.client_id,
            &self.response_topic,
            correlation,
            &timestamp,
            fencing_token.as_ref(),
            timeout_secs,
        );
        let payload = ss::resp::encode_request(&command);
        let answer = self.pending.insert(correlation, command);
        let sent = self
            .client
            .publish_with_properties(
                ss::protocol::REQUEST_TOPIC,
                QoS::AtLeastOnce,
                false,
                payload,
                props,
            )
            .await;
        if sent.is_err() {
            self.pending.forget(&correlation);
            return Err(StoreError::Disconnected);
        }
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(StoreError::Disconnected),
            Err(_) => {
                self.pending.forget(&correlation);
                Err(StoreError::Timeout)
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
