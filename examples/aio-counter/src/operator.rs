//! The `map` export and the two ways of counting.

use core::cell::RefCell;
use core::time::Duration;

use elector_aio::{AioCandidate, AioOptions};

use crate::reading::{COUNT_KEY, incremented, is_over_temperature};

wit_bindgen::generate!({
    world: "wasm-graph:processor/map-impl",
    path: ["../../wit/deps/io", "../../wit/deps/clocks", "../../wit/aio"],
    with: {
        "wasm-graph:processor/hybrid-logical-clock@1.1.0": elector_aio::bindings::wasm_graph::processor::hybrid_logical_clock,
        "wasm-graph:processor/state-store-types@1.1.0": elector_aio::bindings::wasm_graph::processor::state_store_types,
        "wasm-graph:processor/state-store@1.1.0": elector_aio::bindings::wasm_graph::processor::state_store,
        "wasm-graph:processor/logger@1.1.0": elector_aio::bindings::wasm_graph::processor::logger,
    },
    generate_all,
});

use elector_aio::bindings::wasm_graph::processor::logger::{self, Level};
use elector_aio::bindings::wasm_graph::processor::state_store as store;
use elector_aio::bindings::wasm_graph::processor::state_store_types::{
    Duration as AioDuration, SetConditions, SetOptions,
};
use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::metrics::{self, CounterValue};
use wasm_graph::processor::types::{BufferOrBytes, DataModel, Error, ModuleConfiguration};

const CONTEXT: &str = "aio-counter";
/// The elector's term for one update: long enough for a read and a write.
const UPDATE_TERM_MS: u64 = 2_000;
/// The longest one `process` call waits for its turn, unless the
/// `update-timeout-ms` property says otherwise.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(20);

enum Counter {
    Elector(Box<AioCandidate>, Duration),
    HandRolled,
}

thread_local! {
    static COUNTER: RefCell<Option<Counter>> = const { RefCell::new(None) };
}

struct Operator;

impl Guest for Operator {
    fn init(configuration: ModuleConfiguration) -> bool {
        let lock = configuration
            .properties
            .iter()
            .find(|(key, _)| key == "lock")
            .map_or("elector", |(_, value)| value.as_str());
        let timeout = configuration
            .properties
            .iter()
            .find(|(key, _)| key == "update-timeout-ms")
            .and_then(|(_, value)| value.parse().ok())
            .map_or(UPDATE_TIMEOUT, Duration::from_millis);
        let counter = match lock {
            "elector" => {
                let name = elector_aio::instance_name("counter");
                match AioCandidate::new(AioOptions::new("aio-counter/position", name)) {
                    Ok(candidate) => Counter::Elector(Box::new(candidate), timeout),
                    Err(error) => {
                        logger::log(Level::Error, CONTEXT, &format!("elector: {error}"));
                        return false;
                    }
                }
            }
            "hand-rolled" => Counter::HandRolled,
            other => {
                logger::log(Level::Error, CONTEXT, &format!("unknown lock '{other}'"));
                return false;
            }
        };
        logger::log(
            Level::Info,
            CONTEXT,
            &format!("counting with the {lock} lock"),
        );
        COUNTER.with(|slot| *slot.borrow_mut() = Some(counter));
        true
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
            COUNTER.with(|slot| match slot.borrow_mut().as_mut() {
                Some(Counter::Elector(candidate, timeout)) => {
                    count_with_elector(candidate, *timeout)
                }
                Some(Counter::HandRolled) => count_with_hand_rolled_lock(),
                None => Err(error("process before a successful init")),
            })?;
            let _ = metrics::add_to_counter("overtemp_counted", CounterValue::U64(1), None);
        }
        Ok(message)
    }
}

fn error(message: impl Into<String>) -> Error {
    Error {
        message: message.into(),
    }
}

fn count_with_elector(candidate: &mut AioCandidate, timeout: Duration) -> Result<(), Error> {
    candidate
        .campaign_and_update_value(
            COUNT_KEY,
            |current| Some(incremented(current)),
            UPDATE_TERM_MS,
            timeout,
        )
        .map_err(|e| error(format!("counting with the elector: {e}")))
}

const LOCK_KEY: &[u8] = b"aio-counter/lock";
/// What every instance writes as the lock's value, as in the sample.
const LOCK_VALUE: &[u8] = b"module2";

/// The sample's lock, as described in `lib.rs`. A failed count (three
/// tries without a landed write) is an error, so the loss is visible.
fn count_with_hand_rolled_lock() -> Result<(), Error> {
    for _ in 0..3 {
        let lock = store::set(
            LOCK_KEY,
            LOCK_VALUE,
            None,
            None,
            SetOptions {
                conditions: SetConditions::OnlyIfEqualOrDoesNotExist,
                expires: Some(AioDuration {
                    seconds: 10,
                    nanos: 0,
                }),
            },
        );
        let Ok(answer) = lock else { continue };
        let Some(token) = answer.version.filter(|_| answer.response) else {
            continue;
        };
        let Ok(current) = store::get(COUNT_KEY, None) else {
            continue;
        };
        let next = incremented(current.response.as_deref());
        let written = store::set(
            COUNT_KEY,
            &next,
            None,
            Some(&token),
            SetOptions {
                conditions: SetConditions::Unconditional,
                expires: None,
            },
        );
        if matches!(written, Ok(ref answer) if answer.response) {
            let _ = store::vdel(LOCK_KEY, LOCK_VALUE, None, None);
            return Ok(());
        }
    }
    logger::log(Level::Error, CONTEXT, "failed to count after three tries");
    Err(error("hand-rolled lock: failed to count after three tries"))
}

export!(Operator);
