//! The requests between the connection and the worker: one queue per
//! client, served round robin (`elector_statestore::service::FairQueue`).
//!
//! The connection task takes every request off the socket as it comes and
//! files it here under the client it claims; the worker takes them in turn.
//! So a client flooding the service fills only its own bounded queue (what
//! it sends past that is dropped), and another client's request waits
//! behind at most one request of each client with requests waiting, not
//! behind the whole flood. A request that names no acceptable response
//! topic is dropped before it takes a place.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use elector_statestore as ss;
use tokio::sync::Notify;

use super::drops::Drops;
use super::received::Received;

pub struct Inbox {
    queue: Mutex<ss::service::FairQueue<Received>>,
    limits: ss::Limits,
    ready: Notify,
    closed: AtomicBool,
    drops: Arc<Drops>,
}

impl Inbox {
    pub fn new(limits: &ss::Limits, drops: Arc<Drops>) -> Inbox {
        Inbox {
            queue: Mutex::new(ss::service::FairQueue::new(limits)),
            limits: limits.clone(),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            drops,
        }
    }

    /// Files a request under its client, or drops it (counted, logged at
    /// debug) when it may not be answered or its client's queue is full.
    pub fn admit(&self, request: Received) {
        let client = match ss::service::requester(&request.incoming(), &self.limits) {
            Ok(client) => client,
            Err(dropped) => {
                self.drop_one(dropped.reason(), None);
                return;
            }
        };
        let bytes = request.publish.size();
        let dropped = self.queue.lock().unwrap().push(&client, request, bytes);
        for (_, overflow) in dropped {
            self.drop_one(overflow.reason(), Some(&client));
        }
        self.ready.notify_one();
    }

    /// The next request in turn; `None` once closed and empty.
    pub async fn next(&self) -> Option<Received> {
        loop {
            if let Some(request) = self.queue.lock().unwrap().pop() {
                return Some(request);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.ready.notified().await;
        }
    }

    /// The next request in turn if one is waiting, without waiting.
    pub fn try_next(&self) -> Option<Received> {
        self.queue.lock().unwrap().pop()
    }

    /// No more requests will come: [`Inbox::next`] ends once the queues
    /// are empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    fn drop_one(&self, reason: &'static str, client: Option<&str>) {
        tracing::debug!(reason, client, "request dropped unanswered");
        self.drops.count(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::received::tests::request;

    fn inbox(limits: ss::Limits) -> (Inbox, Arc<Drops>) {
        let drops = Arc::new(Drops::default());
        (Inbox::new(&limits, drops.clone()), drops)
    }

    fn payload(received: &Received) -> Vec<u8> {
        received.publish.payload.to_vec()
    }

    #[tokio::test]
    async fn clients_are_served_in_turn_and_a_flood_past_its_queue_is_dropped() {
        let (inbox, drops) = inbox(ss::Limits {
            max_queued_per_client: 3,
            ..ss::Limits::default()
        });
        for i in 0..10 {
            inbox.admit(Received::new(
                request("flood", format!("f{i}").as_bytes()),
                0,
            ));
        }
        inbox.admit(Received::new(request("polite", b"p0"), 0));
        assert_eq!(drops.total("client-queue-full"), 7);
        let mut served = Vec::new();
        inbox.close();
        while let Some(request) = inbox.next().await {
            served.push(payload(&request));
        }
        assert_eq!(served, [&b"f0"[..], b"p0", b"f1", b"f2"]);
    }

    #[tokio::test]
    async fn a_request_for_a_foreign_topic_never_takes_a_place() {
        let (inbox, drops) = inbox(ss::Limits::default());
        let mut foreign = request("c", b"x");
        foreign.properties.as_mut().unwrap().response_topic = Some("factory/valve/cmd".into());
        inbox.admit(Received::new(foreign, 0));
        assert_eq!(drops.total("foreign-response-topic"), 1);
        inbox.close();
        assert!(inbox.next().await.is_none());
    }

    #[tokio::test]
    async fn next_waits_for_a_request() {
        let (inbox, _) = inbox(ss::Limits::default());
        let inbox = Arc::new(inbox);
        let waiter = tokio::spawn({
            let inbox = inbox.clone();
            async move { inbox.next().await.map(|r| payload(&r)) }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        inbox.admit(Received::new(request("c", b"late"), 0));
        assert_eq!(waiter.await.unwrap(), Some(b"late".to_vec()));
    }
}
