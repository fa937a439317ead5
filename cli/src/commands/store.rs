//! Opening the state store a command was told to use.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::StoreChoice;
use crate::ops::Monitor;
use elector_host::mqtt::ConnectionSettings;
use elector_host::store::mqtt::release::ReleaseOnDisconnect;
use elector_host::store::mqtt::{MqttStore, MqttStoreOptions};
use elector_host::store::{EmbeddedStore, StateStoreBackend};

/// The store `choice` names; connects when it is a broker's.
pub async fn open(
    choice: StoreChoice,
    request_timeout: Duration,
) -> anyhow::Result<Arc<dyn StateStoreBackend>> {
    Ok(match choice {
        StoreChoice::Embedded => Arc::new(EmbeddedStore::new()),
        StoreChoice::Broker {
            settings,
            connect_timeout,
            release_on_disconnect,
        } => Arc::new(
            connect(
                &settings,
                request_timeout,
                connect_timeout,
                release_on_disconnect,
            )
            .await?,
        ),
    })
}

/// Gives a broker connection the Will that releases `position` held with
/// `lock_value` when the broker loses the connection for `delay`; nothing
/// for the embedded store or without a delay.
pub fn release_on_disconnect(
    choice: &mut StoreChoice,
    position: &str,
    lock_value: &str,
    delay: Option<Duration>,
) -> anyhow::Result<()> {
    if let (
        StoreChoice::Broker {
            release_on_disconnect,
            ..
        },
        Some(delay),
    ) = (choice, delay)
    {
        *release_on_disconnect = Some(ReleaseOnDisconnect::new(position, lock_value, delay)?);
    }
    Ok(())
}

/// Readiness names the store link by this.
const STORE: &str = "state store";

/// Registers the store's readiness condition before it is opened, so a
/// scrape while the broker connects says what it waits for.
pub fn expect_readiness(choice: &StoreChoice, monitor: &Monitor) {
    let state = match choice {
        StoreChoice::Broker { .. } => Err("connecting to the broker".into()),
        StoreChoice::Embedded => Ok(()),
    };
    monitor.readiness.set(STORE, state);
}

/// [`open`], with readiness following the broker link from then on.
pub async fn open_monitored(
    choice: StoreChoice,
    request_timeout: Duration,
    monitor: &Monitor,
) -> anyhow::Result<Arc<dyn StateStoreBackend>> {
    let (settings, connect_timeout, release) = match choice {
        StoreChoice::Embedded => return Ok(Arc::new(EmbeddedStore::new())),
        StoreChoice::Broker {
            settings,
            connect_timeout,
            release_on_disconnect,
        } => (settings, connect_timeout, release_on_disconnect),
    };
    let store = connect(&settings, request_timeout, connect_timeout, release).await?;
    let link = store.clone();
    // `connections` counts links that came up, and is 0 while the link is
    // down or still subscribing, when no request can flow.
    monitor.readiness.probe(STORE, move || {
        if link.connections() > 0 {
            Ok(())
        } else {
            Err("not connected to the broker".into())
        }
    });
    Ok(Arc::new(store))
}

/// Connects to the broker's state store, checks that a state store is
/// there to answer, and ends the process (with the reason) if the client
/// later stops for good, e.g. because another process took over its
/// client id: a command must not go on believing the link will return.
/// `release_on_disconnect`: the position the connection's Will releases.
pub async fn connect(
    settings: &ConnectionSettings,
    request_timeout: Duration,
    connect_timeout: Duration,
    release_on_disconnect: Option<ReleaseOnDisconnect>,
) -> anyhow::Result<MqttStore> {
    let options = MqttStoreOptions {
        request_timeout,
        connect_timeout,
        release_on_disconnect,
        ..MqttStoreOptions::default()
    };
    let store = MqttStore::connect(settings, options).await?;
    expect_a_state_store(&store, settings, request_timeout).await?;
    let watched = store.clone();
    tokio::spawn(async move {
        let reason = watched.stopped().await;
        eprintln!("error: {reason}");
        std::process::exit(crate::exit::Exit::Error.code());
    });
    Ok(store)
}

/// A broker with no state store behind it: the operator hears so now, not
/// as a timeout later.
async fn expect_a_state_store(
    store: &MqttStore,
    settings: &ConnectionSettings,
    request_timeout: Duration,
) -> anyhow::Result<()> {
    if !store.state_store_answers().await {
        anyhow::bail!(
            "the broker at {}:{} answered, but no state store did within {request_timeout:?}: \
             run `elector statestore` against this broker, or point elector at an AIO broker \
             (its state store is built in)",
            settings.hostname,
            settings.port
        );
    }
    Ok(())
}
