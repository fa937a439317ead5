//! Opening the state store a command was told to use.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::StoreChoice;
use crate::mqtt::ConnectionSettings;
use crate::store::mqtt::{MqttStore, MqttStoreOptions};
use crate::store::{EmbeddedStore, StateStoreBackend};

/// The store `choice` names; connects when it is a broker's.
pub async fn open(
    choice: StoreChoice,
    request_timeout: Duration,
) -> anyhow::Result<Arc<dyn StateStoreBackend>> {
    Ok(match choice {
        StoreChoice::Embedded => Arc::new(EmbeddedStore::new()),
        StoreChoice::Broker(settings) => Arc::new(connect(&settings, request_timeout).await?),
    })
}

/// Connects to the broker's state store.
pub async fn connect(
    settings: &ConnectionSettings,
    request_timeout: Duration,
) -> anyhow::Result<MqttStore> {
    let options = MqttStoreOptions {
        request_timeout,
        ..MqttStoreOptions::default()
    };
    Ok(MqttStore::connect(settings, options).await?)
}
