//! One replica of an edge module: an elector candidate that campaigns for
//! the module's position, and a module instance that works while the
//! candidate leads.
//!
//! The replica's loop: campaign (blocking, with automatic renewal); once
//! elected call `on-elected`, then `on-tick` every tick for as long as the
//! lease is valid by the local clock; when leadership ends, `on-lost`, and
//! campaign again. A module that traps (or exhausts its CPU or memory
//! budget) is dropped; the replica resigns if it led, waits a backoff that
//! doubles from 100 ms up to 30 s (reset after a minute of good health),
//! and starts a fresh instance. On shutdown the replica tells the module it
//! lost leadership and resigns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::ops::{ModuleMonitor, Monitor, ReplicaLabels};
use elector_host::bindings::HumanText as _;
use elector_host::bindings::{CandidateEvent, LostReason};
use elector_host::client::{AutomaticRenewal, ClientOptions, LeaderElectionClient, ResignOptions};
use elector_host::module::{
    Crash, CrashCause, LeadershipGrant, ModuleInstance, ModuleRuntime, Pacing, ReplicaContext,
};
use elector_host::runtime::ElectorRuntime;
use elector_host::store::StateStoreBackend;

/// How a replica campaigns and works.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub position: String,
    pub replica: String,
    /// Keys the module names are put under this prefix.
    pub prefix: String,
    pub term: Duration,
    pub renewal_period: Duration,
    pub tick: Duration,
    /// Names the module in logs.
    pub module: String,
}

/// What a replica shares with its host.
pub struct ReplicaEnvironment {
    pub elector: ElectorRuntime,
    pub module: ModuleRuntime,
    pub store: Arc<dyn StateStoreBackend>,
    pub monitor: Monitor,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait before restarting a crashed module.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs a replica until `shutdown` fires.
pub async fn run(
    config: ReplicaConfig,
    environment: Arc<ReplicaEnvironment>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let labels = ReplicaLabels {
        position: config.position.clone(),
        replica: config.replica.clone(),
    };
    let candidate = environment.monitor.candidate(&labels, config.term);
    let monitor = environment.monitor.module(&labels);
    let client = LeaderElectionClient::start(
        &environment.elector,
        environment.store.clone(),
        ClientOptions::new(&config.position, &config.replica),
    )
    .await?;
    client
        .set_automatic_renewal(Some(AutomaticRenewal {
            term: config.term,
            period: config.renewal_period,
        }))
        .await?;
    candidate.watch(&client);
    let context = Arc::new(ReplicaContext {
        position: config.position.clone(),
        replica: config.replica.clone(),
        prefix: config.prefix.clone(),
        client: client.clone(),
        store: environment.store.clone(),
        module: config.module.clone(),
        quota: environment.module.quota(&config.prefix),
        pacing: std::sync::Mutex::new(Pacing::new(environment.module.limits())),
    });
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let outcome = match environment.module.instantiate(context.clone()).await {
            Ok(instance) => {
                monitor.started();
                serve(&config, &client, instance, &monitor, &shutdown).await
            }
            Err(crash) => Outcome::Crashed(crash),
        };
        match outcome {
            Outcome::Stopped => return Ok(()),
            Outcome::Crashed(crash) => {
                tracing::warn!(
                    replica = %config.replica, cause = ?crash.cause, detail = %crash.detail,
                    "module crashed; restarting it"
                );
                monitor.crashed(&crash);
                if client.is_leader() {
                    let _ = client.resign(ResignOptions::default()).await;
                    client
                        .set_automatic_renewal(Some(AutomaticRenewal {
                            term: config.term,
                            period: config.renewal_period,
                        }))
                        .await?;
                }
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = FIRST_BACKOFF;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

enum Outcome {
    /// Shut down on request.
    Stopped,
    /// The module instance is unusable.
    Crashed(Crash),
}

/// Campaigns and works with one module instance until it crashes or the
/// replica shuts down.
async fn serve(
    config: &ReplicaConfig,
    client: &LeaderElectionClient,
    mut module: ModuleInstance,
    monitor: &ModuleMonitor,
    shutdown: &CancellationToken,
) -> Outcome {
    let mut events = client.events();
    loop {
        tracing::info!(replica = %config.replica, position = %config.position, "campaigning");
        let elected = tokio::select! {
            elected = client.campaign(config.term, None) => elected,
            _ = shutdown.cancelled() => return Outcome::Stopped,
        };
        let token = match elected {
            Ok(response) => match response.fencing_token {
                Some(token) => token,
                None => continue,
            },
            Err(error) => {
                tracing::warn!(replica = %config.replica, error = %elector_host::errors::one_line(&error), "campaign failed; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.cancelled() => return Outcome::Stopped,
                }
            }
        };
        tracing::info!(
            replica = %config.replica,
            position = %config.position,
            fencing_token = %token.text(),
            "leads"
        );
        let grant = LeadershipGrant {
            position: config.position.clone(),
            replica: config.replica.clone(),
            fencing_token: token,
        };
        let elected = tokio::select! {
            called = module.on_elected(&grant) => called,
            _ = shutdown.cancelled() => return abandon(client).await,
        };
        match elected {
            Ok(Ok(())) => {}
            Ok(Err(message)) => hook_error(config, monitor, "on-elected", &message),
            Err(crash) => return Outcome::Crashed(crash),
        }
        let reason = match lead(config, client, &mut module, monitor, &mut events, shutdown).await {
            Leading::Lost(reason) => reason,
            Leading::Crashed(reason) => return Outcome::Crashed(reason),
            Leading::Abandoned => return abandon(client).await,
            Leading::Stopping => {
                let _ = tokio::select! {
                    called = module.on_lost(LostReason::Resigned) => called,
                    _ = tokio::time::sleep(SHUTDOWN_HOOK_TIME) => Ok(()),
                };
                let _ = client.resign(ResignOptions::default()).await;
                return Outcome::Stopped;
            }
        };
        tracing::info!(replica = %config.replica, reason = %reason.text(), "no longer leads");
        if let Err(crash) = module.on_lost(reason).await {
            return Outcome::Crashed(crash);
        }
    }
}

enum Leading {
    Lost(LostReason),
    Crashed(Crash),
    /// Shutting down between hooks: the module hears `on-lost`.
    Stopping,
    /// Shutting down in the middle of a hook, which was abandoned: the
    /// instance may be half-way through anything, so it hears nothing more.
    Abandoned,
}

/// How long a module may take over `on-lost` at shutdown.
const SHUTDOWN_HOOK_TIME: Duration = Duration::from_secs(1);

/// Stops in the middle of a hook: resigns (the module is not told; its
/// instance is dropped half-way) so shutdown never waits on a module.
async fn abandon(client: &LeaderElectionClient) -> Outcome {
    let _ = client.resign(ResignOptions::default()).await;
    Outcome::Stopped
}

/// Ticks the module while the lease is valid.
async fn lead(
    config: &ReplicaConfig,
    client: &LeaderElectionClient,
    module: &mut ModuleInstance,
    monitor: &ModuleMonitor,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<CandidateEvent>,
    shutdown: &CancellationToken,
) -> Leading {
    let mut ticks = tokio::time::interval(config.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Leading::Stopping,
            event = events.recv() => match event {
                Some(CandidateEvent::LeadershipLost(reason)) => return Leading::Lost(reason),
                Some(_) => {}
                None => return Leading::Crashed(Crash {
                    cause: CrashCause::ElectorStopped,
                    detail: "the elector sandbox stopped".into(),
                }),
            },
            _ = ticks.tick() => {
                // Never past the lease's local end, whatever the timers do.
                if !client.is_leader() {
                    continue;
                }
                let ticked = tokio::select! {
                    called = module.on_tick() => called,
                    _ = shutdown.cancelled() => return Leading::Abandoned,
                };
                match ticked {
                    Ok(Ok(())) => {}
                    Ok(Err(message)) => hook_error(config, monitor, "on-tick", &message),
                    Err(crash) => return Leading::Crashed(crash),
                }
            }
        }
    }
}

fn hook_error(config: &ReplicaConfig, monitor: &ModuleMonitor, hook: &str, message: &str) {
    tracing::warn!(replica = %config.replica, %hook, %message, "module hook failed");
    monitor.hook_failed();
}
