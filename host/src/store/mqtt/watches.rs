//! Key watches over MQTT: one KEYNOTIFY registration per key, shared by
//! every watch of that key in this client, fanned out to their queues.
//!
//! The last change seen of each key is kept, so that after a reconnect a
//! fresh read shows whether a change was missed; a missed change is queued
//! as a notification, so no watcher is left waiting for news that already
//! happened.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use elector_statestore as ss;
use rumqttc::v5::mqttbytes::v5::Publish;

use super::Shared;
use crate::mqtt::properties;
use crate::store::{NotificationQueue, WatchGuard};
use ss::StoreResult;
use ss::client::{get_result, keynotify_result};

pub struct Watches {
    keys: Mutex<HashMap<Vec<u8>, Watchers>>,
    /// Serialises KEYNOTIFY and KEYNOTIFY STOP, so a STOP for a key whose
    /// last watch went away cannot overtake a new watch's registration.
    registering: tokio::sync::Mutex<()>,
    /// One permit held by each `KEYNOTIFY … STOP` still on its way, so a
    /// closing client can wait for them (`Watches::settled`).
    unregistering: Arc<tokio::sync::Semaphore>,
    next_id: AtomicU64,
}

/// As many STOPs as may be on their way at once (each holds a permit).
const MAX_UNREGISTERING: u32 = 1 << 16;

impl Default for Watches {
    fn default() -> Self {
        Watches {
            keys: Mutex::default(),
            registering: tokio::sync::Mutex::default(),
            unregistering: Arc::new(tokio::sync::Semaphore::new(MAX_UNREGISTERING as usize)),
            next_id: AtomicU64::default(),
        }
    }
}

impl Watches {
    /// Resolves once no `KEYNOTIFY … STOP` is on its way any more.
    pub async fn settled(&self) {
        let _ = self.unregistering.acquire_many(MAX_UNREGISTERING).await;
    }
}

#[derive(Default)]
struct Watchers {
    queues: HashMap<u64, Arc<NotificationQueue>>,
    /// The newest change seen, so only newer ones reach the queues.
    newest: ss::NewestChange,
}

impl Watchers {
    /// Records a change and hands it to every queue, unless it is older
    /// than one already seen.
    fn deliver(&mut self, value: Option<Vec<u8>>, version: ss::Hlc) {
        if let Some(notification) = self.newest.accept(value, version) {
            for queue in self.queues.values() {
                queue.push(notification.clone());
            }
        }
    }
}

pub async fn register(
    shared: &Arc<Shared>,
    key: &[u8],
    queue: Arc<NotificationQueue>,
) -> StoreResult<WatchGuard> {
    let watches = &shared.watches;
    let _registering = watches.registering.lock().await;
    let id = watches.next_id.fetch_add(1, Ordering::Relaxed);
    let first = {
        let mut keys = watches.keys.lock().unwrap();
        let watchers = keys.entry(key.to_vec()).or_default();
        watchers.queues.insert(id, queue);
        watchers.queues.len() == 1
    };
    if first {
        let command = ss::client::keynotify_command(key, false);
        let registered = shared
            .request(command, None)
            .await
            .and_then(keynotify_result);
        if let Err(error) = registered {
            forget(&watches.keys, key, id);
            return Err(error);
        }
    }
    Ok(WatchGuard::new(Registration {
        shared: Arc::downgrade(shared),
        key: key.to_vec(),
        id,
    }))
}

/// Removes one watch; true if it was the key's last.
fn forget(keys: &Mutex<HashMap<Vec<u8>, Watchers>>, key: &[u8], id: u64) -> bool {
    let mut keys = keys.lock().unwrap();
    let Some(watchers) = keys.get_mut(key) else {
        return false;
    };
    watchers.queues.remove(&id);
    if watchers.queues.is_empty() {
        keys.remove(key);
        true
    } else {
        false
    }
}

struct Registration {
    shared: Weak<Shared>,
    key: Vec<u8>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if !forget(&shared.watches.keys, &self.key, self.id) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        // Unregister in the background; a failure only means the store
        // sends notifications nobody reads, until the registration lapses.
        // `MqttStore::close` waits for these before it disconnects.
        let unregistering = shared.watches.unregistering.clone();
        let guard = unregistering.clone().try_acquire_owned();
        runtime.spawn(async move {
            let _pending = guard;
            let _registering = shared.watches.registering.lock().await;
            if shared.watches.keys.lock().unwrap().contains_key(&key) {
                return; // watched again meanwhile
            }
            let command = ss::Command::KeyNotify { key, stop: true };
            let _ = shared.request(command, None).await;
        });
    }
}

/// Every `period`, while the link is up: registers every watch again and
/// surfaces a change missed meanwhile (see [`Shared::catch_up`]). A store
/// that lost a registration without this client disconnecting (restarted
/// with its state, lapsed it, or took a `STOP` from someone claiming this
/// client's id) silences a watch for at most one period. Ends with the
/// client.
pub async fn refresh(shared: Weak<Shared>, period: std::time::Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.closing.is_cancelled() {
            return;
        }
        let generation = match &*shared.link.borrow() {
            super::link::LinkState::Up { generation } => *generation,
            _ => continue, // the reconnect registers them again anyway
        };
        let keys: Vec<Vec<u8>> = shared
            .watches
            .keys
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for key in keys {
            if shared.link.borrow().generation() != generation {
                break;
            }
            let _registering = shared.watches.registering.lock().await;
            if !shared.watches.keys.lock().unwrap().contains_key(&key) {
                continue;
            }
            if let Err(error) = shared.catch_up(&key).await {
                tracing::debug!(error = %error, "refreshing a watch failed; the next period tries again");
            }
        }
    }
}

impl Shared {
    /// A KEYNOTIFY message. Notifications without `__ts`, or that do not
    /// parse, are dropped (as Microsoft's clients do).
    pub fn notified(&self, topic: &str, publish: &Publish) {
        let Some((client, key)) = ss::protocol::parse_notification_topic(topic) else {
            tracing::debug!(%topic, "message on an unexpected topic dropped");
            return;
        };
        if client != self.client_id {
            return;
        }
        let Some(version) = publish
            .properties
            .as_ref()
            .and_then(|p| properties::timestamp(p).ok())
        else {
            tracing::debug!("notification without __ts dropped");
            return;
        };
        let Ok(event) = ss::resp::decode_notification(&publish.payload) else {
            tracing::debug!("malformed notification dropped");
            return;
        };
        if self.merge_version(&version).is_err() {
            return;
        }
        let value = match event {
            ss::KeyEvent::Set(value) => Some(value),
            ss::KeyEvent::Delete => None,
        };
        if let Some(watchers) = self.watches.keys.lock().unwrap().get_mut(&key) {
            watchers.deliver(value, version);
        }
    }

    /// After a reconnect: KEYNOTIFY again for every watched key, then read
    /// each and queue a notification for any change that was missed. A key
    /// whose requests fail is tried again until it succeeds or the link
    /// drops again (the next connection starts over).
    pub async fn reregister_watches(&self, generation: u64) {
        let keys: Vec<Vec<u8>> = self.watches.keys.lock().unwrap().keys().cloned().collect();
        for key in keys {
            let mut pause = std::time::Duration::from_millis(50);
            loop {
                if self.link.borrow().generation() != generation {
                    return;
                }
                if !self.watches.keys.lock().unwrap().contains_key(&key) {
                    break; // no longer watched
                }
                match self.catch_up(&key).await {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::debug!(error = %error, "registering a watch again failed; retrying");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(std::time::Duration::from_secs(2));
                    }
                }
            }
        }
    }

    /// Registers one key's watch again and surfaces a missed change.
    async fn catch_up(&self, key: &[u8]) -> StoreResult<()> {
        let command = ss::client::keynotify_command(key, false);
        keynotify_result(self.request(command, None).await?)?;
        let answer = self.request(ss::client::get_command(key), None).await?;
        let store_version = answer.version.clone();
        let (value, version) = match get_result(answer)? {
            Some(current) => (Some(current.value), current.version),
            // The key is gone; the store's current version dates that. A
            // store that sent none: this client's clock, which has merged
            // every version it saw, so the deletion is not taken for older
            // than the last change seen (the read showed it is gone now).
            None => (
                None,
                store_version
                    .unwrap_or_else(|| self.clock.lock().unwrap().now(super::wall_clock_ms())),
            ),
        };
        let mut keys = self.watches.keys.lock().unwrap();
        if let Some(watchers) = keys.get_mut(key)
            && watchers.newest.missed(&value)
        {
            tracing::debug!(key = %String::from_utf8_lossy(key), "change missed while disconnected");
            watchers.deliver(value, version);
        }
        Ok(())
    }
}
