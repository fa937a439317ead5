//! The commands that work against a broker, in the spirit of
//! `etcdctl elect`: campaign and hold, show the leader, watch it change,
//! resign; and `statestore`, the AIO-compatible service itself.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::bindings::{CandidateEvent, Hlc, HumanText as _, Leader, PositionState};
use crate::client::{AutomaticRenewal, ClientOptions, LeaderElectionClient, ResignOptions};
use crate::mqtt::BrokerArgs;
use crate::runtime::{ElectorRuntime, RuntimeConfig};
use crate::store::StateStoreBackend;
use crate::store::mqtt::{MqttStore, MqttStoreOptions};

/// Exit code when a held position is lost (its lease ran out or another
/// candidate took it), so scripts can tell it from a clean resignation.
pub const EXIT_LEADERSHIP_LOST: i32 = 3;

/// Fires on Ctrl-C or SIGTERM.
pub fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut terminate =
                signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        fire.cancel();
    });
    token
}

/// Connects to the broker the flags (or AIO environment) name.
pub async fn connect(broker: &BrokerArgs, request_timeout: Duration) -> anyhow::Result<MqttStore> {
    let settings = broker.settings()?;
    let options = MqttStoreOptions {
        request_timeout,
        ..MqttStoreOptions::default()
    };
    Ok(MqttStore::connect(&settings, options).await?)
}

/// One candidate on the broker's state store.
async fn candidate(
    store: MqttStore,
    position: &str,
    name: &str,
    session_id: Option<String>,
) -> anyhow::Result<LeaderElectionClient> {
    let runtime = ElectorRuntime::new(RuntimeConfig {
        max_sandboxes: 4,
        ..RuntimeConfig::default()
    })?;
    let store: Arc<dyn StateStoreBackend> = Arc::new(store);
    let mut options = ClientOptions::new(position, name);
    options.session_id = session_id;
    Ok(LeaderElectionClient::start(&runtime, store, options).await?)
}

/// Prints one result line, as text or JSON.
pub struct Printer {
    pub json: bool,
}

#[derive(Serialize)]
struct Line<'a> {
    event: &'a str,
    position: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    leader: Option<LeaderJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fencing_token: Option<String>,
    /// The store's version of an observed change.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
struct LeaderJson {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
}

impl From<&Leader> for LeaderJson {
    fn from(leader: &Leader) -> Self {
        LeaderJson {
            name: leader.name.clone(),
            session_id: leader.session_id.clone(),
        }
    }
}

impl Printer {
    fn line(
        &self,
        event: &str,
        position: &str,
        leader: Option<&Leader>,
        token: Option<&Hlc>,
        detail: Option<String>,
    ) {
        self.print(event, position, leader, token, None, detail);
    }

    fn change(&self, event: &str, position: &str, leader: Option<&Leader>, version: &Hlc) {
        self.print(event, position, leader, None, Some(version), None);
    }

    fn print(
        &self,
        event: &str,
        position: &str,
        leader: Option<&Leader>,
        token: Option<&Hlc>,
        version: Option<&Hlc>,
        detail: Option<String>,
    ) {
        if self.json {
            let line = Line {
                event,
                position,
                leader: leader.map(LeaderJson::from),
                fencing_token: token.map(|token| token.text().to_string()),
                version: version.map(|version| version.text().to_string()),
                detail,
            };
            crate::output::line(&serde_json::to_string(&line).expect("lines serialize"));
        } else {
            let mut text = event.to_owned();
            if let Some(leader) = leader {
                text.push_str(&format!(" {}", leader.text()));
            }
            if let Some(token) = token {
                text.push_str(&format!(" fencing-token={}", token.text()));
            }
            if let Some(version) = version {
                text.push_str(&format!(" version={}", version.text()));
            }
            if let Some(detail) = detail {
                text.push_str(&format!(" ({detail})"));
            }
            crate::output::line(&text);
        }
    }
}

/// What `elector campaign` was asked for.
pub struct CampaignRequest {
    pub position: String,
    pub name: String,
    pub session_id: Option<String>,
    pub term: Duration,
    pub renew: bool,
    pub timeout: Option<Duration>,
}

/// Campaigns, prints the fencing token once elected, and holds until a
/// signal (then resigns) or until leadership is lost. Returns the exit code.
pub async fn campaign(
    store: MqttStore,
    request: CampaignRequest,
    printer: Printer,
    shutdown: CancellationToken,
) -> anyhow::Result<i32> {
    let client = candidate(
        store,
        &request.position,
        &request.name,
        request.session_id.clone(),
    )
    .await?;
    if request.renew {
        client
            .set_automatic_renewal(Some(AutomaticRenewal {
                term: request.term,
                period: request.term / 3,
            }))
            .await?;
    }
    let mut events = client.events();
    let elected = tokio::select! {
        elected = client.campaign(request.term, request.timeout) => elected?,
        _ = shutdown.cancelled() => return Ok(0),
    };
    let me = Leader {
        name: request.name.clone(),
        session_id: request.session_id.clone(),
    };
    printer.line(
        "elected",
        &request.position,
        Some(&me),
        elected.fencing_token.as_ref(),
        None,
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let resigned = client.resign(ResignOptions::default()).await?;
                let detail = if resigned.success { "released" } else { "no longer held" };
                printer.line("resigned", &request.position, Some(&me), None, Some(detail.into()));
                return Ok(0);
            }
            event = events.recv() => match event {
                Some(CandidateEvent::Renewed(lease)) => {
                    printer.line("renewed", &request.position, Some(&me), Some(&lease.fencing_token), None);
                }
                Some(CandidateEvent::RenewalFailed(error)) => {
                    printer.line("renewal-failed", &request.position, Some(&me), None, Some(error.text().to_string()));
                }
                Some(CandidateEvent::LeadershipLost(reason)) => {
                    printer.line("lost", &request.position, Some(&me), None, Some(reason.text().to_string()));
                    return Ok(EXIT_LEADERSHIP_LOST);
                }
                Some(_) => {}
                None => anyhow::bail!("the candidate stopped"),
            }
        }
    }
}

/// Prints the current leader of a position.
pub async fn leader(store: MqttStore, position: &str, printer: Printer) -> anyhow::Result<()> {
    let client = candidate(store, position, "elector-cli", None).await?;
    let leader = client.current_leader().await?;
    let event = if leader.is_some() {
        "leader"
    } else {
        "no-leader"
    };
    printer.line(event, position, leader.as_ref(), None, None);
    Ok(())
}

/// Prints the leader, then every change, until a signal.
pub async fn observe(
    store: MqttStore,
    position: &str,
    printer: Printer,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client = candidate(store, position, "elector-observer", None).await?;
    let mut events = client.events();
    let leader = client.observe().await?;
    let event = if leader.is_some() {
        "leader"
    } else {
        "no-leader"
    };
    printer.line(event, position, leader.as_ref(), None, None);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            event = events.recv() => match event {
                Some(CandidateEvent::LeadershipChanged(change)) => {
                    let event = match change.new_state {
                        PositionState::LeaderElected => "leader",
                        PositionState::NoLeader => "no-leader",
                    };
                    printer.change(event, position, change.new_leader.as_ref(), &change.version);
                    if crate::output::reader_gone() {
                        // `elector observe P | head -3`: nobody reads any more.
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => anyhow::bail!("the observer stopped"),
            }
        }
    }
}

/// Releases a position held under `name` (from any process).
pub async fn resign(
    store: MqttStore,
    position: &str,
    name: &str,
    session_id: Option<String>,
    printer: Printer,
) -> anyhow::Result<bool> {
    let client = candidate(store, position, name, session_id.clone()).await?;
    let resigned = client.resign(ResignOptions::default()).await?;
    let me = Leader {
        name: name.to_owned(),
        session_id,
    };
    let (event, detail) = if resigned.success {
        ("resigned", "released")
    } else {
        ("not-leader", "the position was not held under this name")
    };
    printer.line(event, position, Some(&me), None, Some(detail.into()));
    Ok(resigned.success)
}

/// Prints one key's value (as text, lossily) and version.
pub async fn get(store: &MqttStore, key: &str, printer: Printer) -> anyhow::Result<bool> {
    let found = store
        .get(key.as_bytes())
        .await
        .map_err(|error| anyhow::anyhow!("reading {key:?}: {}", error.text()))?;
    match &found {
        Some(value) => {
            let text = String::from_utf8_lossy(&value.value).into_owned();
            if printer.json {
                let line = serde_json::json!({
                    "event": "value",
                    "key": key,
                    "value": text,
                    "version": value.version.text().to_string(),
                });
                crate::output::line(&line.to_string());
            } else {
                crate::output::line(&text);
            }
        }
        None if printer.json => {
            crate::output::line(&serde_json::json!({"event": "absent", "key": key}).to_string());
        }
        None => eprintln!("{key}: no such key"),
    }
    Ok(found.is_some())
}

/// Runs the state-store service until a signal.
pub async fn statestore(
    broker: &BrokerArgs,
    options: crate::service::ServiceOptions,
) -> anyhow::Result<()> {
    // A persistent session: requests published while the service
    // reconnects wait at the broker instead of being dropped.
    let settings = broker.settings_with_clean_start(false)?;
    crate::service::serve(&settings, options, shutdown_signal())
        .await
        .context("state-store service")
}
