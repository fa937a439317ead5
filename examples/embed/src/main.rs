//! The elector component in your own Wasmtime host: your store data
//! implements `WasiView` and `ElectorView`, and `embed::add_to_linker` links
//! every import, as wasmtime-wasi does for WASI.
//! Alpha wins with `try-campaign`, beta blocks in `campaign`, alpha resigns,
//! beta hears it through its key watch and is elected at once.
//! Run it with `cargo run --release -p elector-example-embed`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use elector_host::bindings::{CandidateOptions, Elector, ElectorPre};
use elector_host::embed::{self, ElectorCtx, ElectorCtxView, ElectorView, EventSinkResource};
use elector_host::{EmbeddedStore, StateStoreBackend};
use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

const TERM_MS: u64 = 2_000;

/// One instance's data.
struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    elector: ElectorCtx,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ElectorView for Host {
    fn elector(&mut self) -> ElectorCtxView<'_> {
        ElectorCtxView {
            ctx: &mut self.elector,
            table: &mut self.table,
        }
    }
}

/// An instance of the component with one candidate named `name` in it,
/// whose events are printed.
async fn candidate(
    pre: &ElectorPre<Host>,
    backend: Arc<dyn StateStoreBackend>,
    name: &str,
) -> anyhow::Result<(Store<Host>, Elector, ResourceAny)> {
    let (wasi, table, elector) = (
        WasiCtx::builder().build(),
        ResourceTable::new(),
        ElectorCtx::new(backend),
    );
    let mut store = Store::new(
        pre.engine(),
        Host {
            wasi,
            table,
            elector,
        },
    );
    let elector = pre.instantiate_async(&mut store).await?;
    let who = name.to_owned();
    let print = move |event| println!("{who}: event {event:?}");
    let sink = store
        .data_mut()
        .table
        .push(EventSinkResource(Box::new(print)))?;
    let options = CandidateOptions {
        position: "embed-demo/leader".into(),
        name: name.into(),
        session_id: None,
        safety_margin_ms: None,
        request_lifetime_ms: None,
    };
    let api = elector.elector_election_leader_election().candidate();
    let handle = api.call_create(&mut store, &options, sink).await?;
    let handle = handle.map_err(|error| anyhow!("creating {name}: {error:?}"))?;
    Ok((store, elector, handle))
}

/// The component's own answer (not a trap) as an error.
fn answered<T, E: std::fmt::Debug>(answer: Result<T, E>) -> anyhow::Result<T> {
    answer.map_err(|error| anyhow!("{error:?}"))
}

/// Runs the scenario: how long beta waited after alpha began to resign.
async fn run_scenario() -> anyhow::Result<Duration> {
    let engine = Engine::default();
    let component = Component::new(&engine, elector_host::artifacts::ELECTOR_WASM)?;
    let mut linker = Linker::<Host>::new(&engine);
    embed::add_to_linker(&mut linker)?;
    let pre = ElectorPre::new(linker.instantiate_pre(&component)?)?;
    // Any `StateStoreBackend` serves: this one, the AIO store over MQTT
    // (`elector_host::store::mqtt`), or your own (docs/embedding.md).
    let backend: Arc<dyn StateStoreBackend> = Arc::new(EmbeddedStore::new());

    let (mut alpha, elector, alpha_handle) = candidate(&pre, backend.clone(), "alpha").await?;
    let (mut beta, beta_elector, beta_handle) = candidate(&pre, backend, "beta").await?;
    let api = elector.elector_election_leader_election().candidate();
    let won = answered(
        api.call_try_campaign(&mut alpha, alpha_handle, TERM_MS)
            .await?,
    )?;
    anyhow::ensure!(won.is_leader, "alpha should win the free position");

    // Beta's campaign blocks inside the component (in `wasi:io/poll`), so
    // it runs on a task of its own.
    let beta_campaign = tokio::spawn(async move {
        let api = beta_elector.elector_election_leader_election().candidate();
        let answer = api.call_campaign(&mut beta, beta_handle, TERM_MS, None, None);
        (answer.await, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resigning = Instant::now();
    answered(api.call_resign(&mut alpha, alpha_handle, false).await?)?;
    let waited = tokio::time::timeout(Duration::from_secs(5), beta_campaign).await;
    let (answer, elected_at) = waited.map_err(|_| anyhow!("beta was not elected in 5 s"))??;
    anyhow::ensure!(
        answered(answer?)?.is_leader,
        "beta should win once alpha resigned"
    );
    Ok(elected_at.saturating_duration_since(resigning))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let waited = run_scenario().await?;
    println!("beta took over {waited:?} after alpha began to resign (term: {TERM_MS} ms)");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread")]
    async fn beta_takes_over_promptly_after_alpha_resigns() {
        let waited = super::run_scenario()
            .await
            .expect("alpha, then beta, leads");
        assert!(
            waited < std::time::Duration::from_secs(1),
            "heard, not waited out: {waited:?}"
        );
    }
}
