//! Edge modules: WASI components of the `edge-module` world that run
//! active/passive, one sandbox per replica, under `elector run`.
//!
//! The host links each module to its replica by hand rather than composing
//! the two components: the module's imports (`leadership`, `fenced-store`,
//! `log`) are host functions backed by the replica's elector sandbox and the
//! state store. So module and elector keep separate memories and budgets, a
//! crashed module leaves the election intact, and the host, not the module,
//! decides which key a write may touch and with which fencing token.

mod grants;
mod host_impl;
pub mod replica;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::budget::CpuBudget;
use crate::client::LeaderElectionClient;
use crate::store::StateStoreBackend;
pub use grants::Grants;

wasmtime::component::bindgen!({
    world: "edge-module",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi": wasmtime_wasi::p2::bindings,
        "elector:election/store-types": crate::bindings::elector::election::store_types,
        "elector:election/election-types": crate::bindings::elector::election::election_types,
    },
});

pub use exports::elector::election::lifecycle::LeadershipGrant;

/// Limits of each module sandbox.
#[derive(Clone, Debug)]
pub struct ModuleLimits {
    pub memory: usize,
    /// Longest a hook may compute without calling the host.
    pub compute: Duration,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        ModuleLimits {
            memory: 64 << 20,
            compute: Duration::from_secs(1),
        }
    }
}

/// What a module instance may reach: its replica and its slice of the store.
pub struct ReplicaContext {
    pub position: String,
    pub replica: String,
    /// Every key the module names is put under this prefix.
    pub prefix: String,
    pub client: LeaderElectionClient,
    pub store: Arc<dyn StateStoreBackend>,
    /// Shown in the module's log lines.
    pub module: String,
}

pub struct ModuleState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    budget: CpuBudget,
    replica: Arc<ReplicaContext>,
}

impl WasiView for ModuleState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A module compiled once, instantiated per replica (and again after a
/// crash).
#[derive(Clone)]
pub struct ModuleRuntime {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    pre: EdgeModulePre<ModuleState>,
    limits: ModuleLimits,
    grants: Grants,
    _epoch: crate::runtime::EpochTicker,
}

impl ModuleRuntime {
    pub fn load(path: &Path, limits: ModuleLimits, grants: Grants) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_bytes(&bytes, limits, grants)
            .with_context(|| format!("loading the module {}", path.display()))
    }

    pub fn from_bytes(wasm: &[u8], limits: ModuleLimits, grants: Grants) -> anyhow::Result<Self> {
        let engine = Engine::new(&crate::runtime::engine_config(64, limits.memory)?)?;
        let component = Component::new(&engine, wasm)
            .map_err(anyhow::Error::from)
            .context(
                "compiling the module (is it a WASI 0.2 component of the edge-module world?)",
            )?;
        let mut linker = Linker::<ModuleState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        use elector::election::{fenced_store, leadership, log};
        leadership::add_to_linker::<_, HasSelf<ModuleState>>(&mut linker, |s| s)?;
        fenced_store::add_to_linker::<_, HasSelf<ModuleState>>(&mut linker, |s| s)?;
        log::add_to_linker::<_, HasSelf<ModuleState>>(&mut linker, |s| s)?;
        let pre = EdgeModulePre::new(
            linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .context(
                    "the module imports something elector does not provide: modules may import \
             leadership, fenced-store, log and WASI",
                )?,
        )?;
        let epoch = crate::runtime::EpochTicker::start(engine.clone());
        Ok(ModuleRuntime {
            shared: Arc::new(Shared {
                engine,
                pre,
                limits,
                grants,
                _epoch: epoch,
            }),
        })
    }

    /// A fresh instance of the module for `replica`.
    pub async fn instantiate(&self, replica: Arc<ReplicaContext>) -> Result<ModuleInstance, Crash> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.shared.limits.memory)
            .trap_on_grow_failure(true)
            .build();
        let state = ModuleState {
            wasi: self.shared.grants.wasi_ctx(),
            table: ResourceTable::new(),
            limits,
            budget: CpuBudget::new(self.shared.limits.compute),
            replica,
        };
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut context| context.data_mut().budget.on_deadline());
        store.set_epoch_deadline(1);
        match self.shared.pre.instantiate_async(&mut store).await {
            Ok(module) => Ok(ModuleInstance { store, module }),
            Err(trap) => Err(Crash::of(&store, trap)),
        }
    }
}

/// Why a module instance was dropped: a crash loop of one cause calls for
/// a different fix than one of another, so the host tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashCause {
    /// The module trapped: a panic, an invalid access, memory it could not
    /// get, a failed start.
    Trapped,
    /// A hook computed for longer than the CPU budget without calling the
    /// host, and was stopped.
    OverranBudget,
    /// The replica's elector sandbox stopped under the module.
    ElectorStopped,
}

/// A module instance that cannot be used any more.
#[derive(Debug)]
pub struct Crash {
    pub cause: CrashCause,
    /// The trap, for the log.
    pub detail: String,
}

impl Crash {
    fn of(store: &Store<ModuleState>, trap: wasmtime::Error) -> Crash {
        let cause = if store.data().budget.overran() {
            CrashCause::OverranBudget
        } else {
            CrashCause::Trapped
        };
        Crash {
            cause,
            detail: format!("{trap:?}"),
        }
    }
}

/// One live module instance. An `Err` from a hook is a crash: the instance
/// is unusable afterwards.
pub struct ModuleInstance {
    store: Store<ModuleState>,
    module: EdgeModule,
}

impl ModuleInstance {
    pub async fn on_elected(
        &mut self,
        grant: &LeadershipGrant,
    ) -> Result<Result<(), String>, Crash> {
        self.store.data_mut().budget.progress();
        let called = self
            .module
            .elector_election_lifecycle()
            .call_on_elected(&mut self.store, grant)
            .await;
        called.map_err(|trap| Crash::of(&self.store, trap))
    }

    pub async fn on_tick(&mut self) -> Result<Result<(), String>, Crash> {
        self.store.data_mut().budget.progress();
        let called = self
            .module
            .elector_election_lifecycle()
            .call_on_tick(&mut self.store)
            .await;
        called.map_err(|trap| Crash::of(&self.store, trap))
    }

    pub async fn on_lost(&mut self, reason: crate::bindings::LostReason) -> Result<(), Crash> {
        self.store.data_mut().budget.progress();
        let called = self
            .module
            .elector_election_lifecycle()
            .call_on_lost(&mut self.store, reason)
            .await;
        called.map_err(|trap| Crash::of(&self.store, trap))
    }
}
