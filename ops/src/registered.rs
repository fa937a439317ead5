//! Registering a metric while keeping a handle to it.

use prometheus_client::registry::{Metric, Registry};

/// A new `M` as `Default` makes it (a counter or gauge at 0, a family with
/// no series yet), registered in `registry` as `name` with `help`, and a
/// handle to it: a metric's clones share its value.
pub fn registered<M: Metric + Clone + Default>(
    registry: &mut Registry,
    name: &str,
    help: &str,
) -> M {
    let metric = M::default();
    registry.register(name, help, metric.clone());
    metric
}
