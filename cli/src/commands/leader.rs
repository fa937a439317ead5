//! `elector leader`: who leads a position now.

use std::sync::Arc;

use super::printer::{Line, Printer};
use elector_host::bindings::Leader;
use elector_host::store::StateStoreBackend;

pub async fn leader(
    store: Arc<dyn StateStoreBackend>,
    position: &str,
    printer: Printer,
) -> anyhow::Result<()> {
    let client = super::candidate(store, position, "elector-cli", None).await?;
    let leader = client.current_leader().await?;
    print(printer, position, leader.as_ref());
    Ok(())
}

/// `leader NAME` or `no-leader`: who leads `position` now.
pub(super) fn print(printer: Printer, position: &str, leader: Option<&Leader>) {
    let event = if leader.is_some() {
        "leader"
    } else {
        "no-leader"
    };
    printer.line(&Line::new(event).position(position).leader(leader));
}
