//! AIO's `metrics` into a Prometheus registry: each counter or histogram
//! name an operator uses becomes a metric family `aio_<name>` (characters
//! Prometheus refuses become `_`), labelled with the operator's labels and
//! the instance. A name first used as one kind and then as the other is
//! refused with AIO's `incompatible-type`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::instance::AioHostState;
use super::wit_metrics::{CounterValue, HistogramValue, Host, Label, MetricsError};

type Labels = Vec<(String, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

enum Metric {
    Counter(Family<Labels, Counter>),
    Histogram(Histograms),
}

/// The metrics of every instance of a data flow.
#[derive(Clone, Default)]
pub struct AioMetrics {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    registry: Registry,
    metrics: HashMap<String, Metric>,
}

fn new_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

fn metric_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("aio_{clean}")
}

fn labels(labels: Option<Vec<Label>>, instance: usize) -> Labels {
    let mut labels: Labels = labels
        .unwrap_or_default()
        .into_iter()
        .map(|l| (l.key, l.value))
        .collect();
    labels.push(("instance".into(), instance.to_string()));
    labels
}

impl AioMetrics {
    fn add(&self, name: &str, labels: Labels, value: u64) -> Result<(), MetricsError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|e| MetricsError::LockError(e.to_string()))?;
        let name = metric_name(name);
        if !inner.metrics.contains_key(&name) {
            let family = Family::<Labels, Counter>::default();
            inner
                .registry
                .register(&name, "counter of an AIO operator", family.clone());
            inner.metrics.insert(name.clone(), Metric::Counter(family));
        }
        match &inner.metrics[&name] {
            Metric::Counter(family) => {
                family.get_or_create(&labels).inc_by(value);
                Ok(())
            }
            Metric::Histogram(_) => Err(MetricsError::IncompatibleType(format!(
                "{name} is a histogram"
            ))),
        }
    }

    fn record(&self, name: &str, labels: Labels, value: f64) -> Result<(), MetricsError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|e| MetricsError::LockError(e.to_string()))?;
        let name = metric_name(name);
        if !inner.metrics.contains_key(&name) {
            let family: Histograms = Family::new_with_constructor(new_histogram);
            inner
                .registry
                .register(&name, "histogram of an AIO operator", family.clone());
            inner
                .metrics
                .insert(name.clone(), Metric::Histogram(family));
        }
        match &inner.metrics[&name] {
            Metric::Histogram(family) => {
                family.get_or_create(&labels).observe(value);
                Ok(())
            }
            Metric::Counter(_) => Err(MetricsError::IncompatibleType(format!(
                "{name} is a counter"
            ))),
        }
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn text(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        let _ = encode(&mut text, &inner.registry);
        text
    }
}

impl Host for AioHostState {
    async fn add_to_counter(
        &mut self,
        name: String,
        value: CounterValue,
        labels_: Option<Vec<Label>>,
    ) -> wasmtime::Result<Result<(), MetricsError>> {
        let CounterValue::U64(value) = value;
        Ok(self
            .metrics
            .add(&name, labels(labels_, self.instance), value))
    }

    async fn record_to_histogram(
        &mut self,
        name: String,
        value: HistogramValue,
        labels_: Option<Vec<Label>>,
    ) -> wasmtime::Result<Result<(), MetricsError>> {
        let value = match value {
            HistogramValue::F64(v) => v,
            HistogramValue::U64(v) => v as f64,
        };
        Ok(self
            .metrics
            .record(&name, labels(labels_, self.instance), value))
    }
}
