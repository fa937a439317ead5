//! The host's part in keeping a candidate going: it calls `tick` when the
//! candidate asked for one and whenever the candidate's watch has news, so
//! automatic renewal runs and a leader hears of a takeover at once.

use std::future::Future;
use std::task::Poll;

use elector_guest::{Candidate, Clock, EventSink, KeyWatch};

use crate::client::SimClient;
use crate::clock::{SimClock, sleep};
use crate::time::Nanos;

/// Runs the candidate's background work (renewal, lease end, news on its
/// watch) for `duration` of true time, as the host's driver does.
pub async fn drive<E: EventSink>(
    candidate: &mut Candidate<SimClient, SimClock, E>,
    clock: &SimClock,
    duration: Nanos,
) {
    let until = clock.world.now.get().saturating_add(duration);
    loop {
        let next = candidate.tick().await;
        if clock.world.now.get() >= until {
            return;
        }
        let wait = sleep(&clock.world, until - clock.world.now.get());
        let tick_due = async {
            match next {
                Some(next) => clock.sleep_until(next).await,
                None => std::future::pending().await,
            }
        };
        let news = async {
            match candidate.watched() {
                Some(watch) => watch.changed().await,
                None => std::future::pending().await,
            }
        };
        first_of(wait, first_of(tick_due, news)).await;
    }
}

/// Resolves when either resolves.
pub async fn first_of(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}
