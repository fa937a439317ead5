//! The durable store's disk: the service's whole state in one redb
//! database, written (and fsync'd, redb's default durability) before any
//! answer or notification that depends on it is published.
//!
//! Tables, all keyed so that one change rewrites one row:
//!
//! - `keys`: key → (value, version, fencing token, absolute expiry ms);
//! - `watches`: client → every key it watches (a client that watches
//!   nothing has no row);
//! - `replays`: (client, correlation data) → (first handled at ms,
//!   digest, the answer a re-send gets: topic, payload, version);
//! - `meta`: the format, the digest key, the HLC high-water mark.
//!
//! redb writes a transaction whole or not at all, so a `kill -9` at any
//! instant leaves the state of the last committed batch, and nothing the
//! service published is missing from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use elector_statestore as ss;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use ss::service::{DigestKey, Outgoing, Remembered, ServiceChanges, ServiceSnapshot};

/// The database file inside the data directory.
pub const FILE_NAME: &str = "store.redb";

type EntryRow<'a> = (&'a [u8], &'a str, Option<&'a str>, Option<u64>);
type AnswerRow<'a> = (&'a str, &'a [u8], &'a str);
type ReplayRow<'a> = (u64, u64, Option<AnswerRow<'a>>);

const KEYS: TableDefinition<&[u8], EntryRow> = TableDefinition::new("keys");
const WATCHES: TableDefinition<&str, Vec<&[u8]>> = TableDefinition::new("watches");
const REPLAYS: TableDefinition<(&str, &[u8]), ReplayRow> = TableDefinition::new("replays");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const FORMAT: &str = "format";
const FORMAT_VERSION: &[u8] = b"1";
const DIGEST_KEY: &str = "digest-key";
const HIGH_WATER: &str = "high-water";

/// The open database. Cheap to clone; writes run on a blocking thread.
#[derive(Clone)]
pub struct Disk {
    db: Arc<Database>,
    path: PathBuf,
}

impl Disk {
    /// Opens (or creates) the database in `dir`, which it creates too.
    ///
    /// # Errors
    ///
    /// When the directory cannot be made, the file cannot be opened (another
    /// `elector statestore` holds it: the message says so), or it was
    /// written by an incompatible version.
    pub fn open(dir: &Path) -> anyhow::Result<Disk> {
        create_private_dir(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
                "{} is in use by another elector statestore; give each its own --data-dir",
                path.display()
            ),
            other => anyhow::anyhow!("opening {}: {other}", path.display()),
        })?;
        let disk = Disk {
            db: Arc::new(db),
            path,
        };
        disk.check_format()?;
        Ok(disk)
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the last run wrote down, or `None` for a new database.
    pub fn load(&self) -> anyhow::Result<Option<ServiceSnapshot>> {
        let read = self.db.begin_read()?;
        let meta = read.open_table(META)?;
        let Some(digest_key) = meta.get(DIGEST_KEY)? else {
            return Ok(None);
        };
        let digest_key = DigestKey(
            digest_key
                .value()
                .try_into()
                .context("a digest key of the wrong length")?,
        );
        let mut store = ss::Snapshot::empty();
        if let Some(text) = meta.get(HIGH_WATER)? {
            store.high_water = ss::Hlc::parse_bytes(text.value()).context("the high-water mark")?;
        }
        for row in read.open_table(KEYS)?.iter()? {
            let (key, entry) = row?;
            let (value, version, token, expires_at_ms) = entry.value();
            store.keys.push((
                key.value().to_vec(),
                ss::StoredEntry {
                    value: value.to_vec(),
                    version: version.parse().context("a stored version")?,
                    fencing_token: token
                        .map(str::parse)
                        .transpose()
                        .context("a stored fencing token")?,
                    expires_at_ms,
                },
            ));
        }
        for row in read.open_table(WATCHES)?.iter()? {
            let (client, keys) = row?;
            let keys = keys.value().into_iter().map(<[u8]>::to_vec).collect();
            store.watches.push((client.value().to_owned(), keys));
        }
        let mut remembered = Vec::new();
        for row in read.open_table(REPLAYS)?.iter()? {
            let (id, entry) = row?;
            let (client, correlation) = id.value();
            let (at_ms, digest, answer) = entry.value();
            let answer = answer
                .map(|(topic, payload, version)| {
                    anyhow::Ok(Outgoing {
                        topic: topic.to_owned(),
                        payload: payload.to_vec(),
                        correlation: Some(correlation.to_vec()),
                        user_properties: ss::service::reply_properties(&version.parse()?),
                    })
                })
                .transpose()
                .context("a remembered answer")?;
            remembered.push(Remembered {
                client: client.to_owned(),
                correlation: correlation.to_vec(),
                at_ms,
                digest,
                answer,
            });
        }
        Ok(Some(ServiceSnapshot {
            store,
            remembered,
            digest_key,
        }))
    }

    /// Writes down a new service's digest key, so that what it remembers
    /// means the same after a restart.
    pub fn begin(&self, digest_key: DigestKey) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        write
            .open_table(META)?
            .insert(DIGEST_KEY, &digest_key.0[..])?;
        write.commit()?;
        Ok(())
    }

    /// Writes `changes` in one transaction and waits until they are on
    /// disk.
    pub async fn write(&self, changes: ServiceChanges) -> anyhow::Result<()> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || write_changes(&db, &changes))
            .await
            .context("the disk writer stopped")?
    }

    fn check_format(&self) -> anyhow::Result<()> {
        let write = self.db.begin_write()?;
        {
            let mut meta = write.open_table(META)?;
            let found = meta.get(FORMAT)?.map(|value| value.value().to_vec());
            match found {
                None => {
                    meta.insert(FORMAT, FORMAT_VERSION)?;
                }
                Some(version) if version == FORMAT_VERSION => {}
                Some(version) => anyhow::bail!(
                    "{} has data format {:?}; this elector reads format {:?}",
                    self.path.display(),
                    String::from_utf8_lossy(&version),
                    String::from_utf8_lossy(FORMAT_VERSION)
                ),
            }
            // Every table exists from the start, so reads never miss one.
            write.open_table(KEYS)?;
            write.open_table(WATCHES)?;
            write.open_table(REPLAYS)?;
        }
        write.commit()?;
        Ok(())
    }
}

/// `dir` and any missing parent, readable by this user only (the values
/// are whatever clients stored); an existing directory is left as it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn write_changes(db: &Database, changes: &ServiceChanges) -> anyhow::Result<()> {
    let write = db.begin_write()?;
    {
        let mut keys = write.open_table(KEYS)?;
        for (key, entry) in &changes.store.keys {
            match entry {
                Some(entry) => {
                    let version = entry.version.to_string();
                    let token = entry.fencing_token.as_ref().map(ToString::to_string);
                    let row = (
                        entry.value.as_slice(),
                        version.as_str(),
                        token.as_deref(),
                        entry.expires_at_ms,
                    );
                    keys.insert(key.as_slice(), row)?;
                }
                None => {
                    keys.remove(key.as_slice())?;
                }
            }
        }
        let mut watches = write.open_table(WATCHES)?;
        for (client, watched) in &changes.store.watches {
            if watched.is_empty() {
                watches.remove(client.as_str())?;
            } else {
                let watched: Vec<&[u8]> = watched.iter().map(Vec::as_slice).collect();
                watches.insert(client.as_str(), watched)?;
            }
        }
        let mut replays = write.open_table(REPLAYS)?;
        for remembered in &changes.replays.remembered {
            let version = remembered.answer.as_ref().map(answer_version);
            let answer = remembered.answer.as_ref().map(|answer| {
                (
                    answer.topic.as_str(),
                    answer.payload.as_slice(),
                    version.as_deref().unwrap_or_default(),
                )
            });
            let id = (
                remembered.client.as_str(),
                remembered.correlation.as_slice(),
            );
            replays.insert(id, (remembered.at_ms, remembered.digest, answer))?;
        }
        for (client, correlation) in &changes.replays.forgotten {
            replays.remove((client.as_str(), correlation.as_slice()))?;
        }
        let high_water = changes.store.high_water.to_string();
        write
            .open_table(META)?
            .insert(HIGH_WATER, high_water.as_bytes())?;
    }
    write.commit()?;
    Ok(())
}

/// The version an answer carries in `__ts`.
fn answer_version(answer: &Outgoing) -> String {
    answer
        .user_properties
        .iter()
        .find(|(name, _)| name == ss::protocol::TIMESTAMP)
        .map(|(_, value)| value.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ss::service::{Incoming, Service};

    const NOW: u64 = 1_800_000_000_000;

    fn properties(client: &str) -> Vec<(String, String)> {
        vec![
            ("__srcId".to_owned(), client.to_owned()),
            ("__ts".to_owned(), format!("{NOW:015}:00000:{client}")),
        ]
    }

    fn send(service: &mut Service, client: &str, correlation: &[u8], payload: &[u8]) -> Vec<u8> {
        let topic = ss::protocol::response_topic(client);
        let properties = properties(client);
        let incoming = Incoming {
            response_topic: Some(&topic),
            correlation: Some(correlation),
            user_properties: &properties,
            payload,
        };
        let out = service.handle(NOW, &incoming).expect("answered");
        let answer = out.iter().find(|o| o.correlation.is_some());
        answer.expect("an answer").payload.clone()
    }

    const SET_NX: &[u8] =
        b"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$1\r\na\r\n$2\r\nNX\r\n$2\r\nPX\r\n$5\r\n10000\r\n";
    const WATCH: &[u8] = b"*2\r\n$9\r\nKEYNOTIFY\r\n$4\r\nlock\r\n";

    #[tokio::test]
    async fn what_is_written_comes_back_whole_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open(dir.path()).unwrap();
        assert!(disk.load().unwrap().is_none(), "a new database");
        let mut service = Service::new("s", ss::Limits::default());
        disk.begin(service.digest_key()).unwrap();
        service.track_changes();
        send(&mut service, "w", b"1", WATCH);
        assert_eq!(send(&mut service, "a", b"2", SET_NX), b"+OK\r\n");
        disk.write(service.take_changes()).await.unwrap();
        let before = service.usage();
        drop(disk);

        let disk = Disk::open(dir.path()).unwrap();
        let snapshot = disk.load().unwrap().expect("state on disk");
        let mut restored = Service::restore("s", ss::Limits::default(), snapshot, NOW);
        let after = restored.usage();
        assert_eq!(
            (after.keys, after.stored_bytes, after.watches),
            (before.keys, before.stored_bytes, before.watches)
        );
        assert_eq!(
            (before.remembered, after.remembered),
            (2, 1),
            "the SET's kept answer, not the KEYNOTIFY (answered afresh)"
        );
        // The re-sent SET gets its first answer; another client finds the
        // position taken.
        assert_eq!(send(&mut restored, "a", b"2", SET_NX), b"+OK\r\n");
        assert_eq!(send(&mut restored, "b", b"1", SET_NX), b":-1\r\n");
        // The watcher's registration came back.
        let expired = restored.expire(NOW + 10_000);
        assert_eq!(expired.len(), 1);
        assert_eq!(
            expired[0].topic,
            ss::protocol::notification_topic("w", b"lock")
        );
    }

    #[test]
    fn a_second_service_on_the_same_directory_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Disk::open(dir.path()).unwrap();
        let error = Disk::open(dir.path()).err().expect("refused").to_string();
        assert!(
            error.contains("in use by another elector statestore"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("store");
        Disk::open(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
