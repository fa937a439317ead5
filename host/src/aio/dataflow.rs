//! N instances of one operator over a message stream, as a data-flow
//! profile with N instances runs them: each instance its own sandbox,
//! processing its own share of the messages one at a time, all instances
//! at once.
//!
//! Each instance is fed `messages` messages, one every `interval` (a
//! message waits if the previous `process` call is still running). A
//! message is an MQTT message on topic `sensors` stamped with the host's
//! wall clock, whose payload is `{"temperature": t, "instance": i,
//! "sequence": k}`; `t` is over 100 for every `over_every`-th message, so
//! the run knows how many over-temperature readings it sent. Every other
//! payload is handed over in a host `buffer`, as AIO's host hands them, the
//! others as bytes, so operators meet both.
//!
//! The outcomes are read from what `process` returns: successes, the
//! operator's errors, traps; and two user properties an operator may set,
//! `elector-leader` (`true`/`false`) and `summary-window` (a window
//! number), from which the run tells who led when, and measures the
//! hand-over when asked to stop the leading instance mid-run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::hybrid_logical_clock::Timespec;
use super::instance::AioOperator;
use super::metrics::AioMetrics;
use super::types::{
    BufferOrBytes, BufferOrString, DataModel, Message, MessageProperties, Timestamp,
};
use crate::store::StateStoreBackend;

/// How to run the data flow.
#[derive(Clone, Debug)]
pub struct DataflowOptions {
    pub instances: usize,
    /// Messages per instance.
    pub messages: usize,
    /// Between two messages to one instance.
    pub interval: Duration,
    /// Every this many messages is over-temperature (0: none).
    pub over_every: usize,
    /// The operator's configuration properties (`init`).
    pub properties: Vec<(String, String)>,
    /// The bound of a state-store request whose operator names none.
    pub request_timeout: Duration,
    /// Stop the leading instance (by its last `elector-leader`) this long
    /// after the start, without letting it resign, as a crash would.
    pub stop_leader_after: Option<Duration>,
}

/// What one instance did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InstanceOutcome {
    pub instance: usize,
    pub processed: u64,
    /// `process` answered the operator's error.
    pub failed: u64,
    /// The first few of those errors.
    pub errors: Vec<String>,
    /// The instance trapped and was stopped (the text of the trap).
    pub trapped: Option<String>,
    /// Outputs marked `elector-leader: true`.
    pub leading: u64,
    /// The windows this instance emitted a summary of.
    pub summaries: Vec<u64>,
    /// Stopped by the run as the leader.
    pub stopped: bool,
}

/// A measured hand-over.
#[derive(Clone, Debug, Serialize)]
pub struct Handover {
    pub stopped_instance: usize,
    /// The first instance to report leading after the stop.
    pub new_leader: Option<usize>,
    /// From the stop to that report, in milliseconds.
    pub after_ms: Option<u64>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct DataflowReport {
    pub instances: Vec<InstanceOutcome>,
    /// Over-temperature readings sent, over all instances.
    pub over_temperature_sent: u64,
    pub messages_sent: u64,
    pub elapsed_ms: u64,
    pub handover: Option<Handover>,
}

/// Shared between the instances' tasks: who reported leading last, and
/// the stop of the leader.
#[derive(Default)]
struct Leadership {
    last_leader: Option<usize>,
    stop: Option<(usize, Instant)>,
    /// The first report of leading by another instance after the stop.
    taken_over: Option<(usize, Instant)>,
}

fn now_timestamp(sequence: u64) -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        timestamp: Timespec {
            secs: now.as_secs(),
            nanos: now.subsec_nanos(),
        },
        counter: sequence,
        node_id: BufferOrString::String("elector-dataflow".into()),
    }
}

/// The `sequence`-th message for `instance`, and whether it is
/// over-temperature.
fn reading(instance: usize, sequence: usize, over_every: usize) -> (DataModel, bool) {
    let over = over_every > 0 && (sequence + instance).is_multiple_of(over_every);
    let temperature = if over {
        104.5
    } else {
        21.0 + (sequence % 7) as f64
    };
    let payload =
        format!(r#"{{"temperature":{temperature},"instance":{instance},"sequence":{sequence}}}"#);
    let message = Message {
        timestamp: now_timestamp(sequence as u64),
        topic: BufferOrBytes::Bytes(b"sensors".to_vec()),
        content_type: Some(BufferOrString::String("application/json".into())),
        payload: BufferOrBytes::Bytes(payload.into_bytes()),
        properties: MessageProperties {
            user_properties: Vec::new(),
        },
        schema: None,
    };
    (DataModel::Message(message), over)
}

fn property<'a>(message: &'a Message, key: &str) -> Option<&'a str> {
    message
        .properties
        .user_properties
        .iter()
        .find_map(|(k, v)| match (k, v) {
            (BufferOrString::String(k), BufferOrString::String(v)) if k == key => Some(v.as_str()),
            _ => None,
        })
}

/// Runs the data flow to its end.
pub async fn run(
    operator: Arc<AioOperator>,
    store: Arc<dyn StateStoreBackend>,
    options: DataflowOptions,
    metrics: AioMetrics,
) -> anyhow::Result<DataflowReport> {
    let leadership = Arc::new(Mutex::new(Leadership::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for instance in 0..options.instances {
        let mut running = operator
            .instantiate(
                instance,
                store.clone(),
                options.request_timeout,
                metrics.clone(),
                &options.properties,
            )
            .await?;
        let options = options.clone();
        let leadership = leadership.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcome = InstanceOutcome {
                instance,
                ..Default::default()
            };
            let (mut sent, mut over_sent) = (0u64, 0u64);
            let mut ticks = tokio::time::interval(options.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for sequence in 0..options.messages {
                ticks.tick().await;
                if leadership
                    .lock()
                    .unwrap()
                    .stop
                    .is_some_and(|(i, _)| i == instance)
                {
                    outcome.stopped = true;
                    break;
                }
                let (mut message, over) = reading(instance, sequence, options.over_every);
                if sequence % 2 == 1
                    && let DataModel::Message(message) = &mut message
                    && let BufferOrBytes::Bytes(bytes) = &mut message.payload
                {
                    match running.buffer(std::mem::take(bytes)) {
                        Ok(buffer) => message.payload = BufferOrBytes::Buffer(buffer),
                        Err(error) => {
                            outcome.trapped = Some(format!("host buffer: {error:#}"));
                            break;
                        }
                    }
                }
                sent += 1;
                over_sent += u64::from(over);
                match running.process(&message).await {
                    Err(trap) => {
                        outcome.trapped = Some(format!("{trap:#}"));
                        break;
                    }
                    Ok(Err(error)) => {
                        outcome.failed += 1;
                        if outcome.errors.len() < 5 {
                            outcome.errors.push(error.message);
                        }
                    }
                    Ok(Ok(output)) => {
                        outcome.processed += 1;
                        let DataModel::Message(output) = output else {
                            continue;
                        };
                        let leading = property(&output, "elector-leader") == Some("true");
                        if leading {
                            outcome.leading += 1;
                            let mut shared = leadership.lock().unwrap();
                            shared.last_leader = Some(instance);
                            if shared.stop.is_some_and(|(i, _)| i != instance)
                                && shared.taken_over.is_none()
                            {
                                shared.taken_over = Some((instance, Instant::now()));
                            }
                        }
                        if let Some(window) =
                            property(&output, "summary-window").and_then(|w| w.parse().ok())
                        {
                            outcome.summaries.push(window);
                        }
                    }
                }
            }
            (outcome, sent, over_sent)
        }));
    }
    if let Some(after) = options.stop_leader_after {
        let leadership = leadership.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let mut shared = leadership.lock().unwrap();
            if let Some(leader) = shared.last_leader {
                shared.stop = Some((leader, Instant::now()));
            }
        });
    }
    let mut report = DataflowReport {
        instances: Vec::new(),
        over_temperature_sent: 0,
        messages_sent: 0,
        elapsed_ms: 0,
        handover: None,
    };
    for task in tasks {
        let (outcome, sent, over_sent) = task.await?;
        report.messages_sent += sent;
        report.over_temperature_sent += over_sent;
        report.instances.push(outcome);
    }
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    let shared = leadership.lock().unwrap();
    report.handover = shared.stop.map(|(stopped, at)| Handover {
        stopped_instance: stopped,
        new_leader: shared.taken_over.map(|(i, _)| i),
        after_ms: shared
            .taken_over
            .map(|(_, when)| when.duration_since(at).as_millis() as u64),
    });
    Ok(report)
}
