//! Runs the election core's futures to completion inside one operator
//! call, blocking on `wasi:io/poll`.
//!
//! Without key notifications, the only things the core can wait for here
//! are instants on the monotonic clock: its own timers, the call's
//! deadline, and the polling watch's next read ([`crate::watch`]). So the
//! executor keeps the earliest instant a pending future asked to be woken
//! at, and blocks on one timer pollable until then. Every blocking call of
//! [`crate::AioCandidate`] has a deadline, so the wait is always bounded.

use core::cell::Cell;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use crate::bindings::wasi::clocks::monotonic_clock;

thread_local! {
    static WAKE_AT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Asks the executor to poll again at `instant` (monotonic nanoseconds).
fn wake_at(instant: u64) {
    WAKE_AT.with(|wake| {
        let earliest = wake.get().map_or(instant, |current| current.min(instant));
        wake.set(Some(earliest));
    });
}

/// Polls `future` until it finishes, sleeping in between until the
/// earliest instant it waits for.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        WAKE_AT.with(|wake| wake.set(None));
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // Every wait of the core here includes a timer; a pending future
        // with none would be a bug that must not hang the graph.
        let instant = WAKE_AT
            .with(Cell::take)
            .expect("elector future is pending with no timer to wait for");
        monotonic_clock::subscribe_instant(instant).block();
    }
}

/// Resolves once the monotonic clock reaches `deadline`.
pub struct Sleep {
    deadline: u64,
}

impl Sleep {
    pub fn until(deadline: u64) -> Sleep {
        Sleep { deadline }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if monotonic_clock::now() >= self.deadline {
            return Poll::Ready(());
        }
        wake_at(self.deadline);
        Poll::Pending
    }
}
