//! The components cli/build.rs builds, and a data-flow run over them.

use std::sync::Arc;
use std::time::Duration;

use elector_host::aio::dataflow::{self, DataflowOptions, DataflowReport};
use elector_host::aio::instance::AioOperator;
use elector_host::aio::metrics::AioMetrics;
use elector_host::store::StateStoreBackend;

/// elector-aio.wasm (form (b)).
pub const ELECTOR_AIO: &str = env!("ELECTOR_COMPONENT_ELECTOR_AIO_COMPONENT");
/// The counter operator, with the elector linked in (form (a)).
pub const COUNTER: &str = env!("ELECTOR_COMPONENT_ELECTOR_EXAMPLE_AIO_COUNTER");
/// The singleton operator before composition (imports leader-election).
pub const SINGLETON_SOCKET: &str = env!("ELECTOR_COMPONENT_ELECTOR_EXAMPLE_AIO_SINGLETON");
/// The counter written against elector-aio.wasm, composed with it.
pub const COUNTER_COMPOSED: &str = env!("ELECTOR_COMPONENT_AIO_COUNTER_COMPOSED");
/// The singleton operator composed with elector-aio.wasm.
pub const SINGLETON: &str = env!("ELECTOR_COMPONENT_AIO_SINGLETON_COMPOSED");

pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Options for `instances` × `messages`, every third reading over
/// temperature, with `properties` for `init`.
pub fn options(
    instances: usize,
    messages: usize,
    interval: Duration,
    properties: &[(&str, &str)],
) -> DataflowOptions {
    DataflowOptions {
        instances,
        messages,
        interval,
        over_every: 3,
        properties: properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        request_timeout: Duration::from_secs(5),
        stop_leader_after: None,
    }
}

/// Runs `operator` as a data flow over `store`.
pub async fn run(
    operator: &str,
    store: Arc<dyn StateStoreBackend>,
    options: DataflowOptions,
) -> DataflowReport {
    run_with_metrics(operator, store, options, AioMetrics::default()).await
}

/// [`run`], recording the operator's metrics into `metrics`.
pub async fn run_with_metrics(
    operator: &str,
    store: Arc<dyn StateStoreBackend>,
    options: DataflowOptions,
    metrics: AioMetrics,
) -> DataflowReport {
    let operator = Arc::new(AioOperator::load(&read(operator)).expect("the operator loads"));
    let report = dataflow::run(operator, store, options, metrics)
        .await
        .expect("the data flow runs");
    for instance in &report.instances {
        assert!(instance.trapped.is_none(), "instance trapped: {instance:?}");
    }
    report
}
