//! The queue between a store backend and one key watch in a sandbox.
//!
//! The backend pushes notifications as the store sends them; the guest's
//! `key-watch.take` drains them and its pollable is ready while any are
//! queued. Each push also wakes the sandbox's driver, so a candidate that
//! is idle (not blocked in a call) still hears of changes promptly.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use elector_statestore::KeyNotification;

/// More than any candidate should ever leave unread; past it the oldest
/// notifications are dropped, which the elector tolerates by design (it
/// never relies on notifications alone).
const MAX_QUEUED: usize = 4096;

pub struct NotificationQueue {
    items: Mutex<VecDeque<KeyNotification>>,
    ready: Notify,
    wake_driver: Arc<Notify>,
}

impl NotificationQueue {
    pub fn new(wake_driver: Arc<Notify>) -> Arc<Self> {
        Arc::new(NotificationQueue {
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            wake_driver,
        })
    }

    pub fn push(&self, notification: KeyNotification) {
        {
            let mut items = self.items.lock().unwrap();
            if items.len() >= MAX_QUEUED {
                items.pop_front();
            }
            items.push_back(notification);
        }
        self.ready.notify_waiters();
        self.wake_driver.notify_one();
    }

    pub fn take_all(&self) -> Vec<KeyNotification> {
        self.items.lock().unwrap().drain(..).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.lock().unwrap().is_empty()
    }

    /// Resolves once at least one notification is queued.
    pub async fn wait_ready(&self) {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before the check, so a push in between is not lost.
            notified.as_mut().enable();
            if !self.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elector_statestore::{Hlc, KeyEvent};

    fn notification(ms: u64) -> KeyNotification {
        KeyNotification {
            event: KeyEvent::Delete,
            version: Hlc::new(ms, 0, "n"),
        }
    }

    #[tokio::test]
    async fn a_push_wakes_the_waiter_and_the_driver() {
        let driver = Arc::new(Notify::new());
        let queue = NotificationQueue::new(driver.clone());
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.wait_ready().await }
        });
        tokio::task::yield_now().await;
        queue.push(notification(1));
        waiter.await.unwrap();
        driver.notified().await;
        assert_eq!(queue.take_all().len(), 1);
        assert!(queue.is_empty());
    }

    #[test]
    fn overflow_drops_the_oldest() {
        let queue = NotificationQueue::new(Arc::new(Notify::new()));
        for ms in 0..(MAX_QUEUED as u64 + 5) {
            queue.push(notification(ms));
        }
        let items = queue.take_all();
        assert_eq!(items.len(), MAX_QUEUED);
        assert_eq!(items[0].version.wall_clock_ms, 5);
    }
}
