//! A single-future executor over `wasi:io/poll`.
//!
//! The candidate's futures are polled until they finish. A future that must
//! wait owns a pollable (a timer, a key watch, a cancellation) and
//! registers it with [`wait_on`]; when the whole future is pending, the
//! executor blocks in `poll` on every registered pollable that is still
//! alive and polls again once one is ready. The executor only keeps weak
//! references: a pollable lives exactly as long as the future waiting on
//! it, so a finished wait never leaves one behind (the host refuses to drop
//! a key watch that still has a pollable). No wakers are needed: there is
//! only one future.

use core::cell::RefCell;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};
use std::rc::{Rc, Weak};

use super::wasi::io::poll::{Pollable, poll};

thread_local! {
    static INTEREST: RefCell<Vec<Weak<Pollable>>> = const { RefCell::new(Vec::new()) };
}

/// Wakes the executor when `pollable` is ready, while it is alive.
fn wait_on(pollable: &Rc<Pollable>) {
    INTEREST.with(|interest| interest.borrow_mut().push(Rc::downgrade(pollable)));
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        let outcome = future.as_mut().poll(&mut context);
        let registered = INTEREST.with(|interest| core::mem::take(&mut *interest.borrow_mut()));
        if let Poll::Ready(output) = outcome {
            return output;
        }
        let alive: Vec<Rc<Pollable>> = registered.iter().filter_map(Weak::upgrade).collect();
        // Every pending future in this crate waits on a pollable it owns;
        // an empty list would be a bug that must not hang the host.
        assert!(
            !alive.is_empty(),
            "elector future is pending with nothing to wait for"
        );
        let borrowed: Vec<&Pollable> = alive.iter().map(|p| &**p).collect();
        poll(&borrowed);
    }
}

/// A future that resolves when `is_ready` says so, waiting on a pollable
/// made by `make` (once, on the first poll that finds it not ready).
pub struct WaitFor<M, R> {
    make: M,
    is_ready: R,
    pollable: Option<Rc<Pollable>>,
}

impl<M, R> WaitFor<M, R>
where
    M: FnMut() -> Pollable,
    R: FnMut(Option<&Pollable>) -> bool,
{
    pub fn new(make: M, is_ready: R) -> Self {
        WaitFor {
            make,
            is_ready,
            pollable: None,
        }
    }
}

impl<M, R> Future for WaitFor<M, R>
where
    M: FnMut() -> Pollable + Unpin,
    R: FnMut(Option<&Pollable>) -> bool + Unpin,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if (this.is_ready)(this.pollable.as_deref()) {
            return Poll::Ready(());
        }
        let pollable = this.pollable.get_or_insert_with(|| Rc::new((this.make)()));
        if (this.is_ready)(Some(pollable)) {
            return Poll::Ready(());
        }
        wait_on(pollable);
        Poll::Pending
    }
}
