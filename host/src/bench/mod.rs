//! `elector bench`: measurements that print a table and JSON.
//!
//! Each scenario runs against the embedded store, or against a broker
//! (`--broker`), with the state-store service started in this process
//! (`--with-service`) or already running elsewhere.

mod failover;
mod rtt;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::mqtt::BrokerArgs;
use crate::store::mqtt::{MqttStore, MqttStoreOptions};
use crate::store::{EmbeddedStore, StateStoreBackend};
pub use stats::Summary;

/// Where a benchmark's state store lives.
pub struct Target {
    broker: Option<BrokerArgs>,
    embedded: EmbeddedStore,
    _service: Option<CancellationToken>,
}

impl Target {
    /// The embedded store, or the broker the flags name (with the service
    /// started here when asked).
    pub async fn new(broker: &BrokerArgs, with_service: bool) -> anyhow::Result<Target> {
        let service = if with_service {
            let settings = broker.settings_with_clean_start(false)?;
            let stop = CancellationToken::new();
            let token = stop.clone();
            tokio::spawn(async move {
                if let Err(error) =
                    crate::service::serve(&settings, Default::default(), token).await
                {
                    tracing::error!(%error, "benchmark state-store service failed");
                }
            });
            Some(stop)
        } else {
            None
        };
        Ok(Target {
            broker: broker.names_a_broker().then(|| broker.clone()),
            embedded: EmbeddedStore::new(),
            _service: service,
        })
    }

    pub fn name(&self) -> &'static str {
        if self.broker.is_some() {
            "mqtt"
        } else {
            "embedded"
        }
    }

    /// A store connection (a new MQTT client each time, as a separate
    /// process would have; the one shared embedded store otherwise).
    pub async fn connect(&self) -> anyhow::Result<Arc<dyn StateStoreBackend>> {
        match &self.broker {
            None => Ok(Arc::new(self.embedded.clone())),
            Some(broker) => Ok(Arc::new(self.connect_mqtt(broker).await?)),
        }
    }

    async fn connect_mqtt(&self, broker: &BrokerArgs) -> anyhow::Result<MqttStore> {
        let settings = broker.settings()?;
        // The service may still be subscribing: retry the first answer.
        for _ in 0..50 {
            let store = MqttStore::connect(&settings, MqttStoreOptions::default()).await?;
            if store.get(b"elector-bench-ready").await.is_ok() {
                return Ok(store);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("no state-store service answers on the broker")
    }
}

/// One result row.
#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub store: String,
    pub samples: usize,
    #[serde(flatten)]
    pub summary: Summary,
}

pub fn print(rows: &[Row], json: bool) {
    if json {
        for row in rows {
            println!("{}", serde_json::to_string(row).expect("rows serialize"));
        }
        return;
    }
    println!(
        "{:<44} {:<9} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "scenario", "store", "samples", "median", "p99", "min", "max"
    );
    for row in rows {
        let s = &row.summary;
        println!(
            "{:<44} {:<9} {:>8} {:>10} {:>10} {:>10} {:>10}",
            row.scenario,
            row.store,
            row.samples,
            stats::human(s.median_us),
            stats::human(s.p99_us),
            stats::human(s.min_us),
            stats::human(s.max_us)
        );
    }
}

pub use failover::failover_after_resign;
pub use rtt::request_round_trip;
