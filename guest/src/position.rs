//! What a candidate last learned about who holds its position, and what
//! each new piece of news means: a change worth reporting, a renewal, an
//! early release or an expiry.

use crate::types::{
    Hlc, Instant, KeyEvent, KeyNotification, Leader, LeadershipChange, PositionState,
};

/// The holder as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub value: Vec<u8>,
    /// The version of the holder's latest write, when known.
    pub version: Option<Hlc>,
    /// When this candidate learned of that write, on its own clock.
    pub seen_at: Instant,
}

/// What one notification meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News {
    /// The position was written (acquired or renewed) by `value`.
    Written { value: Vec<u8> },
    /// The position was released before the previous holder's term ran out
    /// (a resignation): worth trying at once.
    ReleasedEarly,
    /// The position was released at or after its expected expiry, or by a
    /// holder whose write this candidate never saw.
    Expired,
}

#[derive(Default)]
pub struct PositionView {
    holder: Option<Holder>,
    /// Stale notifications (older than what is known) are ignored.
    newest: Option<Hlc>,
    /// How often the holder writes (ms of store time between its last two
    /// writes seen), once two writes of the same holder were seen.
    cadence_ms: Option<u64>,
}

impl PositionView {
    pub fn holder(&self) -> Option<&Holder> {
        self.holder.as_ref()
    }

    /// How long the holder's writes can be expected apart: its observed
    /// renewal cadence, or `own_term_ms` (the best guess of its term) until
    /// two of its writes were seen. A holder that renews every `p` holds a
    /// term longer than `p`, so a waiter that hears nothing for `p` has
    /// reason to look, and one that hears a renewal every `p` never needs
    /// to poll.
    pub fn holder_period_ms(&self, own_term_ms: u64) -> u64 {
        self.cadence_ms.unwrap_or(own_term_ms).max(1)
    }

    /// Remembers `value`'s write at `version`, learning the cadence when
    /// the same holder wrote before.
    fn record_write(&mut self, value: &[u8], version: Option<&Hlc>) {
        let previous = self
            .holder
            .as_ref()
            .filter(|h| h.value == value)
            .and_then(|h| h.version.as_ref());
        self.cadence_ms = match (previous, version) {
            (Some(previous), Some(version)) => {
                let gap = version.wall_clock_ms.saturating_sub(previous.wall_clock_ms);
                if gap > 0 { Some(gap) } else { self.cadence_ms }
            }
            (Some(_), None) => self.cadence_ms,
            (None, _) => None,
        };
    }

    /// Records the result of a read or a write of the position. Returns
    /// the change to report when it shows a new holder. (A read that finds
    /// the position free reports nothing: it carries no version, and the
    /// store's DELETE notification reports the release.)
    pub fn learn(
        &mut self,
        value: Option<Vec<u8>>,
        version: Option<Hlc>,
        now: Instant,
    ) -> Option<LeadershipChange> {
        if let Some(version) = &version {
            if self.is_stale(version) {
                return None;
            }
            self.newest = Some(version.clone());
        }
        let Some(value) = value else {
            self.holder = None;
            return None;
        };
        self.record_write(&value, version.as_ref());
        let previous = self.holder.take();
        let change = match (&version, previous) {
            (Some(version), previous) if previous.as_ref().map(|h| &h.value) != Some(&value) => {
                Some(LeadershipChange {
                    new_state: PositionState::LeaderElected,
                    new_leader: Some(Leader::from_lock_value(&value)),
                    timestamp_ms: version.wall_clock_ms,
                    version: version.clone(),
                })
            }
            _ => None,
        };
        self.holder = Some(Holder {
            value,
            version,
            seen_at: now,
        });
        change
    }

    /// Applies a notification. Returns `None` for a notification older than
    /// what is already known; otherwise what it means and, when the holder
    /// changed, the change to report to observers. `term_ms` is the term the
    /// caller campaigns with, the guess of the holder's term until its
    /// cadence is known.
    pub fn absorb(
        &mut self,
        notification: KeyNotification,
        term_ms: u64,
        now: Instant,
    ) -> Option<(News, Option<LeadershipChange>)> {
        if self.is_stale(&notification.version) {
            return None;
        }
        self.newest = Some(notification.version.clone());
        let timestamp_ms = notification.version.wall_clock_ms;
        // Before the holder is replaced: a delete is early if it came
        // sooner after the holder's last write than its next one was due.
        let early_within_ms = self.holder_period_ms(term_ms);
        if let KeyEvent::Set(value) = &notification.event {
            self.record_write(value, Some(&notification.version));
        }
        let previous = self.holder.take();
        match notification.event {
            KeyEvent::Set(value) => {
                let changed = previous.as_ref().map(|h| &h.value) != Some(&value);
                let change = changed.then(|| LeadershipChange {
                    new_state: PositionState::LeaderElected,
                    new_leader: Some(Leader::from_lock_value(&value)),
                    timestamp_ms,
                    version: notification.version.clone(),
                });
                self.holder = Some(Holder {
                    value: value.clone(),
                    version: Some(notification.version),
                    seen_at: now,
                });
                Some((News::Written { value }, change))
            }
            KeyEvent::Delete => {
                let early = previous
                    .as_ref()
                    .and_then(|h| h.version.as_ref())
                    .is_some_and(|written| {
                        // Store clocks on both sides: no local skew involved.
                        // An expiry never fires before write + term, and the
                        // term is longer than the holder's cadence, so a
                        // delete before that is a release (1 ms for rounding).
                        notification.version.wall_clock_ms.saturating_add(1)
                            < written.wall_clock_ms.saturating_add(early_within_ms)
                    });
                let change = previous.is_some().then_some(LeadershipChange {
                    new_state: PositionState::NoLeader,
                    new_leader: None,
                    timestamp_ms,
                    version: notification.version,
                });
                let news = if early {
                    News::ReleasedEarly
                } else {
                    News::Expired
                };
                Some((news, change))
            }
        }
    }

    fn is_stale(&self, version: &Hlc) -> bool {
        self.newest
            .as_ref()
            .is_some_and(|newest| version.cmp_version(newest).is_lt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlc(ms: u64, counter: u32) -> Hlc {
        Hlc {
            wall_clock_ms: ms,
            counter,
            node_id: "n".into(),
        }
    }

    fn set(value: &str, version: Hlc) -> KeyNotification {
        KeyNotification {
            event: KeyEvent::Set(value.as_bytes().to_vec()),
            version,
        }
    }

    fn deleted(version: Hlc) -> KeyNotification {
        KeyNotification {
            event: KeyEvent::Delete,
            version,
        }
    }

    /// What a deletion at `at_ms` tells a waiter whose own term is
    /// `term_ms`: a release or an expiry.
    fn news_of_delete(view: &mut PositionView, at_ms: u64, term_ms: u64) -> News {
        let (news, _) = view
            .absorb(deleted(hlc(at_ms, 0)), term_ms, Instant(0))
            .unwrap();
        news
    }

    #[test]
    fn renewal_by_the_same_holder_is_not_a_change() {
        let mut view = PositionView::default();
        let (_, change) = view.absorb(set("a", hlc(1, 0)), 1000, Instant(0)).unwrap();
        assert_eq!(change.unwrap().new_leader.unwrap().name, "a");
        let (news, change) = view.absorb(set("a", hlc(2, 0)), 1000, Instant(0)).unwrap();
        assert_eq!(
            news,
            News::Written {
                value: b"a".to_vec()
            }
        );
        assert!(change.is_none());
    }

    #[test]
    fn delete_before_the_term_ends_is_a_release() {
        let mut view = PositionView::default();
        view.absorb(set("a", hlc(1_000, 0)), 1000, Instant(0));
        let (news, change) = view
            .absorb(deleted(hlc(1_500, 0)), 1000, Instant(0))
            .unwrap();
        assert_eq!(news, News::ReleasedEarly);
        assert_eq!(change.unwrap().new_state, PositionState::NoLeader);
    }

    #[test]
    fn delete_at_the_term_end_is_an_expiry() {
        let mut view = PositionView::default();
        view.absorb(set("a", hlc(1_000, 0)), 1000, Instant(0));
        assert_eq!(news_of_delete(&mut view, 2_000, 1000), News::Expired);
    }

    #[test]
    fn delete_of_an_unknown_write_is_treated_as_expiry() {
        let mut view = PositionView::default();
        let (news, change) = view.absorb(deleted(hlc(5, 0)), 1000, Instant(0)).unwrap();
        assert_eq!(news, News::Expired);
        assert!(change.is_none(), "nothing was known, so nothing changed");
    }

    #[test]
    fn stale_notifications_are_ignored() {
        let mut view = PositionView::default();
        view.learn(Some(b"b".to_vec()), Some(hlc(10, 0)), Instant(0));
        assert!(view.absorb(set("a", hlc(9, 0)), 1000, Instant(0)).is_none());
        assert!(
            view.learn(Some(b"c".to_vec()), Some(hlc(8, 0)), Instant(0))
                .is_none()
        );
        assert_eq!(view.holder().unwrap().value, b"b");
    }

    #[test]
    fn learning_a_new_holder_is_a_change_and_its_notification_is_not() {
        let mut view = PositionView::default();
        let change = view.learn(Some(b"a".to_vec()), Some(hlc(3, 0)), Instant(0));
        assert_eq!(change.unwrap().new_leader.unwrap().name, "a");
        let (_, change) = view.absorb(set("a", hlc(3, 0)), 1000, Instant(0)).unwrap();
        assert!(
            change.is_none(),
            "the same write must not be reported twice"
        );
        assert!(
            view.learn(Some(b"a".to_vec()), Some(hlc(4, 0)), Instant(0))
                .is_none()
        );
    }

    #[test]
    fn the_holder_cadence_is_learned_from_two_of_its_writes() {
        let mut view = PositionView::default();
        assert_eq!(view.holder_period_ms(1_000), 1_000, "unknown: own term");
        view.absorb(set("a", hlc(10_000, 0)), 1_000, Instant(0));
        assert_eq!(view.holder_period_ms(1_000), 1_000);
        view.absorb(set("a", hlc(30_000, 0)), 1_000, Instant(0));
        assert_eq!(view.holder_period_ms(1_000), 20_000);
        // A delete 10 s after a holder that renews every 20 s is a release
        // even for a waiter whose own term is 1 s...
        assert_eq!(
            news_of_delete(&mut view, 40_000, 1_000),
            News::ReleasedEarly
        );
        // ...and a new holder starts unknown again.
        view.absorb(set("b", hlc(50_000, 0)), 60_000, Instant(0));
        assert_eq!(view.holder_period_ms(60_000), 60_000);
        view.absorb(set("b", hlc(50_333, 0)), 60_000, Instant(0));
        // A 60 s waiter sees the 1 s holder's expiry as an expiry.
        assert_eq!(news_of_delete(&mut view, 51_333, 60_000), News::Expired);
    }

    #[test]
    fn session_ids_are_split_from_names() {
        let leader = Leader::from_lock_value(b"node-1:42");
        assert_eq!(leader.name, "node-1");
        assert_eq!(leader.session_id.as_deref(), Some("42"));
        assert_eq!(Leader::from_lock_value(b"solo").session_id, None);
    }
}
