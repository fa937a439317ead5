//! `elector campaign`'s flags.

use std::time::Duration;

use super::store::ConnectionArgs;
use super::values::{ReleaseDelay, candidate_name, duration, not_empty, release_delay, term};

#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    /// The position (state-store key) to campaign for.
    #[arg(value_parser = not_empty)]
    pub position: String,
    /// This candidate's name: the lock value is NAME:SESSION-ID.
    #[arg(long, value_parser = candidate_name)]
    pub name: String,
    /// The lock value's session id [default: new and unique to this
    /// process, so two processes with one name never both lead]. Give the
    /// same one again to let a restarted process take back its own hold.
    #[arg(long, value_parser = not_empty)]
    pub session_id: Option<String>,
    /// Election term, at least 10ms; renewals run every third of it.
    #[arg(long, default_value = "5s", value_parser = term)]
    pub term: Duration,
    /// Hold for one term only: do not renew (leadership is then lost,
    /// exit code 3, at the end of the term).
    #[arg(long)]
    pub no_renew: bool,
    /// Give up if not elected within this time (exit code 4).
    #[arg(long, value_parser = duration)]
    pub timeout: Option<Duration>,
    /// With COMMAND: how long it has to exit after SIGTERM before it (and
    /// its process group) gets SIGKILL. Short, because once leadership is
    /// lost another leader may be elected within the safety margin.
    #[arg(long, default_value = "5s", value_parser = duration, value_name = "DURATION")]
    pub kill_after: Duration,
    /// Run COMMAND while leading, in its own process group, with
    /// ELECTOR_POSITION set and ELECTOR_FENCING_TOKEN_FILE naming a file
    /// that holds the current fencing token (rewritten atomically at every
    /// renewal, removed when leadership is lost). COMMAND gets SIGTERM when
    /// leadership is lost (at the local end of the lease, before the store
    /// can elect anyone else) or on Ctrl-C/SIGTERM; when it exits, the
    /// position is released and elector exits with COMMAND's exit code.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Over a broker: this connection's MQTT Will releases the position
    /// (`VDEL` of this candidate's lock value) when the broker has lost the
    /// connection for this long, so a crashed leader is replaced after
    /// about this delay instead of at the end of its term. The lease ends
    /// before the Will can act whenever the link goes silent. Whole
    /// seconds, or `off`. See docs/reliability.md for what the broker must
    /// do.
    #[arg(long, default_value = "1s", value_parser = release_delay, value_name = "DELAY|off")]
    pub release_on_disconnect: ReleaseDelay,
    /// Serve Prometheus metrics on /metrics, health on /healthz and
    /// readiness on /readyz at this address (see docs/operations.md).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}
