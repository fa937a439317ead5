//! The expirer role: one frontend at a time appends the entries that
//! expire keys (the log itself must not depend on any frontend's clock).
//!
//! It is etcd's election (the v3election API) on a lease of a few
//! seconds: the role is held while the lease lives, and the lease lives
//! while this process keeps it alive. When this process stops, or loses
//! the cluster, the lease lapses within its TTL and the next campaigner's
//! Campaign returns.

use std::time::Duration;

use etcd_client::Client;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::{EtcdError, within};

/// The lease's time to live (etcd may raise it to its minimum, about
/// 1.5 election timeouts). Short, so another frontend takes over soon
/// after the expirer dies; long enough for several keep-alives to fail
/// in a row first.
const TTL_SECONDS: i64 = 2;

/// How often the lease is kept alive: four times per TTL.
const KEEP_ALIVE_EVERY: Duration = Duration::from_millis(500);

/// The role is given up this long before the lease could lapse in etcd,
/// so this process stops acting as the expirer before another one can
/// start (it covers clock-rate differences, not clock offsets: all times
/// are measured from when a keep-alive was sent, which is before etcd
/// renews the lease).
const MARGIN: Duration = Duration::from_millis(100);

/// The held expirer role, from [`super::EtcdLog::campaign_expirer`].
///
/// Held until [`ExpirerRole::lost`] fires: when the lease is gone in etcd
/// (revoked), or when no keep-alive was confirmed for the lease's TTL
/// (less a margin), which happens before etcd can let the lease lapse and
/// hand the role to another. Once lost it stays lost; campaign again.
/// Dropping it (or [`ExpirerRole::resign`]) revokes the lease, so the next
/// campaigner gets the role at once instead of after the TTL.
pub struct ExpirerRole {
    lost: CancellationToken,
    lease: i64,
    /// The election key this campaign won with (deleted with the lease).
    key: Vec<u8>,
    client: Client,
    timeout: Duration,
    keeper: JoinHandle<()>,
    revoke_on_drop: bool,
}

impl ExpirerRole {
    pub(super) async fn campaign(
        client: Client,
        name: String,
        id: &str,
        timeout: Duration,
    ) -> Result<ExpirerRole, EtcdError> {
        let asked = Instant::now();
        let grant = within(timeout, || {
            let mut leases = client.lease_client();
            async move { leases.grant(TTL_SECONDS, None).await }
        })
        .await?;
        let ttl = Duration::from_secs(grant.ttl().max(1) as u64);
        let lost = CancellationToken::new();
        let keeper = tokio::spawn(keep_alive(
            client.clone(),
            grant.id(),
            ttl,
            asked + ttl - MARGIN,
            lost.clone(),
            timeout,
        ));
        // From here, returning early drops `role`, which revokes the lease:
        // no campaign key of ours outlives a failed campaign.
        let role = ExpirerRole {
            lost,
            lease: grant.id(),
            key: Vec::new(),
            client,
            timeout,
            keeper,
            revoke_on_drop: true,
        };
        let mut role = role;
        let mut election = role.client.election_client();
        loop {
            tokio::select! {
                campaigned = election.campaign(name.clone(), id, role.lease) => {
                    match campaigned.map_err(EtcdError::from) {
                        Ok(_) => break,
                        // The wait broke (its member went down, say), the
                        // lease lives on: campaign again with it. (etcd
                        // keys the candidate by lease, so a campaign that
                        // won just before breaking is found again.)
                        Err(EtcdError::Unavailable(error)) => {
                            tracing::debug!(%error, "etcd campaign broke; campaigning again");
                            sleep(Duration::from_millis(100)).await;
                        }
                        Err(error) => return Err(error),
                    }
                }
                () = role.lost.cancelled() => {
                    return Err(EtcdError::Unavailable("the lease lapsed while campaigning".into()));
                }
            }
        }
        // Campaign can answer for a key that its lease took away meanwhile;
        // the role is ours only if the election's leader holds our lease.
        let leader = within(timeout, || {
            let (mut election, name) = (role.client.election_client(), name.clone());
            async move { election.leader(name).await }
        })
        .await?;
        match leader.kv() {
            Some(kv) if kv.lease() == role.lease && !role.lost.is_cancelled() => {
                role.key = kv.key().to_vec();
                Ok(role)
            }
            _ => Err(EtcdError::Unavailable(
                "the lease lapsed while campaigning".into(),
            )),
        }
    }

    /// The lease and the election key that hold the role in etcd, for a
    /// Txn that must only succeed while the role is held.
    pub(super) fn fence(&self) -> (i64, &[u8]) {
        (self.lease, &self.key)
    }

    /// Whether the role is still held (see [`ExpirerRole`]).
    pub fn is_leader(&self) -> bool {
        !self.lost.is_cancelled()
    }

    /// Resolves when the role is lost; at once if it already is.
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// Gives the role up now and waits until etcd knows (the lease is
    /// revoked, so the next campaigner has it).
    pub async fn resign(mut self) -> Result<(), EtcdError> {
        self.lost.cancel();
        self.keeper.abort();
        revoke(&self.client, self.lease, self.timeout).await?;
        self.revoke_on_drop = false;
        Ok(())
    }
}

impl std::fmt::Debug for ExpirerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpirerRole")
            .field("lease", &format_args!("{:x}", self.lease))
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

impl Drop for ExpirerRole {
    fn drop(&mut self) {
        self.lost.cancel();
        self.keeper.abort();
        if !self.revoke_on_drop {
            return;
        }
        // Best effort (the lease lapses by itself within its TTL anyway),
        // and only inside a runtime, where a drop can start a request.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, lease, timeout) = (self.client.clone(), self.lease, self.timeout);
            runtime.spawn(async move {
                let _ = revoke(&client, lease, timeout).await;
            });
        }
    }
}

/// Revokes `lease`: its keys (the campaign's) are deleted at once.
async fn revoke(client: &Client, lease: i64, timeout: Duration) -> Result<(), EtcdError> {
    within(timeout, || {
        let mut leases = client.lease_client();
        async move { leases.revoke(lease).await }
    })
    .await?;
    Ok(())
}

/// Keeps `lease` alive until it is gone or could be, then fires `lost`.
/// `valid_until` is how long the lease is known to live; each confirmed
/// keep-alive moves it to the time the keep-alive was sent plus the TTL
/// (less the margin). A broken keep-alive stream is opened again, on any
/// member, for as long as the lease may still live.
async fn keep_alive(
    client: Client,
    lease: i64,
    ttl: Duration,
    mut valid_until: Instant,
    lost: CancellationToken,
    timeout: Duration,
) {
    'open: loop {
        let sent = Instant::now();
        let keep_alive = within(timeout, || {
            let mut leases = client.lease_client();
            async move { leases.keep_alive(lease).await }
        });
        let opened = tokio::select! {
            opened = keep_alive => opened,
            () = sleep_until(valid_until) => break 'open,
        };
        // Opening sends the first keep-alive and reads its answer.
        let (mut keeper, mut answers) = match opened {
            Ok(opened) => {
                valid_until = valid_until.max(sent + ttl - MARGIN);
                opened
            }
            Err(EtcdError::Unavailable(error)) => {
                tracing::debug!(%error, lease, "etcd lease keep-alive not opened; retrying");
                tokio::select! {
                    () = sleep(Duration::from_millis(100)) => continue 'open,
                    () = sleep_until(valid_until) => break 'open,
                }
            }
            // The lease is not found: revoked, or lapsed already.
            Err(error) => {
                tracing::debug!(%error, lease, "etcd lease gone");
                break 'open;
            }
        };
        loop {
            tokio::select! {
                () = sleep(KEEP_ALIVE_EVERY) => {}
                () = sleep_until(valid_until) => break 'open,
            }
            let sent = Instant::now();
            if keeper.keep_alive().await.is_err() {
                continue 'open;
            }
            let answer = tokio::select! {
                answer = answers.message() => answer,
                () = sleep_until(valid_until) => break 'open,
            };
            match answer {
                Ok(Some(answer)) if answer.ttl() > 0 => {
                    let granted = Duration::from_secs(answer.ttl() as u64);
                    valid_until = valid_until.max(sent + granted - MARGIN);
                }
                Ok(Some(_)) => {
                    tracing::debug!(lease, "etcd lease gone");
                    break 'open;
                }
                Ok(None) | Err(_) => continue 'open,
            }
        }
    }
    lost.cancel();
}
