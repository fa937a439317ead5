//! Where a benchmark's state store lives: the embedded store, or a broker
//! with a state-store service on it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::BrokerArgs;
use elector_host::store::mqtt::release::ReleaseOnDisconnect;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};
use elector_host::store::{EmbeddedStore, StateStoreBackend};

/// One store to measure against.
pub struct Target {
    broker: Option<BrokerArgs>,
    /// What the rows call it.
    label: &'static str,
    embedded: EmbeddedStore,
    /// The in-process service, stopped when the target is dropped.
    service: Option<CancellationToken>,
}

impl Target {
    /// The embedded store (one per target, shared by its connections).
    pub fn embedded() -> Target {
        Target {
            broker: None,
            label: "embedded",
            embedded: EmbeddedStore::new(),
            service: None,
        }
    }

    /// The broker the flags name, called `label` in the rows, with the
    /// state-store service started in this process when `with_service` (it
    /// stops with the target; in memory, and with no lock-delay: it is new,
    /// so nobody holds a lease it could have forgotten).
    pub fn mqtt(
        broker: &BrokerArgs,
        with_service: bool,
        label: &'static str,
    ) -> anyhow::Result<Target> {
        let service = if with_service {
            let settings = broker.settings_with_clean_start(false)?;
            let stop = CancellationToken::new();
            let token = stop.clone();
            let options = elector_service::ServiceOptions {
                storage: elector_service::Storage::InMemory {
                    lock_delay: Duration::ZERO,
                },
                ..Default::default()
            };
            tokio::spawn(async move {
                if let Err(error) = elector_service::serve(&settings, options, token).await {
                    tracing::error!(%error, "benchmark state-store service failed");
                }
            });
            Some(stop)
        } else {
            None
        };
        Ok(Target {
            broker: Some(broker.clone()),
            label,
            embedded: EmbeddedStore::new(),
            service,
        })
    }

    pub fn name(&self) -> &'static str {
        self.label
    }

    pub fn is_mqtt(&self) -> bool {
        self.broker.is_some()
    }

    /// A store connection: a new MQTT client each time, as a separate
    /// process would have; the target's one embedded store otherwise.
    pub async fn connect(&self) -> anyhow::Result<Arc<dyn StateStoreBackend>> {
        match &self.broker {
            None => Ok(Arc::new(self.embedded.clone())),
            Some(broker) => Ok(Arc::new(connect_mqtt(broker).await?)),
        }
    }
}

impl Target {
    /// A connection whose Will releases `position` held with `lock_value`
    /// when the broker loses it; `None` for the embedded store.
    pub async fn connect_releasing(
        &self,
        release: ReleaseOnDisconnect,
    ) -> anyhow::Result<Option<MqttStore>> {
        let Some(broker) = &self.broker else {
            return Ok(None);
        };
        let options = MqttStoreOptions {
            release_on_disconnect: Some(release),
            ..MqttStoreOptions::default()
        };
        Ok(Some(
            MqttStore::connect(&broker.settings()?, options).await?,
        ))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(service) = &self.service {
            service.cancel();
        }
    }
}

async fn connect_mqtt(broker: &BrokerArgs) -> anyhow::Result<MqttStore> {
    let settings = broker.settings()?;
    // The service may still be subscribing: retry until it answers.
    for _ in 0..100 {
        let store = MqttStore::connect(&settings, MqttStoreOptions::default()).await?;
        if store.get(b"elector-bench-ready").await.is_ok() {
            return Ok(store);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("no state-store service answers on the broker")
}
