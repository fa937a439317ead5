//! The election core's ports ([`elector_guest::ports`]) served by AIO's
//! operator imports.

use core::time::Duration;

use elector_guest::types::{
    CandidateEvent, DeleteOutcome, Hlc, Instant, SetCondition, SetOptions, SetResponse, StoreError,
    StoreErrorKind, StoreResult, VersionedValue,
};

use crate::bindings::wasi::clocks::{monotonic_clock, wall_clock};
use crate::bindings::wasm_graph::processor::hybrid_logical_clock::{HybridLogicalClock, Timespec};
use crate::bindings::wasm_graph::processor::logger::{self, Level};
use crate::bindings::wasm_graph::processor::state_store as aio;
use crate::bindings::wasm_graph::processor::state_store_types as aio_types;
use crate::convert::{AioHlc, aio_duration};
use crate::executor::Sleep;
use crate::watch::PollingWatch;

/// AIO's `state-store` import. Its calls block the operator until the host
/// answers, so these async functions finish on their first poll.
#[derive(Clone, Copy, Debug)]
pub struct AioStore {
    /// Passed as `timeout` with every request.
    pub request_timeout: Duration,
    /// How often a waiting campaign re-reads the position.
    pub poll_interval: Duration,
}

impl AioStore {
    fn timeout(&self) -> Option<aio_types::Duration> {
        let (seconds, nanos) = aio_duration(self.request_timeout);
        Some(aio_types::Duration { seconds, nanos })
    }

    /// A plain `get`, for the polling watch.
    pub fn read(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        let answer = aio::get(key, self.timeout()).map_err(store_error)?;
        match (answer.response, answer.version) {
            (None, _) => Ok(None),
            (Some(value), Some(version)) => Ok(Some(VersionedValue {
                value,
                version: from_aio(&version)?,
            })),
            (Some(_), None) => Err(StoreError::Protocol(
                "the host's get answered a value without its version".into(),
            )),
        }
    }
}

impl elector_guest::StateStore for AioStore {
    type Watch = PollingWatch;

    async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        options: &SetOptions,
    ) -> StoreResult<SetResponse> {
        let conditions = match options.condition {
            SetCondition::Unconditional => aio_types::SetConditions::Unconditional,
            SetCondition::OnlyIfAbsent => aio_types::SetConditions::OnlyIfDoesNotExist,
            SetCondition::OnlyIfAbsentOrEqual => {
                aio_types::SetConditions::OnlyIfEqualOrDoesNotExist
            }
        };
        let expires = options.expiry_ms.map(|ms| {
            let (seconds, nanos) = aio_duration(Duration::from_millis(ms));
            aio_types::Duration { seconds, nanos }
        });
        let token = options.fencing_token.as_ref().map(to_aio);
        let answer = aio::set(
            key,
            value,
            self.timeout(),
            token.as_ref(),
            aio_types::SetOptions {
                conditions,
                expires,
            },
        )
        .map_err(store_error)?;
        Ok(SetResponse {
            applied: answer.response,
            version: answer.version.as_ref().map(from_aio).transpose()?,
        })
    }

    async fn get(&self, key: &[u8]) -> StoreResult<Option<VersionedValue>> {
        self.read(key)
    }

    async fn del(&self, key: &[u8], fencing_token: Option<&Hlc>) -> StoreResult<DeleteOutcome> {
        let token = fencing_token.map(to_aio);
        aio::del(key, token.as_ref(), self.timeout())
            .map_err(store_error)
            .and_then(|answer| delete_outcome(answer.response))
    }

    async fn vdel(
        &self,
        key: &[u8],
        value: &[u8],
        fencing_token: Option<&Hlc>,
    ) -> StoreResult<DeleteOutcome> {
        let token = fencing_token.map(to_aio);
        aio::vdel(key, value, token.as_ref(), self.timeout())
            .map_err(store_error)
            .and_then(|answer| delete_outcome(answer.response))
    }

    /// No `KEYNOTIFY` in AIO's operator interface: the watch reads the key
    /// at the poll interval instead.
    async fn watch(&self, key: &[u8]) -> StoreResult<PollingWatch> {
        PollingWatch::start(*self, key)
    }
}

fn delete_outcome(response: i64) -> StoreResult<DeleteOutcome> {
    match response {
        1 => Ok(DeleteOutcome::Deleted),
        0 => Ok(DeleteOutcome::Absent),
        -1 => Ok(DeleteOutcome::ValueMismatch),
        other => Err(StoreError::Protocol(format!(
            "the host's delete answered {other}, not 1, 0 or -1"
        ))),
    }
}

/// AIO's error cases in the store vocabulary. `request-error` carries the
/// store's own text, read exactly as the SDKs read it. `internal` says only
/// that the host failed; it is read as a lost link (the request may have
/// been applied, a later one may succeed), the reading that never assumes a
/// write did not happen.
fn store_error(error: aio_types::StateStoreError) -> StoreError {
    match error {
        aio_types::StateStoreError::RequestError(text) => {
            StoreError::Refused(StoreErrorKind::from_text(&text))
        }
        aio_types::StateStoreError::Timeout => StoreError::Timeout,
        aio_types::StateStoreError::Protocol => {
            StoreError::Protocol("the AIO host reported a protocol error".into())
        }
        aio_types::StateStoreError::Internal => StoreError::Disconnected,
    }
}

pub fn to_aio(version: &Hlc) -> HybridLogicalClock {
    let plain = AioHlc::from(version);
    HybridLogicalClock {
        timestamp: Timespec {
            secs: plain.secs,
            nanos: plain.nanos,
        },
        counter: plain.counter,
        node_id: plain.node_id,
    }
}

pub fn from_aio(version: &HybridLogicalClock) -> StoreResult<Hlc> {
    Hlc::try_from(&AioHlc {
        secs: version.timestamp.secs,
        nanos: version.timestamp.nanos,
        counter: version.counter,
        node_id: version.node_id.clone(),
    })
    .map_err(StoreError::Protocol)
}

/// `wasi:clocks`.
#[derive(Clone, Copy, Debug)]
pub struct WasiClock;

impl elector_guest::Clock for WasiClock {
    fn now(&self) -> Instant {
        Instant(monotonic_clock::now())
    }

    fn wall_clock_ms(&self) -> u64 {
        let now = wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
    }

    fn sleep_until(&self, deadline: Instant) -> impl core::future::Future<Output = ()> {
        Sleep::until(deadline.0)
    }
}

/// Events into AIO's `logger`, under the operator's context: changes of
/// leadership at info, the rest at debug.
pub struct LogEvents {
    pub context: String,
}

impl elector_guest::EventSink for LogEvents {
    fn deliver(&mut self, event: CandidateEvent) {
        let level = match event {
            CandidateEvent::Elected(_) | CandidateEvent::LeadershipLost(_) => Level::Info,
            CandidateEvent::RenewalFailed(_) => Level::Warn,
            _ => Level::Debug,
        };
        logger::log(level, &self.context, &format!("elector: {event:?}"));
    }
}
