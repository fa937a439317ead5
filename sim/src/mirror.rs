//! The host's mirror of a candidate's leadership, for connections whose
//! Will releases the position: the host reports `leadership-lost
//! (link-silent)` where the connection stops being trusted, on its own
//! clock, without waiting for the candidate's next tick (which a slow call
//! can hold up, and a silent link makes slow). The simulator reports
//! claims as the host does, so the checker judges what users are told.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use crate::history::Claim;
use crate::world::{Nanos, World};

/// What the mirror knows of one life's lease.
#[derive(Debug, Default)]
pub struct MirrorState {
    /// A lease is reported and not yet reported lost.
    pub leading: bool,
    /// The connection's `trusted_since` when the lease was taken in: a
    /// later one voids it.
    pub trusted_since: u64,
}

pub type Mirror = Rc<RefCell<MirrorState>>;

/// When the lease the mirror holds ends by the connection's trust, in
/// true time (now, if a reconnect voided it); `None` without a Will.
fn trust_ends(world: &World, client: u32, state: &MirrorState) -> Option<Nanos> {
    let (trust, clock) = world.connections.borrow()[client as usize].trust()?;
    if trust.trusted_since > state.trusted_since {
        return Some(world.now.get());
    }
    Some(clock.true_time(trust.trusted_until))
}

/// The connection's `trusted_since` now (0 without a Will).
pub fn trusted_since(world: &World, client: u32) -> u64 {
    world.connections.borrow()[client as usize]
        .trust()
        .map_or(0, |(trust, _)| trust.trusted_since)
}

/// Ends the mirrored lease where the trust does, reporting the loss.
pub async fn follow_trust(world: Rc<World>, client: u32, lock_value: Vec<u8>, mirror: Mirror) {
    poll_fn(|_| {
        let mut state = mirror.borrow_mut();
        if !state.leading {
            return Poll::<()>::Pending;
        }
        let Some(ends) = trust_ends(&world, client, &state) else {
            return Poll::Pending;
        };
        let now = world.now.get();
        if now >= ends {
            state.leading = false;
            world
                .history
                .borrow_mut()
                .claim(now, &lock_value, Claim::Lost);
            world.bump();
            if crate::history::trace_enabled() {
                eprintln!(
                    "{:>9.3} ms {}: LeadershipLost(LinkSilent) by the host's mirror",
                    now as f64 / 1e6,
                    String::from_utf8_lossy(&lock_value)
                );
            }
        } else {
            world.wake_at(ends);
        }
        Poll::Pending
    })
    .await
}
