//! One sandboxed instance of the elector component: its store data, the
//! host side of its imports, and typed calls into its exports.
//!
//! Everything a guest can reach is here: its clocks, the state store (the
//! backend it was given), and resources its caller lends it. No files, no
//! network, no environment. Each sandbox has its own memory limit and a CPU
//! budget per call (see `runtime.rs`); a trap ends that sandbox only.

mod host_impl;

use std::sync::Arc;

use tokio::sync::Notify;
use wasmtime::component::{Resource, ResourceAny, ResourceTable};
use wasmtime::{Store, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::resources::{
    CancellationResource, EventFn, EventSinkResource, UpdateFn, ValueUpdaterResource,
};
use crate::bindings::{
    CampaignResponse, CandidateOptions, ElectionError, Elector, Leader, RenewalOptions,
    ResignationResponse,
};
use crate::embed::{ElectorCtx, ElectorCtxView, ElectorView};

/// The data of one sandbox's wasmtime `Store`: an embedding of the elector
/// (see `embed.rs`) with a memory limit.
pub struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) elector: ElectorCtx,
}

impl SandboxState {
    pub(crate) fn new(wasi: WasiCtx, limits: StoreLimits, elector: ElectorCtx) -> Self {
        SandboxState {
            wasi,
            table: ResourceTable::new(),
            limits,
            elector,
        }
    }
}

impl ElectorView for SandboxState {
    fn elector(&mut self) -> ElectorCtxView<'_> {
        ElectorCtxView {
            ctx: &mut self.elector,
            table: &mut self.table,
        }
    }
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A live instance of the elector. Errors of the outer `anyhow::Result`s
/// are traps (or exhausted budgets): the sandbox is unusable after one.
pub struct Sandbox {
    pub(crate) store: Store<SandboxState>,
    pub(crate) elector: Elector,
    /// The engine's epoch ticker must run while the sandbox lives.
    /// (Whatever it is: the sandbox only holds it.)
    pub(crate) _runtime: Arc<dyn std::any::Any + Send + Sync>,
}

/// Calls one export of the candidate resource. Each call starts a fresh
/// CPU budget streak.
macro_rules! call_candidate {
    ($sandbox:expr, $method:ident $(, $arg:expr)* $(,)?) => {{
        let Sandbox { store, elector, .. } = $sandbox;
        store.data_mut().elector.budget.progress();
        elector
            .elector_election_leader_election()
            .candidate()
            .$method(&mut *store $(, $arg)*)
            .await
    }};
}

/// A candidate resource inside a sandbox.
#[derive(Clone, Copy)]
pub struct CandidateHandle(ResourceAny);

impl Sandbox {
    /// Notified when the sandbox's watches have news for an idle candidate.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.store.data().elector.wake_signal()
    }

    /// Creates a candidate whose events go to `events`.
    pub async fn create_candidate(
        &mut self,
        options: &CandidateOptions,
        events: EventFn,
    ) -> wasmtime::Result<Result<CandidateHandle, ElectionError>> {
        let sink = self
            .store
            .data_mut()
            .table
            .push(EventSinkResource(events))?;
        let created = call_candidate!(self, call_create, options, sink)?;
        Ok(created.map(CandidateHandle))
    }

    pub async fn try_campaign(
        &mut self,
        c: CandidateHandle,
        term_ms: u64,
    ) -> wasmtime::Result<Result<CampaignResponse, ElectionError>> {
        call_candidate!(self, call_try_campaign, c.0, term_ms)
    }

    pub async fn campaign(
        &mut self,
        c: CandidateHandle,
        term_ms: u64,
        timeout_ms: Option<u64>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> wasmtime::Result<Result<CampaignResponse, ElectionError>> {
        let cancel = self
            .store
            .data_mut()
            .table
            .push(CancellationResource(cancel))?;
        let borrowed = Resource::<CancellationResource>::new_borrow(cancel.rep());
        let result = call_candidate!(
            self,
            call_campaign,
            c.0,
            term_ms,
            timeout_ms,
            Some(borrowed)
        );
        self.store.data_mut().table.delete(cancel)?;
        result
    }

    pub async fn resign(
        &mut self,
        c: CandidateHandle,
        keep_renewing: bool,
    ) -> wasmtime::Result<Result<ResignationResponse, ElectionError>> {
        call_candidate!(self, call_resign, c.0, keep_renewing)
    }

    pub async fn current_leader(
        &mut self,
        c: CandidateHandle,
    ) -> wasmtime::Result<Result<Option<Leader>, ElectionError>> {
        call_candidate!(self, call_current_leader, c.0)
    }

    pub async fn observe(
        &mut self,
        c: CandidateHandle,
    ) -> wasmtime::Result<Result<Option<Leader>, ElectionError>> {
        call_candidate!(self, call_observe, c.0)
    }

    pub async fn unobserve(&mut self, c: CandidateHandle) -> wasmtime::Result<()> {
        call_candidate!(self, call_unobserve, c.0)
    }

    pub async fn set_automatic_renewal(
        &mut self,
        c: CandidateHandle,
        options: Option<RenewalOptions>,
    ) -> wasmtime::Result<Result<(), ElectionError>> {
        call_candidate!(self, call_set_automatic_renewal, c.0, options)
    }

    pub async fn automatic_renewal(
        &mut self,
        c: CandidateHandle,
    ) -> wasmtime::Result<Option<RenewalOptions>> {
        call_candidate!(self, call_automatic_renewal, c.0)
    }

    pub async fn is_leader(&mut self, c: CandidateHandle) -> wasmtime::Result<bool> {
        call_candidate!(self, call_is_leader, c.0)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn campaign_and_update_value(
        &mut self,
        c: CandidateHandle,
        key: &[u8],
        updater: UpdateFn,
        max_term_ms: u64,
        timeout_ms: Option<u64>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> wasmtime::Result<Result<(), ElectionError>> {
        let table = &mut self.store.data_mut().table;
        let updater = table.push(ValueUpdaterResource(updater))?;
        let cancel = table.push(CancellationResource(cancel))?;
        let result = call_candidate!(
            self,
            call_campaign_and_update_value,
            c.0,
            key,
            Resource::new_borrow(updater.rep()),
            max_term_ms,
            timeout_ms,
            Some(Resource::new_borrow(cancel.rep())),
        );
        let table = &mut self.store.data_mut().table;
        table.delete(updater)?;
        table.delete(cancel)?;
        result
    }

    /// Runs the candidate's due background work; returns when to run it
    /// next (a guest instant, see `clock.rs`).
    pub async fn tick(&mut self, c: CandidateHandle) -> wasmtime::Result<Option<u64>> {
        call_candidate!(self, call_tick, c.0)
    }

    /// Drops a candidate resource inside the guest (its watches go with it).
    pub async fn drop_candidate(&mut self, c: CandidateHandle) -> wasmtime::Result<()> {
        c.0.resource_drop_async(&mut self.store).await
    }
}
