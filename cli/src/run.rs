//! `elector run`: replicas of an edge module, active/passive.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::cli::StoreChoice;
use crate::ops::{Monitor, ReplicaLabels, instrumented};
use crate::replica::{self, ReplicaConfig, ReplicaEnvironment};
use elector_host::AutomaticRenewal;
use elector_host::module::{Grants, ModuleLimits, ModuleRuntime};
use elector_host::runtime::{ElectorRuntime, RuntimeConfig};
use elector_host::store::StateStoreBackend;

/// What `elector run` was asked for.
pub struct RunRequest {
    pub module: PathBuf,
    pub position: String,
    pub replicas: usize,
    /// Replica names are `name` (one replica) or `name-1`, `name-2`, ...
    pub name: String,
    pub prefix: Option<String>,
    pub term: Duration,
    pub tick: Duration,
    pub limits: ModuleLimits,
    pub grants: Grants,
    pub metrics_addr: Option<SocketAddr>,
    pub request_timeout: Duration,
    /// The Will's delay, when the replica's connection releases its
    /// position if lost (one replica only).
    pub release_on_disconnect: Option<Duration>,
}

/// The default key prefix of a module: its own namespace, apart from the
/// position key the replicas campaign on. The position is encoded (`%` and
/// `/` escaped), so no position's key space contains another's: position
/// `a` owns `module/a/…`, position `a/beat` owns `module/a%2Fbeat/…`.
pub fn default_prefix(position: &str) -> String {
    let mut prefix = String::from("module/");
    for c in position.chars() {
        match c {
            '%' => prefix.push_str("%25"),
            '/' => prefix.push_str("%2F"),
            c => prefix.push(c),
        }
    }
    prefix.push('/');
    prefix
}

pub fn replica_names(name: &str, replicas: usize) -> Vec<String> {
    if replicas == 1 {
        vec![name.to_owned()]
    } else {
        (1..=replicas).map(|i| format!("{name}-{i}")).collect()
    }
}

/// Runs until `shutdown` fires, then resigns every held position. The
/// request is checked before `store` is connected to.
pub async fn run(
    request: RunRequest,
    store: StoreChoice,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if request.replicas == 0 {
        anyhow::bail!("--replicas must be at least 1");
    }
    if request.tick.is_zero() {
        anyhow::bail!("--tick must be longer than zero");
    }
    request.grants.check()?;
    elector_host::module::check_file(&request.module)?;
    let renewal_period = AutomaticRenewal::every_default_period(request.term).period;
    let names = replica_names(&request.name, request.replicas);
    let monitor = Monitor::new(request.request_timeout);
    // Every series and readiness condition exists before the first scrape,
    // and the endpoint answers while the store connects and the module
    // compiles, so `/readyz` can say what it waits for.
    for replica in &names {
        let labels = ReplicaLabels {
            position: request.position.clone(),
            replica: replica.clone(),
        };
        monitor.candidate(&labels, request.term);
        monitor.module(&labels);
    }
    crate::commands::store::expect_readiness(&store, &monitor);
    if let Some(address) = request.metrics_addr {
        let bound = crate::ops::serve(address, monitor.endpoints(), shutdown.clone()).await?;
        tracing::info!(%bound, "serving /metrics, /healthz and /readyz");
        eprintln!("metrics and health on http://{bound}/metrics, /healthz and /readyz");
    }
    let store =
        crate::commands::store::open_monitored(store, request.request_timeout, &monitor).await?;
    let store: Arc<dyn StateStoreBackend> = Arc::new(instrumented(store, &monitor.metrics));
    let module_name = request
        .module
        .file_stem()
        .map_or_else(|| "module".into(), |s| s.to_string_lossy().into_owned());
    let environment = Arc::new(ReplicaEnvironment {
        elector: ElectorRuntime::new(RuntimeConfig {
            max_sandboxes: u32::try_from(request.replicas)
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            ..RuntimeConfig::default()
        })?,
        module: ModuleRuntime::load(
            &request.module,
            request.limits.clone(),
            request.grants.clone(),
        )?,
        store,
        monitor,
    });
    let prefix = request
        .prefix
        .unwrap_or_else(|| default_prefix(&request.position));
    let mut replicas = Vec::new();
    for replica in names {
        let config = ReplicaConfig {
            position: request.position.clone(),
            replica,
            prefix: prefix.clone(),
            term: request.term,
            renewal_period,
            tick: request.tick,
            module: module_name.clone(),
        };
        replicas.push(tokio::spawn(replica::run(
            config,
            environment.clone(),
            shutdown.clone(),
        )));
    }
    for replica in replicas {
        replica.await.context("a replica task failed")??;
    }
    Ok(())
}
