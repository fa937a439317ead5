//! Answers to recent requests, so a request the client's MQTT stack sends
//! again after a reconnect (same correlation data, DUP set) gets the same
//! answer instead of being applied twice.

use std::collections::{HashMap, VecDeque};

/// Remembers the last [`Dedupe::CAPACITY`] answers.
pub struct Dedupe<T> {
    answers: HashMap<(String, Vec<u8>), T>,
    order: VecDeque<(String, Vec<u8>)>,
}

impl<T> Default for Dedupe<T> {
    fn default() -> Self {
        Dedupe {
            answers: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T: Clone> Dedupe<T> {
    pub const CAPACITY: usize = 4096;

    pub fn get(&self, client: &str, correlation: &[u8]) -> Option<T> {
        self.answers
            .get(&(client.to_owned(), correlation.to_vec()))
            .cloned()
    }

    pub fn remember(&mut self, client: &str, correlation: Vec<u8>, answer: T) {
        let key = (client.to_owned(), correlation);
        if self.answers.insert(key.clone(), answer).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.answers.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_remembered_per_client_and_the_oldest_forgotten() {
        let mut dedupe = Dedupe::default();
        dedupe.remember("a", b"1".to_vec(), 10);
        assert_eq!(dedupe.get("a", b"1"), Some(10));
        assert_eq!(dedupe.get("b", b"1"), None);
        for i in 0..Dedupe::<i32>::CAPACITY {
            dedupe.remember("a", i.to_be_bytes().to_vec(), 0);
        }
        assert_eq!(dedupe.get("a", b"1"), None);
    }
}
