//! Waiting for the first of several things to happen, with cleanup right
//! where the wait is: every future is dropped when `wait_for` returns.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use crate::ports::{Cancel, Clock, KeyWatch};
use crate::types::Instant;

/// What ended a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Cancelled,
    /// The call's overall deadline passed.
    TimedOut,
    /// The watched key has notifications.
    Notified,
    /// The retry timer fired.
    Timer,
}

/// Waits until `cancel` fires, `deadline` passes, `watch` has
/// notifications or `retry_at` comes, checked in that order of priority
/// so that a cancelled or overdue call never starts another attempt.
pub async fn wait_for<C, W, K>(
    clock: &C,
    watch: Option<&W>,
    retry_at: Option<Instant>,
    deadline: Option<Instant>,
    cancel: Option<&K>,
) -> Wake
where
    C: Clock,
    W: KeyWatch,
    K: Cancel,
{
    let mut cancelled = pin!(optional(cancel.map(|c| c.cancelled())));
    let mut overdue = pin!(optional(deadline.map(|d| clock.sleep_until(d))));
    let mut notified = pin!(optional(watch.map(|w| w.changed())));
    let mut timer = pin!(optional(retry_at.map(|t| clock.sleep_until(t))));
    poll_fn(|cx| {
        if cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Cancelled);
        }
        if overdue.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::TimedOut);
        }
        if notified.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Notified);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    })
    .await
}

/// A future that never completes when there is nothing to wait for.
async fn optional<F: Future<Output = ()>>(future: Option<F>) {
    match future {
        Some(future) => future.await,
        None => core::future::pending().await,
    }
}
