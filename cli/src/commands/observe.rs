//! `elector observe`: who leads a position, then every change.

use std::sync::Arc;

use super::printer::{Line, Printer};
use elector_host::bindings::{CandidateEvent, PositionState};
use elector_host::store::StateStoreBackend;

/// Prints the leader, then every change, until `stop` fires or nobody
/// reads the output any more; then unregisters before it returns.
pub async fn observe(
    store: Arc<dyn StateStoreBackend>,
    position: &str,
    printer: Printer,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let client = super::candidate(store.clone(), position, "elector-observer", None).await?;
    let watched = watch(&client, position, printer, stop).await;
    // Every way out: unregister, and let that reach the store before the
    // process goes (a registration left behind would be notified for
    // nothing until it lapses).
    let _ = client.unobserve().await;
    drop(client);
    store.close().await;
    watched
}

/// Prints the leader, then every change, until `stop` fires or nobody
/// reads any more.
async fn watch(
    client: &elector_host::client::LeaderElectionClient,
    position: &str,
    printer: Printer,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut events = client.events();
    let leader = client.observe().await?;
    super::leader::print(printer, position, leader.as_ref());
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            event = events.recv() => match event {
                Some(CandidateEvent::LeadershipChanged(change)) => {
                    let event = match change.new_state {
                        PositionState::LeaderElected => "leader",
                        PositionState::NoLeader => "no-leader",
                    };
                    printer.line(
                        &Line::new(event)
                            .position(position)
                            .leader(change.new_leader.as_ref())
                            .version(&change.version),
                    );
                    if crate::output::reader_gone() {
                        // `elector observe P | head -3`: nobody reads any more.
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => anyhow::bail!("the observer stopped"),
            }
        }
    }
}
