//! Where the service keeps its state, and how it comes back from a
//! restart without granting a position twice: durable (every change on
//! disk before its answer leaves, `disk.rs`) or in memory (empty after a
//! restart, so no absent key is granted for a lock-delay).

use std::path::PathBuf;
use std::time::Duration;

use elector_statestore as ss;

use super::disk::Disk;
use elector_host::clock::StoreClock;

/// How long an in-memory service holds every absent key after it starts,
/// unless told otherwise: longer than the leases elector's clients take
/// (their default term is 10 s, and terms over a minute are rare).
pub const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(60);

/// Where the service keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// In a database in this directory: a restart (even `kill -9`) loses
    /// no acknowledged change.
    Durable {
        /// Created if missing; one service per directory.
        data_dir: PathBuf,
        /// The lock-delay of a start whose database is new (a replacement
        /// for a store whose disk was lost may have granted leases nobody
        /// can know of); a restored store needs none.
        lock_delay_if_new: Duration,
    },
    /// In an etcd cluster, by any number of frontends (`--etcd`): see
    /// `ha/`. Needs the `etcd` feature.
    Etcd {
        /// `http://HOST:PORT` of any members.
        endpoints: Vec<String>,
        /// The lock-delay of a cluster whose log is new.
        lock_delay_if_new: Duration,
    },
    /// In memory only: a restart loses everything, so for `lock_delay`
    /// after a start no conditional SET takes an absent key (nobody wins a
    /// position whose previous holder may still believe it leads).
    InMemory {
        /// Longer than the longest lease any client takes.
        lock_delay: Duration,
    },
}

impl Default for Storage {
    /// In memory, with the default lock-delay: nothing on disk unless a
    /// directory is named, and safe all the same.
    fn default() -> Self {
        Storage::InMemory {
            lock_delay: DEFAULT_LOCK_DELAY,
        }
    }
}

/// The service as `storage` brings it back, and the disk its changes go
/// to (none in memory).
pub fn open(
    storage: &Storage,
    node_id: &str,
    limits: &ss::Limits,
    clock: &StoreClock,
) -> anyhow::Result<(ss::service::Service, Option<Disk>)> {
    match storage {
        Storage::Etcd { .. } => {
            anyhow::bail!("the etcd-backed store is served by its own frontend, not opened here")
        }
        Storage::InMemory { lock_delay } => {
            let mut service = ss::service::Service::new(node_id, limits.clone());
            hold_new_positions(&mut service, *lock_delay, clock);
            tracing::warn!(
                lock_delay = %humantime::format_duration(*lock_delay),
                "in-memory state store: a restart loses every key; no new position is \
                 granted until the lock-delay has passed"
            );
            Ok((service, None))
        }
        Storage::Durable {
            data_dir,
            lock_delay_if_new,
        } => {
            let disk = Disk::open(data_dir)?;
            let mut service = match disk.load()? {
                Some(snapshot) => {
                    let (keys, watchers, remembered) = (
                        snapshot.store.keys.len(),
                        snapshot.store.watches.len(),
                        snapshot.remembered.len(),
                    );
                    let service = ss::service::Service::restore(
                        node_id,
                        limits.clone(),
                        snapshot,
                        clock.now_ms(),
                    );
                    tracing::info!(
                        path = %disk.path().display(),
                        keys, watchers, remembered,
                        "durable state store restored"
                    );
                    service
                }
                None => {
                    let mut service = ss::service::Service::new(node_id, limits.clone());
                    disk.begin(service.digest_key())?;
                    hold_new_positions(&mut service, *lock_delay_if_new, clock);
                    tracing::info!(
                        path = %disk.path().display(),
                        lock_delay = %humantime::format_duration(*lock_delay_if_new),
                        "durable state store created"
                    );
                    service
                }
            };
            service.track_changes();
            Ok((service, Some(disk)))
        }
    }
}

/// No conditional SET takes an absent key for `lock_delay` from now.
fn hold_new_positions(
    service: &mut ss::service::Service,
    lock_delay: Duration,
    clock: &StoreClock,
) {
    let delay_ms = u64::try_from(lock_delay.as_millis()).unwrap_or(u64::MAX);
    if delay_ms > 0 {
        service.hold_new_positions_until(clock.now_ms().saturating_add(delay_ms));
    }
}
