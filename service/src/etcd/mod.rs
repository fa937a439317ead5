//! etcd as the replicated log of `elector statestore --etcd`.
//!
//! Every frontend runs the same deterministic state machine and applies
//! the same sequence of entries; etcd only orders and keeps them. This
//! module is that layer and nothing more: entries are opaque bytes.
//!
//! - The log is the history of ONE key, `<prefix>log`: each [`EtcdLog::append`]
//!   is a Put on it, and every Put is a new etcd revision, so etcd's Raft
//!   log orders all appends of all frontends totally. Revisions are global
//!   to the etcd keyspace, so the log's revisions increase but have gaps
//!   (snapshots, the expirer's election and other users of the cluster
//!   take revisions too).
//! - [`EtcdLog::follow`] watches that key from a revision on: etcd delivers
//!   a key's events in revision order without gaps, and a broken watch is
//!   resumed after the last revision delivered.
//! - Snapshots ([`EtcdLog::store_snapshot`]) let a frontend start without
//!   replaying the whole history, and let the history be compacted
//!   ([`EtcdLog::compact`]); a frontend whose position was compacted away
//!   gets [`EtcdError::Compacted`] and reloads the snapshot.
//! - One frontend at a time is the expirer ([`EtcdLog::campaign_expirer`],
//!   `expirer.rs`), with etcd's lease-based election.
//!
//! Every request runs with `require_leader`, so a member cut off from the
//! cluster's leader refuses at once instead of serving stale watches or
//! holding requests, and with HTTP/2 keep-alives, so a dead connection is
//! noticed even when nothing is sent.

mod expirer;
mod follow;

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp, TxnOpResponse,
};

pub use expirer::ExpirerRole;
pub use follow::Follow;

/// What the etcd layer fails with.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// The cluster did not answer in time: no quorum, no leader, no member
    /// reachable, or the request timed out. Retryable; a write that failed
    /// this way may still have been committed.
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
    /// The log history before the requested revision was compacted away:
    /// the caller must load a snapshot and follow from its revision.
    #[error("etcd log compacted up to revision {0}")]
    Compacted(i64),
    /// Anything else (a refused request, a malformed stored value).
    #[error("etcd: {0}")]
    Other(String),
}

impl From<etcd_client::Error> for EtcdError {
    fn from(error: etcd_client::Error) -> Self {
        use etcd_client::Error as E;
        match &error {
            E::TransportError(_) | E::IoError(_) => EtcdError::Unavailable(error.to_string()),
            E::GRpcStatus(status) => {
                let message = status.message();
                // gRPC's status codes (fixed by the gRPC spec; tonic, which
                // names them, is not a dependency of ours): CANCELLED,
                // UNKNOWN (a broken connection often ends so),
                // DEADLINE_EXCEEDED and UNAVAILABLE.
                let unavailable = matches!(i32::from(status.code()), 1 | 2 | 4 | 14)
                    || [
                        "no leader",
                        "timed out",
                        "leader changed",
                        "too many requests",
                        "not capable",
                    ]
                    .iter()
                    .any(|m| message.contains(m));
                if unavailable {
                    EtcdError::Unavailable(error.to_string())
                } else {
                    EtcdError::Other(error.to_string())
                }
            }
            // A lease that is gone is final; otherwise the keep-alive and
            // watch streams report a broken stream so.
            E::LeaseKeepAliveError(message) if message.contains("not found") => {
                EtcdError::Other(error.to_string())
            }
            E::LeaseKeepAliveError(_) | E::WatchError(_) => {
                EtcdError::Unavailable(error.to_string())
            }
            _ => EtcdError::Other(error.to_string()),
        }
    }
}

/// The log, its snapshots and the expirer role in one etcd cluster.
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct EtcdLog {
    client: Client,
    prefix: String,
    timeout: Duration,
}

/// HTTP/2 keep-alive pings on a connection with requests open, and how
/// long a ping may go unanswered: a connection whose member stopped
/// answering (a partition; a killed process is noticed at once) is
/// dropped after about their sum, and requests move to another member.
/// etcd closes connections that ping more often than every 5 s
/// (`--grpc-keepalive-min-time`) or ping without requests open, so no
/// shorter interval and no idle pings.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

impl EtcdLog {
    /// Connects to the cluster at `endpoints` (`http://host:port`, any
    /// subset of its members: requests are balanced over those reachable).
    /// Every key lives under `prefix` (`elector/statestore/v1/`, say), so
    /// the cluster can be shared. `timeout` bounds every request but the
    /// waits that are meant to be long ([`EtcdLog::follow`] and waiting for
    /// the expirer role). Fails when no member answers within `timeout`.
    pub async fn connect(
        endpoints: &[String],
        prefix: &str,
        timeout: Duration,
    ) -> Result<EtcdLog, EtcdError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(false)
            .with_require_leader(true);
        let client = Client::connect(endpoints, Some(options)).await?;
        let log = EtcdLog {
            client,
            prefix: prefix.to_owned(),
            timeout,
        };
        // The client connects lazily; one read tells a wrong address or a
        // cluster without quorum now rather than at the first append.
        let key = log.log_key();
        log.within(|| {
            let (mut kv, key) = (log.client.kv_client(), key.clone());
            async move { kv.get(key, Some(GetOptions::new().with_count_only())).await }
        })
        .await?;
        Ok(log)
    }

    /// The revision of the log's newest entry (0: none yet): following
    /// until this revision is applied is catching up.
    pub async fn head(&self) -> Result<i64, EtcdError> {
        let key = self.log_key();
        let response = self
            .within(|| {
                let (mut kv, key) = (self.client.kv_client(), key.clone());
                async move { kv.get(key, None).await }
            })
            .await?;
        Ok(response.kvs().first().map_or(0, |kv| kv.mod_revision()))
    }

    /// Appends `entry` to the log and returns the revision it got: one Put
    /// on the log key, committed by a quorum before it returns. Followers
    /// see it at that revision, after every entry with a lower one.
    ///
    /// Fails with [`EtcdError::Unavailable`] without quorum or after the
    /// timeout. Such a failure is not a "no": the Put may have reached the
    /// leader and commit later, so an entry whose append failed may still
    /// show up in [`EtcdLog::follow`] (entries must be safe to apply however
    /// their append ended, e.g. carry an id that makes a retry a no-op).
    pub async fn append(&self, entry: &[u8]) -> Result<i64, EtcdError> {
        let key = self.log_key();
        let response = self
            .within(|| {
                let (mut kv, key) = (self.client.kv_client(), key.clone());
                async move { kv.put(key, entry, None).await }
            })
            .await?;
        revision_of(response.header())
    }

    /// Appends `entry` only if `role` still holds the expirer role in etcd:
    /// one Txn that puts the entry if the role's election key still has the
    /// role's lease. So an expirer that lost the role without noticing yet
    /// (a long pause, a partition) cannot append: `Ok(None)`. Otherwise as
    /// [`EtcdLog::append`], timeouts that may still commit included.
    pub async fn append_as(
        &self,
        role: &ExpirerRole,
        entry: &[u8],
    ) -> Result<Option<i64>, EtcdError> {
        let (lease, key) = role.fence();
        let txn = Txn::new()
            .when([Compare::lease(key, CompareOp::Equal, lease)])
            .and_then([TxnOp::put(self.log_key(), entry, None)]);
        let response = self
            .within(|| {
                let (mut kv, txn) = (self.client.kv_client(), txn.clone());
                async move { kv.txn(txn).await }
            })
            .await?;
        if !response.succeeded() {
            return Ok(None);
        }
        revision_of(response.header()).map(Some)
    }

    /// Every entry with a revision above `after`, in revision order, as
    /// they commit, without end: a watch on the log key from `after + 1`.
    /// A broken watch (member down, no leader, connection lost) is resumed
    /// from the last revision delivered, so nothing is lost or repeated.
    /// The stream yields `Err` only for [`EtcdError::Compacted`] (then it
    /// ends): the revisions after `after` are gone, load a snapshot. While
    /// the cluster is unreachable it just yields nothing. Dropping the
    /// stream ends the watch. Call it inside a Tokio runtime (the watch
    /// runs in a task of its own).
    pub fn follow(&self, after: i64) -> Follow {
        Follow::start(self.client.clone(), self.log_key(), after, self.timeout)
    }

    /// The newest snapshot: the revision it covers (every entry up to and
    /// including it is applied in it) and its bytes, or `None` when no
    /// snapshot was stored. One linearizable read of both keys.
    pub async fn load_snapshot(&self) -> Result<Option<(i64, Vec<u8>)>, EtcdError> {
        let dir = self.snapshot_dir();
        let response = self
            .within(|| {
                let (mut kv, dir) = (self.client.kv_client(), dir.clone());
                async move { kv.get(dir, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        let (mut revision, mut data) = (None, None);
        for kv in response.kvs() {
            if kv.key() == self.snapshot_revision_key().as_bytes() {
                revision = Some(decode_revision(kv.value())?);
            } else if kv.key() == self.snapshot_data_key().as_bytes() {
                data = Some(kv.value().to_vec());
            }
        }
        match (revision, data) {
            (Some(revision), Some(data)) => Ok(Some((revision, data))),
            (None, None) => Ok(None),
            _ => Err(EtcdError::Other(format!(
                "half a snapshot under {}",
                self.snapshot_dir()
            ))),
        }
    }

    /// Stores `bytes` as the snapshot covering `revision`, only if no
    /// snapshot of the same or a newer revision is stored: one Txn that
    /// compares the stored revision, so frontends racing to store theirs
    /// never move it backwards. Returns whether it was stored.
    ///
    /// etcd refuses requests over `--max-request-bytes` (1.5 MiB by
    /// default): a bigger snapshot fails with [`EtcdError::Other`].
    pub async fn store_snapshot(&self, revision: i64, bytes: &[u8]) -> Result<bool, EtcdError> {
        if revision < 0 {
            return Err(EtcdError::Other(format!(
                "snapshot revision {revision} is negative"
            )));
        }
        let revision_key = self.snapshot_revision_key();
        let encoded = encode_revision(revision);
        let puts = || {
            vec![
                TxnOp::put(revision_key.clone(), encoded.clone(), None),
                TxnOp::put(self.snapshot_data_key(), bytes, None),
            ]
        };
        // Absent: create. Present: replace only an older one. (A Value
        // compare on a missing key always fails, hence the two branches;
        // fixed-width decimal compares as bytes like the numbers do.)
        let txn = Txn::new()
            .when([Compare::version(revision_key.clone(), CompareOp::Equal, 0)])
            .and_then(puts())
            .or_else([TxnOp::txn(
                Txn::new()
                    .when([Compare::value(
                        revision_key.clone(),
                        CompareOp::Less,
                        encoded.clone(),
                    )])
                    .and_then(puts()),
            )]);
        let response = self
            .within(|| {
                let (mut kv, txn) = (self.client.kv_client(), txn.clone());
                async move { kv.txn(txn).await }
            })
            .await?;
        if response.succeeded() {
            return Ok(true);
        }
        match response.op_responses().first() {
            Some(TxnOpResponse::Txn(inner)) => Ok(inner.succeeded()),
            _ => Err(EtcdError::Other(
                "snapshot txn answered without its nested txn".into(),
            )),
        }
    }

    /// Discards the cluster's history before `revision` (etcd compaction:
    /// for every key, not only this prefix's). Followers behind it get
    /// [`EtcdError::Compacted`]; so call it only with the revision of a
    /// stored snapshot, some time after storing it.
    pub async fn compact(&self, revision: i64) -> Result<(), EtcdError> {
        self.within(|| {
            let mut kv = self.client.kv_client();
            async move { kv.compact(revision, None).await }
        })
        .await?;
        Ok(())
    }

    /// Campaigns for the single expirer role and returns once this
    /// frontend holds it (waiting as long as another one does). See
    /// [`ExpirerRole`] for how long the role is held.
    pub async fn campaign_expirer(&self, id: &str) -> Result<ExpirerRole, EtcdError> {
        ExpirerRole::campaign(
            self.client.clone(),
            format!("{}expirer", self.prefix),
            id,
            self.timeout,
        )
        .await
    }

    fn log_key(&self) -> String {
        format!("{}log", self.prefix)
    }

    fn snapshot_dir(&self) -> String {
        format!("{}snapshot/", self.prefix)
    }

    fn snapshot_revision_key(&self) -> String {
        format!("{}snapshot/revision", self.prefix)
    }

    fn snapshot_data_key(&self) -> String {
        format!("{}snapshot/data", self.prefix)
    }

    /// `request()` within the timeout (see [`within`]).
    async fn within<T, F, Fut>(&self, request: F) -> Result<T, EtcdError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        within(self.timeout, request).await
    }
}

/// `request()` within `timeout`; a timeout is [`EtcdError::Unavailable`].
///
/// A request that failed because its member refused the connection was
/// never sent, so it is sent again (the client balances requests over all
/// endpoints and keeps picking a dead member's now and then; without this,
/// one member down would fail some requests of a cluster with quorum).
/// Any other failure is returned: whether it took effect is unknown.
async fn within<T, F, Fut>(timeout: Duration, mut request: F) -> Result<T, EtcdError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, request()).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(error)) if never_sent(&error) => {
                tracing::trace!(%error, "etcd member refused the connection; resending");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => {
                return Err(EtcdError::Unavailable(format!(
                    "no answer within {timeout:?}"
                )));
            }
        }
    }
}

/// Whether `error` is a refused connection, so the request never left.
fn never_sent(error: &etcd_client::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = match error {
        etcd_client::Error::GRpcStatus(status) => Some(status),
        etcd_client::Error::TransportError(error) => Some(error),
        etcd_client::Error::IoError(error) => Some(error),
        _ => None,
    };
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = error.source();
    }
    false
}

fn revision_of(header: Option<&etcd_client::ResponseHeader>) -> Result<i64, EtcdError> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| EtcdError::Other("response without a header".into()))
}

/// A revision as 19 decimal digits: every non-negative i64 fits, and
/// equal-width digit strings compare as bytes (what an etcd Value compare
/// does) like the numbers.
fn encode_revision(revision: i64) -> String {
    format!("{revision:019}")
}

fn decode_revision(value: &[u8]) -> Result<i64, EtcdError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| EtcdError::Other("malformed snapshot revision".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_revisions_compare_like_numbers() {
        let revisions = [0, 1, 9, 10, 99, 100, 123_456_789, i64::MAX];
        for a in revisions {
            assert_eq!(decode_revision(encode_revision(a).as_bytes()).unwrap(), a);
            for b in revisions {
                assert_eq!(
                    encode_revision(a)
                        .as_bytes()
                        .cmp(encode_revision(b).as_bytes()),
                    a.cmp(&b)
                );
            }
        }
    }
}
