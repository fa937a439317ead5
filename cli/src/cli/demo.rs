//! `elector demo`'s flags. The demo needs no broker: it runs on a store
//! inside the process unless one is given.

use std::sync::Arc;
use std::time::Duration;

use super::values::duration;
use crate::cli::BrokerArgs;
use elector_host::store::{EmbeddedStore, StateStoreBackend};

/// The demo's term: long enough that renewals show, short enough that the
/// demo ends in a minute or so.
fn demo_term(text: &str) -> Result<Duration, String> {
    let term = duration(text)?;
    if !(Duration::from_millis(30)..=Duration::from_secs(60)).contains(&term) {
        return Err(format!("{text} is outside 30ms..60s"));
    }
    Ok(term)
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many candidates campaign (each in its own sandbox).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub candidates: u16,
    /// Election term, 30ms to 60s; renewals run every third of it.
    #[arg(long, default_value = "1s", value_parser = demo_term)]
    pub term: Duration,
    /// Print the timeline as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// The position (state-store key) the candidates campaign for.
    #[arg(long, default_value = "demo-leader")]
    pub position: String,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

impl DemoArgs {
    /// The options, with the store the flags name (embedded if none).
    pub async fn into_options(self) -> anyhow::Result<crate::demo::DemoOptions> {
        let (store, store_name): (Arc<dyn StateStoreBackend>, String) =
            if self.broker.names_a_broker() {
                let settings = self.broker.settings()?;
                let store = crate::commands::store::connect(
                    &settings,
                    Duration::from_secs(5),
                    Duration::from_secs(10),
                    None,
                )
                .await?;
                let name = format!("the state store at {}:{}", settings.hostname, settings.port);
                (Arc::new(store), name)
            } else {
                (Arc::new(EmbeddedStore::new()), "the embedded store".into())
            };
        Ok(crate::demo::DemoOptions {
            store,
            store_name,
            candidates: usize::from(self.candidates),
            term: self.term,
            json: self.json,
            position: self.position,
        })
    }
}
