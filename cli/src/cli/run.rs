//! `elector run`'s flags.

use std::time::Duration;

use super::store::StoreArgs;
use super::values::{ReleaseDelay, candidate_name, duration, not_empty, release_delay, term};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The module: a .wasm component of the elector:election/edge-module world.
    pub module: std::path::PathBuf,
    /// The position the replicas campaign for.
    #[arg(long, value_parser = not_empty)]
    pub position: String,
    /// Replicas to run in this process.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Replica name (with several replicas: NAME-1, NAME-2, ...)
    /// [default: the host name and process id].
    #[arg(long, value_parser = candidate_name)]
    pub name: Option<String>,
    /// Key prefix the module's keys live under [default: module/POSITION/].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Election term, at least 10ms; renewals run every third of it.
    #[arg(long, default_value = "5s", value_parser = term)]
    pub term: Duration,
    /// Over a broker, with one replica: the connection's MQTT Will releases
    /// the position when the broker has lost the connection for this long,
    /// so a crashed leader is replaced after about this delay instead of at
    /// the end of its term (see `elector campaign --help`). Whole seconds,
    /// or `off`. Replicas of one process share a connection, which can
    /// release only one of them: with several, it is off.
    #[arg(long, default_value = "1s", value_parser = release_delay, value_name = "DELAY|off")]
    pub release_on_disconnect: ReleaseDelay,
    /// How often the leading replica's module gets `on-tick`.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub tick: Duration,
    /// Linear memory per module instance, in MiB.
    #[arg(long, default_value_t = 64)]
    pub module_memory_mib: usize,
    /// CPU a module hook may use in all, host calls included.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub module_cpu: Duration,
    /// Let modules write to the host's stdout and stderr.
    #[arg(long)]
    pub allow_stdio: bool,
    /// Let modules read the host's environment variables.
    #[arg(long)]
    pub allow_env: bool,
    /// Let modules use the network (TCP, UDP, name lookups).
    #[arg(long)]
    pub allow_network: bool,
    /// Give modules a directory: HOST_PATH or HOST_PATH::GUEST_PATH.
    #[arg(long, value_name = "DIR")]
    pub allow_dir: Vec<String>,
    /// Serve Prometheus metrics on /metrics and health on /healthz here.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Longest wait for any state-store answer.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub request_timeout: Duration,
    #[command(flatten)]
    pub store: StoreArgs,
}

impl RunArgs {
    pub fn into_request(self) -> (crate::run::RunRequest, StoreArgs) {
        let dirs = self
            .allow_dir
            .iter()
            .map(|spec| match spec.split_once("::") {
                Some((host, guest)) => (host.into(), guest.to_owned()),
                None => (spec.into(), spec.clone()),
            })
            .collect();
        let name = self.name.unwrap_or_else(default_replica_name);
        let request = crate::run::RunRequest {
            module: self.module,
            position: self.position,
            replicas: self.replicas,
            name,
            prefix: self.prefix,
            term: self.term,
            tick: self.tick,
            limits: elector_host::module::ModuleLimits {
                memory: self.module_memory_mib << 20,
                compute: self.module_cpu,
                ..elector_host::module::ModuleLimits::default()
            },
            grants: elector_host::module::Grants {
                stdio: self.allow_stdio,
                env: self.allow_env,
                dirs,
                network: self.allow_network,
            },
            metrics_addr: self.metrics_addr,
            request_timeout: self.request_timeout,
            release_on_disconnect: self.release_on_disconnect.0,
        };
        (request, self.store)
    }
}

/// `host-pid`: unique on a machine, readable in logs.
fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "elector".into());
    format!("{}-{}", host.replace(':', "-"), std::process::id())
}
