//! The newest change a client has seen of one watched key, so that it hands
//! its watchers only changes that are newer.
//!
//! Notifications can arrive out of order, and after a reconnect a client
//! reads each watched key again to learn of a change it missed while it was
//! away. The host's MQTT client and the simulator's client both keep this
//! record per watched key; it lives here once, so the two cannot disagree on
//! which change is news.

use crate::client::KeyNotification;
use crate::hlc::Hlc;
use crate::notify::KeyEvent;

/// The newest change seen of a watched key: its value (`None` once
/// deleted) and its version, or nothing before the first change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewestChange {
    seen: Option<(Option<Vec<u8>>, Hlc)>,
}

impl NewestChange {
    /// Records a change and returns the notification to hand to every
    /// watcher, or `None` if the change is older than the newest one seen
    /// (a reordered notification, which its watchers must not hear).
    pub fn accept(&mut self, value: Option<Vec<u8>>, version: Hlc) -> Option<KeyNotification> {
        if let Some((_, newest)) = &self.seen
            && !version.is_at_least(newest)
        {
            return None;
        }
        let notification = KeyNotification {
            event: match &value {
                Some(value) => KeyEvent::Set(value.clone()),
                None => KeyEvent::Delete,
            },
            version: version.clone(),
        };
        self.seen = Some((value, version));
        Some(notification)
    }

    /// Whether a fresh read that shows `value` (`None`: the key is gone)
    /// tells of a change this record has not seen: one missed while the
    /// client was disconnected.
    pub fn missed(&self, value: &Option<Vec<u8>>) -> bool {
        self.seen.as_ref().is_none_or(|(seen, _)| seen != value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlc(wall_clock_ms: u64) -> Hlc {
        Hlc::new(wall_clock_ms, 0, "n")
    }

    #[test]
    fn a_change_as_new_as_or_newer_than_the_last_is_news() {
        let mut newest = NewestChange::default();
        let set = newest.accept(Some(b"a".to_vec()), hlc(10)).unwrap();
        assert_eq!(set.event, KeyEvent::Set(b"a".to_vec()));
        assert!(newest.accept(Some(b"b".to_vec()), hlc(10)).is_some());
        let deleted = newest.accept(None, hlc(11)).unwrap();
        assert_eq!(deleted.event, KeyEvent::Delete);
        assert_eq!(deleted.version, hlc(11));
    }

    #[test]
    fn an_older_change_is_dropped_and_not_recorded() {
        let mut newest = NewestChange::default();
        newest.accept(Some(b"new".to_vec()), hlc(20));
        assert_eq!(newest.accept(Some(b"old".to_vec()), hlc(19)), None);
        assert!(!newest.missed(&Some(b"new".to_vec())));
    }

    #[test]
    fn a_read_that_differs_from_the_last_change_was_missed() {
        let mut newest = NewestChange::default();
        assert!(newest.missed(&None), "nothing seen yet");
        newest.accept(Some(b"v".to_vec()), hlc(1));
        assert!(!newest.missed(&Some(b"v".to_vec())));
        assert!(newest.missed(&Some(b"w".to_vec())));
        assert!(newest.missed(&None));
    }
}
