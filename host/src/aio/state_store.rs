//! AIO's `state-store` import over a [`StateStoreBackend`].
//!
//! Each request is bounded by the `timeout` the operator passes, or the
//! host's default when it passes none, so an operator's `process` call
//! waits for the store no longer than it asked. A request that runs out of
//! time answers `timeout` (it may still be applied, as over MQTT). A store
//! refusal answers `request-error` with the store's exact text, the form
//! AIO's SDKs read; a lost link answers `internal`; a broken answer,
//! `protocol`.
//!
//! [`StateStoreBackend`]: crate::store::StateStoreBackend

use std::time::Duration;

use elector_statestore::{DeleteOutcome, Hlc, SetCondition, SetOptions, StoreError};

use super::hybrid_logical_clock::{HybridLogicalClock, Timespec};
use super::instance::AioHostState;
use super::state_store_types::{
    Duration as AioDuration, SetConditions, SetOptions as AioSetOptions, StateStoreDelResponse,
    StateStoreError, StateStoreGetResponse, StateStoreSetResponse,
};
use super::wit_state_store::Host;

impl super::hybrid_logical_clock::Host for AioHostState {}
impl super::state_store_types::Host for AioHostState {}

fn to_aio(version: &Hlc) -> HybridLogicalClock {
    HybridLogicalClock {
        timestamp: Timespec {
            secs: version.wall_clock_ms / 1000,
            nanos: (version.wall_clock_ms % 1000) as u32 * 1_000_000,
        },
        counter: u64::from(version.counter),
        node_id: version.node_id.clone(),
    }
}

/// A token the operator passes back; the store issued it, so it converts
/// exactly, and one it could not have issued is refused as the store
/// refuses a malformed timestamp.
fn from_aio(version: &HybridLogicalClock) -> Result<Hlc, StateStoreError> {
    let counter = u32::try_from(version.counter)
        .map_err(|_| StateStoreError::RequestError("malformed timestamp".into()))?;
    let millis = version.timestamp.secs.saturating_mul(1000)
        + u64::from(version.timestamp.nanos / 1_000_000);
    Ok(Hlc::new(millis, counter, version.node_id.clone()))
}

fn aio_error(error: StoreError) -> StateStoreError {
    match error {
        StoreError::Refused(kind) => StateStoreError::RequestError(kind.text().to_owned()),
        StoreError::Timeout => StateStoreError::Timeout,
        StoreError::Disconnected => StateStoreError::Internal,
        StoreError::Protocol(_) => StateStoreError::Protocol,
    }
}

fn delete_response(outcome: DeleteOutcome) -> StateStoreDelResponse {
    StateStoreDelResponse {
        response: match outcome {
            DeleteOutcome::Deleted => 1,
            DeleteOutcome::Absent => 0,
            DeleteOutcome::ValueMismatch => -1,
        },
        version: None,
    }
}

impl AioHostState {
    fn bound(&self, timeout: Option<AioDuration>) -> Duration {
        timeout
            .map(|t| Duration::new(t.seconds, t.nanos))
            .filter(|t| !t.is_zero())
            .unwrap_or(self.request_timeout)
    }
}

/// Runs one request within its bound.
async fn within<T>(
    bound: Duration,
    request: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StateStoreError> {
    match tokio::time::timeout(bound, request).await {
        Ok(result) => result.map_err(aio_error),
        Err(_) => Err(StateStoreError::Timeout),
    }
}

impl Host for AioHostState {
    async fn get(
        &mut self,
        key: Vec<u8>,
        timeout: Option<AioDuration>,
    ) -> wasmtime::Result<Result<StateStoreGetResponse, StateStoreError>> {
        let store = self.store.clone();
        Ok(within(self.bound(timeout), store.get(&key))
            .await
            .map(|found| match found {
                Some(found) => StateStoreGetResponse {
                    response: Some(found.value),
                    version: Some(to_aio(&found.version)),
                },
                None => StateStoreGetResponse {
                    response: None,
                    version: None,
                },
            }))
    }

    async fn set(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        timeout: Option<AioDuration>,
        fencing_token: Option<HybridLogicalClock>,
        options: AioSetOptions,
    ) -> wasmtime::Result<Result<StateStoreSetResponse, StateStoreError>> {
        let fencing_token = match fencing_token.as_ref().map(from_aio).transpose() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let expiry_ms = options.expires.map(|e| {
            u64::try_from(Duration::new(e.seconds, e.nanos).as_millis()).unwrap_or(u64::MAX)
        });
        let options = SetOptions {
            condition: match options.conditions {
                SetConditions::Unconditional => SetCondition::Unconditional,
                SetConditions::OnlyIfDoesNotExist => SetCondition::OnlyIfAbsent,
                SetConditions::OnlyIfEqualOrDoesNotExist => SetCondition::OnlyIfAbsentOrEqual,
            },
            expiry_ms,
            fencing_token,
        };
        let store = self.store.clone();
        Ok(
            within(self.bound(timeout), store.set(&key, &value, &options))
                .await
                .map(|answer| StateStoreSetResponse {
                    response: answer.applied,
                    version: answer.version.as_ref().map(to_aio),
                }),
        )
    }

    async fn del(
        &mut self,
        key: Vec<u8>,
        fencing_token: Option<HybridLogicalClock>,
        timeout: Option<AioDuration>,
    ) -> wasmtime::Result<Result<StateStoreDelResponse, StateStoreError>> {
        let token = match fencing_token.as_ref().map(from_aio).transpose() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let store = self.store.clone();
        Ok(within(self.bound(timeout), store.del(&key, token.as_ref()))
            .await
            .map(delete_response))
    }

    async fn vdel(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        fencing_token: Option<HybridLogicalClock>,
        timeout: Option<AioDuration>,
    ) -> wasmtime::Result<Result<StateStoreDelResponse, StateStoreError>> {
        let token = match fencing_token.as_ref().map(from_aio).transpose() {
            Ok(token) => token,
            Err(error) => return Ok(Err(error)),
        };
        let store = self.store.clone();
        Ok(within(
            self.bound(timeout),
            store.vdel(&key, &value, token.as_ref()),
        )
        .await
        .map(delete_response))
    }
}
