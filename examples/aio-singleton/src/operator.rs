//! The `map` export over the `leader-election` import.

use core::cell::RefCell;

use crate::window::{closed_windows, summary_key, window_of};

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

use elector::aio::leader_election::{Candidate, CandidateOptions};
use elector_aio::bindings::wasm_graph::processor::logger::{self, Level};
use elector_aio::bindings::wasm_graph::processor::state_store as store;
use elector_aio::bindings::wasm_graph::processor::state_store_types::{
    Duration as AioDuration, SetConditions, SetOptions,
};
use exports::wasm_graph::processor::map::Guest;
use wasm_graph::processor::types::{
    BufferOrBytes, BufferOrString, DataModel, Error, Message, MessageProperties,
    ModuleConfiguration,
};

const CONTEXT: &str = "aio-singleton";

struct State {
    candidate: Option<Candidate>,
    name: String,
    term_ms: u64,
    window_ms: u64,
    /// Messages this instance saw per window, for its summaries.
    seen: std::collections::BTreeMap<u64, u64>,
    /// Closed windows this instance has summarised or found summarised.
    settled: std::collections::BTreeSet<u64>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn property(configuration: &ModuleConfiguration, key: &str) -> Option<String> {
    configuration
        .properties
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

struct Operator;

impl Guest for Operator {
    fn init(configuration: ModuleConfiguration) -> bool {
        let number = |key: &str, default: u64| {
            property(&configuration, key)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let (term_ms, window_ms) = (number("term-ms", 1_000), number("window-ms", 2_000));
        let name = elector_aio::instance_name("singleton");
        let candidate = if property(&configuration, "election").as_deref() == Some("off") {
            None
        } else {
            let options = CandidateOptions {
                position: "aio-singleton/position".into(),
                name: name.clone(),
                session_id: None,
                safety_margin_ms: None,
                request_lifetime_ms: None,
                request_timeout_ms: None,
                poll_interval_ms: None,
            };
            match Candidate::create(&options) {
                Ok(candidate) => Some(candidate),
                Err(error) => {
                    logger::log(Level::Error, CONTEXT, &format!("elector: {error:?}"));
                    return false;
                }
            }
        };
        STATE.with(|state| {
            *state.borrow_mut() = Some(State {
                candidate,
                name,
                term_ms,
                window_ms,
                seen: Default::default(),
                settled: Default::default(),
            })
        });
        true
    }

    fn process(message: DataModel) -> Result<DataModel, Error> {
        let DataModel::Message(message) = message else {
            return Err(Error {
                message: "expected a message".into(),
            });
        };
        STATE.with(|state| {
            let mut state = state.borrow_mut();
            let state = state.as_mut().ok_or_else(|| Error {
                message: "process before a successful init".into(),
            })?;
            Ok(DataModel::Message(state.handle(message)))
        })
    }
}

impl State {
    fn handle(&mut self, message: Message) -> Message {
        let stamp = &message.timestamp.timestamp;
        let time_ms = stamp.secs * 1000 + u64::from(stamp.nanos / 1_000_000);
        let window = window_of(time_ms, self.window_ms);
        *self.seen.entry(window).or_default() += 1;
        let (leading, token) = match &self.candidate {
            Some(candidate) => match candidate.try_campaign(self.term_ms) {
                Ok(response) => (response.is_leader, response.fencing_token),
                Err(error) => {
                    logger::log(Level::Warn, CONTEXT, &format!("try-campaign: {error:?}"));
                    (false, None)
                }
            },
            // The broken variant: everyone leads, nobody claims.
            None => (true, None),
        };
        // One summary per output message at most: the oldest closed window
        // not yet settled here (claimed by this instance or found claimed).
        let mut summary = None;
        if leading {
            for closed in closed_windows(window) {
                if !self.settled.insert(closed) {
                    continue;
                }
                if self.candidate.is_none() || self.claim(closed, token.as_ref()) {
                    summary = Some(closed);
                    break;
                }
            }
        }
        self.seen.retain(|w, _| *w + 2 >= window);
        self.settled.retain(|w| *w + 2 >= window);
        let property = |key: &str, value: String| {
            (
                BufferOrString::String(key.into()),
                BufferOrString::String(value),
            )
        };
        let mut properties = vec![property("elector-leader", leading.to_string())];
        let (topic, payload) = match summary {
            Some(closed) => {
                properties.push(property("summary-window", closed.to_string()));
                let seen = self.seen.get(&closed).copied().unwrap_or(0);
                let text = format!(
                    r#"{{"window":{closed},"leader":"{}","messages_seen":{seen}}}"#,
                    self.name
                );
                (b"summaries".to_vec(), text.into_bytes())
            }
            None => (
                match message.topic {
                    BufferOrBytes::Buffer(buffer) => buffer.read(),
                    BufferOrBytes::Bytes(bytes) => bytes,
                },
                match message.payload {
                    BufferOrBytes::Buffer(buffer) => buffer.read(),
                    BufferOrBytes::Bytes(bytes) => bytes,
                },
            ),
        };
        Message {
            timestamp: message.timestamp,
            topic: BufferOrBytes::Bytes(topic),
            content_type: None,
            payload: BufferOrBytes::Bytes(payload),
            properties: MessageProperties {
                user_properties: properties,
            },
            schema: None,
        }
    }

    /// Claims `window`'s summary: only-if-absent, kept an hour, fenced by
    /// this leader's token. True when this instance won it.
    fn claim(
        &self,
        window: u64,
        token: Option<
            &elector_aio::bindings::wasm_graph::processor::hybrid_logical_clock::HybridLogicalClock,
        >,
    ) -> bool {
        let written = store::set(
            &summary_key(window),
            self.name.as_bytes(),
            None,
            token,
            SetOptions {
                conditions: SetConditions::OnlyIfDoesNotExist,
                expires: Some(AioDuration {
                    seconds: 3_600,
                    nanos: 0,
                }),
            },
        );
        match written {
            Ok(answer) => answer.response,
            Err(error) => {
                logger::log(
                    Level::Warn,
                    CONTEXT,
                    &format!("claiming window {window}: {error:?}"),
                );
                false
            }
        }
    }
}

export!(Operator);
