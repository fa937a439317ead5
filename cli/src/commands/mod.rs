//! The commands, one module each, in the spirit of `etcdctl elect`:
//! campaign and hold (optionally running a command while leading), show
//! the leader, watch it change, resign, read a key; and `statestore`, the
//! AIO-compatible service itself. [`run`] checks a command's arguments,
//! opens its store and runs it.

mod campaign;
mod get;
mod job;
mod leader;
mod observe;
mod printer;
mod resign;
pub mod store;
mod token_file;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;

pub use campaign::{CampaignRequest, RESIGN_DEADLINE, new_session_id};
pub use job::JobSpec;
pub use printer::{Line, Printer};

use crate::cli::{Command, UsageError};
use crate::exit::Exit;
use crate::shutdown::Shutdown;
use elector_host::client::{ClientOptions, LeaderElectionClient};
use elector_host::mqtt::SettingsError;
use elector_host::runtime::{ElectorRuntime, RuntimeConfig};
use elector_host::store::StateStoreBackend;

/// Runs one command; returns the process's exit code. Every argument is
/// checked, and the store chosen, before anything connects.
pub async fn run(command: Command) -> anyhow::Result<i32> {
    let printer = Printer {
        json: command.json(),
    };
    match command {
        Command::Demo(args) => {
            crate::demo::run(args.into_options().await?).await?;
            Ok(Exit::Done.code())
        }
        Command::Campaign(args) => {
            let mut choice = args.connection.store.choice()?;
            let session_id = args.session_id.unwrap_or_else(new_session_id);
            let lock_value = format!("{}:{session_id}", args.name);
            store::release_on_disconnect(
                &mut choice,
                &args.position,
                &lock_value,
                args.release_on_disconnect.0,
            )?;
            let monitor = match args.metrics_addr {
                Some(address) => {
                    let labels = crate::ops::ReplicaLabels {
                        position: args.position.clone(),
                        replica: format!("{}:{session_id}", args.name),
                    };
                    Some((
                        serve_metrics(address, &choice, args.connection.request_timeout).await?,
                        labels,
                    ))
                }
                None => None,
            };
            let request = CampaignRequest {
                position: args.position,
                name: args.name,
                session_id,
                term: args.term,
                renew: !args.no_renew,
                timeout: args.timeout,
                command: (!args.command.is_empty()).then_some(JobSpec {
                    argv: args.command,
                    kill_after: args.kill_after,
                }),
                monitor: monitor
                    .as_ref()
                    .map(|(monitor, labels)| monitor.candidate(labels, args.term)),
            };
            let shutdown = Shutdown::listen()?;
            let stopped = "stopped at once by a second signal, without resigning: the hold \
                           ends by itself at the end of its term";
            until_forced(&shutdown, printer, stopped, async {
                let monitor = monitor.as_ref().map(|(monitor, _)| monitor);
                let Some(store) = open_unless_stopped(
                    choice,
                    args.connection.request_timeout,
                    monitor,
                    &shutdown,
                )
                .await?
                else {
                    return Ok(Exit::Stopped.code());
                };
                let held = campaign::campaign(store.clone(), request, printer, &shutdown).await;
                // The leader's watch, given up on the way out, unregisters.
                store.close().await;
                held
            })
            .await
        }
        Command::Leader(args) => {
            let store = open_store(&args.connection).await?;
            leader::leader(store, &args.position, printer).await?;
            Ok(Exit::Done.code())
        }
        Command::Observe(args) => {
            let choice = args.connection.store.choice()?;
            let shutdown = Shutdown::listen()?;
            until_forced(&shutdown, printer, STOPPED_AT_ONCE, async {
                if let Some(store) =
                    open_unless_stopped(choice, args.connection.request_timeout, None, &shutdown)
                        .await?
                {
                    observe::observe(store, &args.position, printer, shutdown.requested()).await?;
                }
                Ok(Exit::Done.code())
            })
            .await
        }
        Command::Get(args) => {
            let store = open_store(&args.connection).await?;
            let found = get::get(store, &args.key, printer).await?;
            Ok(if found { 0 } else { 1 })
        }
        Command::Resign(args) => {
            let store = open_store(&args.connection).await?;
            let released = resign::resign(
                store,
                &args.position,
                &args.name,
                args.session_id.as_deref(),
                printer,
            )
            .await?;
            Ok(if released { 0 } else { 1 })
        }
        Command::Run(args) => {
            let (request, store) = args.into_request();
            let mut choice = store.choice()?;
            if request.replicas == 1 {
                store::release_on_disconnect(
                    &mut choice,
                    &request.position,
                    &request.name,
                    request.release_on_disconnect,
                )?;
            }
            let shutdown = Shutdown::listen()?;
            let stopped = "stopped at once by a second signal, without resigning: held \
                           positions end by themselves at the end of their terms";
            until_forced(&shutdown, printer, stopped, async {
                crate::run::run(request, choice, shutdown.requested()).await?;
                Ok(Exit::Done.code())
            })
            .await
        }
        Command::Dataflow(args) => {
            crate::dataflow::run(args).await?;
            Ok(Exit::Done.code())
        }
        Command::Bench(args) => {
            crate::bench::run(args).await?;
            Ok(Exit::Done.code())
        }
        Command::Statestore(args) => {
            // A persistent session: requests published while the service
            // reconnects wait at the broker instead of being dropped.
            let settings = args.broker.settings_with_clean_start(false)?;
            let storage = args.storage(&settings)?;
            let readiness = Arc::new(crate::ops::Readiness::default());
            let metrics = match args.metrics_addr {
                Some(address) => {
                    let metrics = elector_service::metrics::ServiceMetrics::new(
                        elector_host::store::mqtt::MqttStoreOptions::default().request_timeout,
                    );
                    readiness.require(elector_service::BROKER, "connecting to the broker");
                    let endpoints = crate::ops::Endpoints {
                        metrics: metrics.clone(),
                        health: Arc::new(crate::ops::Health::default()),
                        readiness: readiness.clone(),
                    };
                    let never = tokio_util::sync::CancellationToken::new();
                    let bound = crate::ops::serve(address, endpoints, never).await?;
                    eprintln!("metrics and health on http://{bound}/metrics, /healthz and /readyz");
                    Some(metrics)
                }
                None => None,
            };
            let options = elector_service::ServiceOptions {
                node_id: args.node_id,
                limits: elector_statestore::Limits {
                    max_keys: args.max_keys,
                    max_value_bytes: args.max_value_bytes,
                    max_store_bytes: args.max_store_bytes,
                    max_watches: args.max_watches,
                    max_watchers_per_key: args.max_watchers_per_key,
                    watch_lease_ms: u64::try_from(args.watch_lease.as_millis()).unwrap_or(u64::MAX),
                    ..elector_statestore::Limits::default()
                },
                metrics,
                readiness: Some(readiness),
                storage,
            };
            let shutdown = Shutdown::listen()?;
            until_forced(&shutdown, printer, STOPPED_AT_ONCE, async {
                elector_service::serve(&settings, options, shutdown.requested())
                    .await
                    .context("state-store service")?;
                Ok(Exit::Done.code())
            })
            .await
        }
    }
}

/// The exit code for a command that failed: [`Exit::Usage`] when the
/// arguments (or the AIO environment) were wrong, else [`Exit::Error`].
pub fn failure_code(error: &anyhow::Error) -> i32 {
    let usage = error
        .chain()
        .any(|cause| cause.is::<UsageError>() || cause.is::<SettingsError>());
    if usage { Exit::Usage } else { Exit::Error }.code()
}

/// What `observe` and `statestore`, which hold nothing, say when a second
/// signal stops them at once.
const STOPPED_AT_ONCE: &str = "stopped at once by a second signal";

/// Runs `work` unless a second signal comes first: then says so and
/// returns at once (dropping `work` kills a command `campaign` runs).
async fn until_forced(
    shutdown: &Shutdown,
    printer: Printer,
    stopped: &str,
    work: impl Future<Output = anyhow::Result<i32>>,
) -> anyhow::Result<i32> {
    tokio::select! {
        result = work => result,
        code = shutdown.forced() => {
            printer.error(stopped);
            Ok(code)
        }
    }
}

/// Opens the store of a command that asks it once and exits (`leader`,
/// `get`, `resign`).
async fn open_store(
    connection: &crate::cli::ConnectionArgs,
) -> anyhow::Result<Arc<dyn StateStoreBackend>> {
    let choice = connection.store.choice()?;
    store::open(choice, connection.request_timeout).await
}

/// Opens the store (its link followed by `monitor`'s readiness, if given),
/// unless the first signal comes while connecting.
async fn open_unless_stopped(
    choice: crate::cli::StoreChoice,
    request_timeout: std::time::Duration,
    monitor: Option<&crate::ops::Monitor>,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<Arc<dyn StateStoreBackend>>> {
    let stop = shutdown.requested();
    let open = async {
        match monitor {
            Some(monitor) => store::open_monitored(choice, request_timeout, monitor).await,
            None => store::open(choice, request_timeout).await,
        }
    };
    tokio::select! {
        store = open => store.map(Some),
        () = stop.cancelled() => Ok(None),
    }
}

/// Serves /metrics, /healthz and /readyz at `address` for a command's
/// candidate, from before the store connects; says where on stderr.
async fn serve_metrics(
    address: std::net::SocketAddr,
    choice: &crate::cli::StoreChoice,
    request_timeout: std::time::Duration,
) -> anyhow::Result<crate::ops::Monitor> {
    let monitor = crate::ops::Monitor::new(request_timeout);
    store::expect_readiness(choice, &monitor);
    let never = tokio_util::sync::CancellationToken::new();
    let bound = crate::ops::serve(address, monitor.endpoints(), never).await?;
    eprintln!("metrics and health on http://{bound}/metrics, /healthz and /readyz");
    Ok(monitor)
}

/// One candidate on `store`, in a sandbox of its own.
async fn candidate(
    store: Arc<dyn StateStoreBackend>,
    position: &str,
    name: &str,
    session_id: Option<String>,
) -> anyhow::Result<LeaderElectionClient> {
    let runtime = ElectorRuntime::new(RuntimeConfig {
        max_sandboxes: 4,
        ..RuntimeConfig::default()
    })?;
    let mut options = ClientOptions::new(position, name);
    options.session_id = session_id;
    Ok(LeaderElectionClient::start(&runtime, store, options).await?)
}
