//! `elector get`: one key's value.

use std::sync::Arc;

use super::printer::{Line, Printer};
use elector_host::store::StateStoreBackend;

/// Prints the value (as text, lossily) and, in JSON, its version. Returns
/// whether the key exists.
pub async fn get(
    store: Arc<dyn StateStoreBackend>,
    key: &str,
    printer: Printer,
) -> anyhow::Result<bool> {
    let found = store
        .get(key.as_bytes())
        .await
        .map_err(|error| anyhow::anyhow!("reading {key:?}: {error}"))?;
    let mut line = Line::new(if found.is_some() { "value" } else { "absent" });
    line.key = Some(key);
    match &found {
        Some(value) => {
            let text = String::from_utf8_lossy(&value.value).into_owned();
            if printer.json {
                line.value = Some(text);
                printer.line(&line.version(&value.version.clone().into()));
            } else {
                crate::output::line(&text);
            }
        }
        None if printer.json => printer.line(&line),
        None => eprintln!("{key}: no such key"),
    }
    Ok(found.is_some())
}
