//! Following the log: a watch on the log key that survives broken
//! connections, members going down and leader changes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use etcd_client::{Client, EventType, WatchOptions};
use futures::Stream;
use tokio::sync::mpsc;

use super::{EtcdError, within};

/// Entries delivered but not yet taken by the follower: the watch waits
/// (and etcd buffers) beyond this, so a slow follower holds no more.
const BUFFER: usize = 1024;

/// First and longest wait before a broken watch is opened again.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// The log's entries as they commit, `(revision, entry)` in revision
/// order, from [`super::EtcdLog::follow`]. A task of its own runs the watch,
/// so entries keep arriving while the follower is busy; dropping this ends
/// the task and the watch.
pub struct Follow {
    entries: mpsc::Receiver<Result<(i64, Vec<u8>), EtcdError>>,
}

impl Follow {
    pub(super) fn start(client: Client, key: String, after: i64, timeout: Duration) -> Follow {
        let (sender, entries) = mpsc::channel(BUFFER);
        tokio::spawn(async move {
            tokio::select! {
                () = watch(client, key, after, timeout, &sender) => {}
                () = sender.closed() => {}
            }
        });
        Follow { entries }
    }

    /// The next entry; `None` only after [`EtcdError::Compacted`].
    pub async fn next_entry(&mut self) -> Option<Result<(i64, Vec<u8>), EtcdError>> {
        self.entries.recv().await
    }
}

impl Stream for Follow {
    type Item = Result<(i64, Vec<u8>), EtcdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.entries.poll_recv(cx)
    }
}

type Sender = mpsc::Sender<Result<(i64, Vec<u8>), EtcdError>>;

/// Watches `key` from `after + 1` until the follower is gone or the
/// history it needs was compacted, opening the watch again (from the
/// revision after the last one delivered) whenever it breaks. Opening
/// the watch is bounded by `timeout`; the watch itself is not.
async fn watch(client: Client, key: String, after: i64, timeout: Duration, sender: &Sender) {
    let mut next = after.saturating_add(1).max(1);
    let mut retry = RETRY_FIRST;
    loop {
        let options = WatchOptions::new().with_start_revision(next);
        let opened_at = tokio::time::Instant::now();
        let opened = within(timeout, || {
            let (mut watches, key) = (client.watch_client(), key.clone());
            let options = options.clone();
            async move { watches.watch(key, Some(options)).await }
        });
        match opened.await {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(response)) => {
                        // Set when `next` is below the compacted revision
                        // (at creation, or when the watch fell that far
                        // behind): these entries are gone for good.
                        if response.compact_revision() > 0 {
                            let _ = sender
                                .send(Err(EtcdError::Compacted(response.compact_revision())))
                                .await;
                            return;
                        }
                        if response.canceled() {
                            tracing::debug!(
                                reason = response.cancel_reason(),
                                next,
                                "etcd watch canceled; resuming"
                            );
                            break;
                        }
                        for event in response.events() {
                            let Some(kv) = event.kv() else { continue };
                            // Only Puts are entries; a re-opened watch may
                            // repeat what was delivered, which is skipped.
                            if event.event_type() != EventType::Put || kv.mod_revision() < next {
                                continue;
                            }
                            let revision = kv.mod_revision();
                            if sender
                                .send(Ok((revision, kv.value().to_vec())))
                                .await
                                .is_err()
                            {
                                return;
                            }
                            next = revision + 1;
                        }
                    }
                    Ok(None) => {
                        tracing::debug!(next, "etcd watch ended; resuming");
                        break;
                    }
                    Err(error) => {
                        tracing::debug!(%error, next, "etcd watch broke; resuming");
                        break;
                    }
                }
            },
            Err(error) => tracing::debug!(%error, next, "etcd watch not opened; retrying"),
        }
        // Back off only while watches keep breaking soon after opening.
        if opened_at.elapsed() > RETRY_MAX {
            retry = RETRY_FIRST;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}
