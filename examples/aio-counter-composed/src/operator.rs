//! The `map` export over the `leader-election` import.

use core::cell::RefCell;

use crate::reading::{COUNT_KEY, incremented, is_over_temperature};

use crate::MAX_TRIES;

wit_bindgen::generate!({
    world: "elector:aio/map-with-election",
    path: ["../../wit/deps/io", "../../wit/deps/clocks", "../../wit/aio", "../../wit/elector-aio"],
    with: {
        "wasm-graph:processor/hybrid-logical-clock@1.1.0": elector_aio::bindings::wasm_graph::processor::hybrid_logical_clock,
        "wasm-graph:processor/state-store-types@1.1.0": elector_aio::bindings::wasm_graph::processor::state_store_types,
        "wasm-graph:processor/state-store@1.1.0": elector_aio::bindings::wasm_graph::processor::state_store,
        "wasm-graph:processor/logger@1.1.0": elector_aio::bindings::wasm_graph::processor::logger,
    },
    generate_all,
});

use elector::aio::leader_election::{Candidate, CandidateOptions, UpdateOutcome};
use elector_aio::bindings::wasm_graph::processor::state_store as store;
use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{BufferOrBytes, DataModel, Error, ModuleConfiguration};

thread_local! {
    static CANDIDATE: RefCell<Option<Candidate>> = const { RefCell::new(None) };
}

fn error(message: impl Into<String>) -> Error {
    Error {
        message: message.into(),
    }
}

struct Operator;

impl Guest for Operator {
    fn init(_: ModuleConfiguration) -> bool {
        let options = CandidateOptions {
            position: "aio-counter/position".into(),
            name: elector_aio::instance_name("counter"),
            session_id: None,
            safety_margin_ms: None,
            request_lifetime_ms: None,
            request_timeout_ms: None,
            poll_interval_ms: None,
        };
        match Candidate::create(&options) {
            Ok(candidate) => {
                CANDIDATE.with(|slot| *slot.borrow_mut() = Some(candidate));
                true
            }
            Err(_) => false,
        }
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let payload = match &message {
            DataModel::Message(message) => match &message.payload {
                BufferOrBytes::Buffer(buffer) => buffer.read(),
                BufferOrBytes::Bytes(bytes) => bytes.clone(),
            },
            _ => return Err(error("expected a message")),
        };
        if is_over_temperature(&payload) == Some(true) {
            CANDIDATE.with(|slot| match slot.borrow().as_ref() {
                Some(candidate) => count(candidate),
                None => Err(error("process before a successful init")),
            })?;
        }
        Ok(message)
    }
}

fn count(candidate: &Candidate) -> Result<(), Error> {
    let mut expected = store::get(COUNT_KEY, None)
        .map_err(|e| error(format!("reading the count: {e:?}")))?
        .response;
    for _ in 0..MAX_TRIES {
        let replacement = incremented(expected.as_deref());
        let outcome = candidate
            .campaign_and_replace_value(
                COUNT_KEY,
                expected.as_deref(),
                Some(&replacement),
                2_000,
                20_000,
            )
            .map_err(|e| error(format!("counting with elector-aio.wasm: {e:?}")))?;
        match outcome {
            UpdateOutcome::Applied => return Ok(()),
            UpdateOutcome::Changed(current) => expected = current,
        }
    }
    Err(error("the count kept changing"))
}

export!(Operator);
