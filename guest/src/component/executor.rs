//! A single-future executor over `wasi:io/poll`.
//!
//! The candidate's futures are polled until they finish. A future that must
//! wait registers a pollable (a timer, a key watch, a cancellation) through
//! [`wait_on`]; when the whole future is pending, the executor blocks in
//! `poll` on every registered pollable and polls again once one is ready.
//! Pollables are made afresh on every round, so nothing outlives the wait
//! that needed it. No wakers are needed: there is only one future.

use core::cell::RefCell;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use super::wasi::io::poll::{Pollable, poll};

thread_local! {
    static INTEREST: RefCell<Vec<Pollable>> = const { RefCell::new(Vec::new()) };
}

/// Wakes the executor when `pollable` is ready.
pub fn wait_on(pollable: Pollable) {
    INTEREST.with(|interest| interest.borrow_mut().push(pollable));
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        let outcome = future.as_mut().poll(&mut context);
        let pollables = INTEREST.with(|interest| core::mem::take(&mut *interest.borrow_mut()));
        if let Poll::Ready(output) = outcome {
            return output;
        }
        // Every pending future in this crate registers what it waits for;
        // an empty list would be a bug that must not hang the host.
        assert!(
            !pollables.is_empty(),
            "elector future is pending with nothing to wait for"
        );
        let borrowed: Vec<&Pollable> = pollables.iter().collect();
        poll(&borrowed);
    }
}
