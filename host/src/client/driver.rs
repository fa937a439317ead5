//! The task that owns one sandboxed candidate.
//!
//! Calls on a candidate are serialised through its mailbox: the driver runs
//! one job at a time, and between jobs it keeps the candidate alive on its
//! own: it calls `tick` at the instant the candidate asked for (renewals,
//! the local end of a lease) and whenever the candidate's key watch has
//! news (observed changes). So automatic renewal works while the API user
//! makes no call at all.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use super::mirror::Mirror;
use crate::clock;
use crate::sandbox::{CandidateHandle, Sandbox};

/// One call on the candidate. Returns the trap, if the sandbox died.
pub type Job = Box<
    dyn for<'a> FnOnce(&'a mut Sandbox, CandidateHandle) -> BoxFuture<'a, Result<(), String>>
        + Send,
>;

pub async fn drive(
    mut sandbox: Sandbox,
    candidate: CandidateHandle,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    mirror: Arc<Mirror>,
) {
    let wake = sandbox.wake_signal();
    loop {
        let next_tick = match sandbox.tick(candidate).await {
            Ok(next) => next,
            Err(trap) => {
                fail(&mirror, crate::errors::one_line(&trap));
                return;
            }
        };
        let due = async {
            match next_tick {
                Some(instant) => tokio::time::sleep_until(clock::to_instant(instant).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => {
                    if let Err(trap) = job(&mut sandbox, candidate).await {
                        fail(&mirror, trap);
                        return;
                    }
                }
                // Every client handle is gone.
                None => break,
            },
            _ = wake.notified() => {}
            _ = due => {}
        }
    }
    // Drops the candidate's watches inside the guest before the sandbox goes.
    let _ = sandbox.drop_candidate(candidate).await;
}

fn fail(mirror: &Mirror, reason: String) {
    tracing::warn!(%reason, "candidate sandbox stopped");
    mirror.fail(reason);
}
