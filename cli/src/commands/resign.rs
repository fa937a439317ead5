//! `elector resign`: release a position held under a name, from any
//! process. A `campaign` process's lock value carries a session id of its
//! own, which the operator does not know, so the holder is read first and,
//! if its name (and the session id, when given) matches, exactly that lock
//! value is deleted (`VDEL`): a hold taken over in the meantime stays.

use std::sync::Arc;

use super::printer::{Line, Printer};
use elector_host::bindings::{HumanText as _, Leader};
use elector_host::store::StateStoreBackend;
use elector_statestore::DeleteOutcome;

/// Returns whether the hold was released.
pub async fn resign(
    store: Arc<dyn StateStoreBackend>,
    position: &str,
    name: &str,
    session_id: Option<&str>,
    printer: Printer,
) -> anyhow::Result<bool> {
    let key = position.as_bytes();
    let held = store
        .get(key)
        .await
        .map_err(|error| anyhow::anyhow!("reading {position:?}: {error}"))?;
    let not_held = |detail: String, holder: Option<&Leader>| {
        printer.line(
            &Line::new("not-leader")
                .position(position)
                .leader(holder)
                .detail(detail),
        );
        Ok(false)
    };
    let Some(held) = held else {
        return not_held("the position is free".into(), None);
    };
    let holder = lock_holder(&held.value);
    let matches = holder.name == name
        && session_id.is_none_or(|session| holder.session_id.as_deref() == Some(session));
    if !matches {
        return not_held(format!("held by {}", holder.text()), Some(&holder));
    }
    let outcome = store
        .vdel(key, &held.value, None)
        .await
        .map_err(|error| anyhow::anyhow!("releasing {position:?}: {error}"))?;
    match outcome {
        DeleteOutcome::Deleted => {
            printer.line(
                &Line::new("resigned")
                    .position(position)
                    .leader(Some(&holder))
                    .detail("released"),
            );
            Ok(true)
        }
        DeleteOutcome::Absent | DeleteOutcome::ValueMismatch => {
            not_held("it changed hands while being released".into(), None)
        }
    }
}

/// Who a lock value names, read the way candidates read it.
fn lock_holder(value: &[u8]) -> Leader {
    let holder = elector_guest::Leader::from_lock_value(value);
    Leader {
        name: holder.name,
        session_id: holder.session_id,
    }
}
