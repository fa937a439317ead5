//! The exports of `elector:aio/leader-election`.

use core::cell::RefCell;
use core::time::Duration;

use elector_aio::bindings::wasm_graph::processor::hybrid_logical_clock::{
    HybridLogicalClock, Timespec,
};
use elector_aio::convert::AioHlc;
use elector_aio::{AioCandidate, AioOptions, ElectionError, Hlc};

wit_bindgen::generate!({
    world: "elector:aio/elector-aio",
    path: ["../../wit/deps/io", "../../wit/deps/clocks", "../../wit/aio", "../../wit/elector-aio"],
    with: {
        "wasi:io/poll@0.2.12": elector_aio::bindings::wasi::io::poll,
        "wasi:clocks/monotonic-clock@0.2.12": elector_aio::bindings::wasi::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": elector_aio::bindings::wasi::clocks::wall_clock,
        "wasm-graph:processor/hybrid-logical-clock@1.1.0": elector_aio::bindings::wasm_graph::processor::hybrid_logical_clock,
        "wasm-graph:processor/state-store-types@1.1.0": elector_aio::bindings::wasm_graph::processor::state_store_types,
        "wasm-graph:processor/state-store@1.1.0": elector_aio::bindings::wasm_graph::processor::state_store,
        "wasm-graph:processor/logger@1.1.0": elector_aio::bindings::wasm_graph::processor::logger,
    },
});

use exports::elector::aio::leader_election as api;

struct ElectorAio;

impl api::Guest for ElectorAio {
    type Candidate = CandidateResource;
}

/// `RefCell`: export methods take `&self`, and the component model runs
/// one call per instance at a time, so the borrow is never contended.
struct CandidateResource(RefCell<AioCandidate>);

fn error(error: ElectionError) -> api::ElectionError {
    match error {
        ElectionError::InvalidArgument(text) => api::ElectionError::InvalidArgument(text),
        // No call here takes a cancellation.
        ElectionError::Cancelled | ElectionError::Timeout => api::ElectionError::Timeout,
        ElectionError::FencingRefused(_) => api::ElectionError::FencingRefused,
        ElectionError::OutcomeUnknown => api::ElectionError::OutcomeUnknown,
        ElectionError::Store(store) => api::ElectionError::Store(store.to_string()),
    }
}

fn token(version: Hlc) -> HybridLogicalClock {
    let plain = AioHlc::from(&version);
    HybridLogicalClock {
        timestamp: Timespec {
            secs: plain.secs,
            nanos: plain.nanos,
        },
        counter: plain.counter,
        node_id: plain.node_id,
    }
}

fn response(response: elector_aio::CampaignResponse) -> api::CampaignResponse {
    api::CampaignResponse {
        is_leader: response.is_leader,
        fencing_token: response.fencing_token.map(token),
    }
}

impl api::GuestCandidate for CandidateResource {
    fn create(options: api::CandidateOptions) -> Result<api::Candidate, api::ElectionError> {
        let mut aio = AioOptions::new(options.position, options.name);
        aio.session_id = options.session_id;
        aio.safety_margin_ms = options.safety_margin_ms;
        aio.request_lifetime_ms = options.request_lifetime_ms;
        if let Some(ms) = options.request_timeout_ms {
            aio.request_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = options.poll_interval_ms {
            aio.poll_interval = Duration::from_millis(ms);
        }
        let candidate = AioCandidate::new(aio).map_err(error)?;
        Ok(api::Candidate::new(CandidateResource(RefCell::new(
            candidate,
        ))))
    }

    fn try_campaign(&self, term_ms: u64) -> Result<api::CampaignResponse, api::ElectionError> {
        self.0
            .borrow_mut()
            .try_campaign(term_ms)
            .map(response)
            .map_err(error)
    }

    fn campaign(
        &self,
        term_ms: u64,
        timeout_ms: u64,
    ) -> Result<api::CampaignResponse, api::ElectionError> {
        self.0
            .borrow_mut()
            .campaign(term_ms, Duration::from_millis(timeout_ms))
            .map(response)
            .map_err(error)
    }

    fn resign(&self) -> Result<bool, api::ElectionError> {
        self.0.borrow_mut().resign().map_err(error)
    }

    fn current_leader(&self) -> Result<Option<String>, api::ElectionError> {
        self.0.borrow_mut().current_leader().map_err(error)
    }

    fn is_leader(&self) -> bool {
        self.0.borrow().is_leader()
    }

    fn fencing_token(&self) -> Option<HybridLogicalClock> {
        self.0.borrow().fencing_token().map(token)
    }

    /// The updater compares: it writes `replacement` when the key holds
    /// `expected`, and otherwise writes the current value back unchanged
    /// (the core's updater has no "leave it" answer; rewriting the same
    /// value under the fencing token changes nothing a reader sees) and
    /// reports what it found.
    fn campaign_and_replace_value(
        &self,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        replacement: Option<Vec<u8>>,
        max_term_ms: u64,
        timeout_ms: u64,
    ) -> Result<api::UpdateOutcome, api::ElectionError> {
        let mut found: Option<Option<Vec<u8>>> = None;
        self.0
            .borrow_mut()
            .campaign_and_update_value(
                &key,
                |current| {
                    if current == expected.as_deref() {
                        found = None;
                        replacement.clone()
                    } else {
                        found = Some(current.map(<[u8]>::to_vec));
                        current.map(<[u8]>::to_vec)
                    }
                },
                max_term_ms,
                Duration::from_millis(timeout_ms),
            )
            .map_err(error)?;
        Ok(match found {
            None => api::UpdateOutcome::Applied,
            Some(current) => api::UpdateOutcome::Changed(current),
        })
    }
}

export!(ElectorAio);
