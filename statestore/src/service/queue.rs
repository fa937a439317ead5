//! Requests waiting for the service, one queue per client, served round
//! robin, so one client's flood cannot hold up everyone else's requests.
//!
//! A single FIFO makes every request wait behind everything that arrived
//! before it: one client sending at full speed delays all others without
//! bound. Here a request waits only behind the requests of its own client
//! and at most one request of each other client with a queue. Each client's
//! queue is bounded (`Limits::max_queued_per_client` requests,
//! `Limits::max_queued_bytes_per_client` bytes, though a first request is
//! always taken), so what a client sends past those is dropped, and so is
//! the newest request of whoever queues the most bytes once all queues
//! together hold `Limits::max_queued_bytes`.
//!
//! Clients are the ids requests claim ([`super::requester`]): a client that
//! names many ids gets many queues. The bounds on total bytes still hold
//! then, and `docs/security.md` says what the broker must do about it.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::limits::Limits;

/// Why a request was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Its client already has `max_queued_per_client` requests waiting.
    ClientRequests,
    /// It would take its client past `max_queued_bytes_per_client`.
    ClientBytes,
    /// All queues are full and its client's holds the most bytes.
    AllQueues,
}

impl Overflow {
    /// A short name, for logs and counters.
    pub fn reason(self) -> &'static str {
        match self {
            Overflow::ClientRequests => "client-queue-full",
            Overflow::ClientBytes => "client-queue-bytes",
            Overflow::AllQueues => "all-queues-full",
        }
    }
}

struct ClientQueue<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
}

/// Per-client queues served round robin.
pub struct FairQueue<T> {
    queues: HashMap<String, ClientQueue<T>>,
    /// Clients with requests waiting, in the order they are served.
    turns: VecDeque<String>,
    /// The same clients by queued bytes, to find the largest.
    by_bytes: BTreeSet<(usize, String)>,
    bytes: usize,
    max_per_client: usize,
    max_bytes_per_client: usize,
    max_bytes: usize,
}

impl<T> FairQueue<T> {
    /// Empty queues bounded by the queue limits of `limits`.
    pub fn new(limits: &Limits) -> Self {
        FairQueue {
            queues: HashMap::new(),
            turns: VecDeque::new(),
            by_bytes: BTreeSet::new(),
            bytes: 0,
            max_per_client: limits.max_queued_per_client,
            max_bytes_per_client: limits.max_queued_bytes_per_client,
            max_bytes: limits.max_queued_bytes,
        }
    }

    /// Queues `item` (taking `bytes`) for `client`. Returns what was
    /// dropped instead, with why: `item` itself when it cannot wait, and
    /// the newest requests of larger queues when all queues were full.
    #[must_use]
    pub fn push(&mut self, client: &str, item: T, bytes: usize) -> Vec<(T, Overflow)> {
        let (queued, queued_bytes) = self
            .queues
            .get(client)
            .map_or((0, 0), |queue| (queue.items.len(), queue.bytes));
        if queued > 0 {
            if queued >= self.max_per_client {
                return vec![(item, Overflow::ClientRequests)];
            }
            if queued_bytes.saturating_add(bytes) > self.max_bytes_per_client {
                return vec![(item, Overflow::ClientBytes)];
            }
        }
        let mut dropped = Vec::new();
        while self.bytes.saturating_add(bytes) > self.max_bytes {
            let Some(largest) = self.largest_other_than(client, queued_bytes.saturating_add(bytes))
            else {
                dropped.push((item, Overflow::AllQueues));
                return dropped;
            };
            let evicted = self
                .pop_newest(&largest)
                .expect("a queue in turn is not empty");
            dropped.push((evicted, Overflow::AllQueues));
        }
        self.append(client, item, bytes);
        dropped
    }

    /// The next request, from the client whose turn it is.
    pub fn pop(&mut self) -> Option<T> {
        let client = self.turns.pop_front()?;
        let queue = self
            .queues
            .get_mut(&client)
            .expect("a client in turn has a queue");
        let (item, bytes) = queue
            .items
            .pop_front()
            .expect("a queue in turn is not empty");
        self.by_bytes.remove(&(queue.bytes, client.clone()));
        queue.bytes -= bytes;
        self.bytes -= bytes;
        if queue.items.is_empty() {
            self.queues.remove(&client);
        } else {
            self.by_bytes.insert((queue.bytes, client.clone()));
            self.turns.push_back(client);
        }
        Some(item)
    }

    /// Requests waiting, over all clients.
    pub fn len(&self) -> usize {
        self.queues.values().map(|queue| queue.items.len()).sum()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// Bytes waiting, over all clients.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn append(&mut self, client: &str, item: T, bytes: usize) {
        let queue = match self.queues.get_mut(client) {
            Some(queue) => {
                self.by_bytes.remove(&(queue.bytes, client.to_owned()));
                queue
            }
            None => {
                self.turns.push_back(client.to_owned());
                self.queues.entry(client.to_owned()).or_insert(ClientQueue {
                    items: VecDeque::new(),
                    bytes: 0,
                })
            }
        };
        queue.items.push_back((item, bytes));
        queue.bytes += bytes;
        self.by_bytes.insert((queue.bytes, client.to_owned()));
        self.bytes += bytes;
    }

    /// The client with the most bytes queued, if it holds more than
    /// `than` and is not `client`.
    fn largest_other_than(&self, client: &str, than: usize) -> Option<String> {
        let (bytes, largest) = self.by_bytes.last()?;
        (*bytes > than && largest != client).then(|| largest.clone())
    }

    fn pop_newest(&mut self, client: &str) -> Option<T> {
        let queue = self.queues.get_mut(client)?;
        let (item, bytes) = queue.items.pop_back()?;
        self.by_bytes.remove(&(queue.bytes, client.to_owned()));
        queue.bytes -= bytes;
        self.bytes -= bytes;
        if queue.items.is_empty() {
            self.queues.remove(client);
            self.turns.retain(|turn| turn != client);
        } else {
            self.by_bytes.insert((queue.bytes, client.to_owned()));
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(per_client: usize, bytes_per_client: usize, bytes: usize) -> FairQueue<&'static str> {
        FairQueue::new(&Limits {
            max_queued_per_client: per_client,
            max_queued_bytes_per_client: bytes_per_client,
            max_queued_bytes: bytes,
            ..Limits::default()
        })
    }

    fn drain(queue: &mut FairQueue<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| queue.pop()).collect()
    }

    /// Pushes each of `items` from `client`, `bytes` long, in order, and
    /// expects nothing dropped.
    fn take(
        queue: &mut FairQueue<&'static str>,
        client: &str,
        items: &[&'static str],
        bytes: usize,
    ) {
        for &item in items {
            assert_eq!(queue.push(client, item, bytes), [], "{item} queued");
        }
    }

    #[test]
    fn clients_take_turns_whatever_order_their_requests_came_in() {
        let mut queue = queue(10, 100, 1_000);
        take(&mut queue, "flood", &["f1", "f2", "f3", "f4"], 1);
        take(&mut queue, "polite", &["p1"], 1);
        take(&mut queue, "other", &["o1"], 1);
        take(&mut queue, "polite", &["p2"], 1);
        assert_eq!(queue.len(), 7);
        assert_eq!(queue.bytes(), 7);
        assert_eq!(
            drain(&mut queue),
            ["f1", "p1", "o1", "f2", "p2", "f3", "f4"]
        );
        assert!(queue.is_empty());
        assert_eq!(queue.bytes(), 0);
    }

    #[test]
    fn a_client_past_its_own_bounds_loses_what_it_sends_next() {
        let mut queue = queue(2, 10, 1_000);
        take(&mut queue, "flood", &["f1", "f2"], 4);
        assert_eq!(
            queue.push("flood", "f3", 1),
            [("f3", Overflow::ClientRequests)]
        );
        queue.pop();
        assert_eq!(
            queue.push("flood", "f4", 7),
            [("f4", Overflow::ClientBytes)]
        );
        take(&mut queue, "flood", &["f5"], 6);
        take(&mut queue, "big", &["b1"], 50);
        assert_eq!(
            drain(&mut queue),
            ["f2", "b1", "f5"],
            "a first request is taken whatever its size"
        );
    }

    #[test]
    fn when_all_queues_are_full_the_largest_loses_its_newest() {
        let mut queue = queue(10, 100, 20);
        take(&mut queue, "flood", &["f1", "f2", "f3"], 6);
        assert_eq!(queue.push("polite", "p1", 4), [("f3", Overflow::AllQueues)]);
        assert_eq!(queue.bytes(), 16);
        assert_eq!(
            queue.push("flood", "f4", 6),
            [("f4", Overflow::AllQueues)],
            "the flood is the largest itself"
        );
        take(&mut queue, "polite", &["p2"], 4);
        assert_eq!(
            queue.push("polite", "p3", 4),
            [("p3", Overflow::AllQueues)],
            "polite's 12 bytes would be no fewer than flood's 12"
        );
        assert_eq!(drain(&mut queue), ["f1", "p1", "f2", "p2"]);
    }

    #[test]
    fn as_many_as_needed_are_dropped_to_make_room() {
        let mut queue = queue(10, 100, 10);
        take(&mut queue, "a", &["a1", "a2", "a3"], 3);
        assert_eq!(
            queue.push("b", "b1", 5),
            [("a3", Overflow::AllQueues), ("a2", Overflow::AllQueues)]
        );
        assert_eq!(queue.bytes(), 8);
    }

    #[test]
    fn an_evicted_last_request_ends_its_clients_turn() {
        let mut queue = queue(10, 100, 10);
        take(&mut queue, "a", &["a1"], 8);
        assert_eq!(queue.push("b", "b1", 4), [("a1", Overflow::AllQueues)]);
        assert_eq!(drain(&mut queue), ["b1"]);
        assert_eq!(queue.bytes(), 0);
    }
}
