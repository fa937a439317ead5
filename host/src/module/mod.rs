//! Edge modules: WASI components of the `edge-module` world that run
//! active/passive, one sandbox per replica, under `elector run`.
//!
//! The host links each module to its replica by hand rather than composing
//! the two components: the module's imports (`leadership`, `fenced-store`,
//! `log`) are host functions backed by the replica's elector sandbox and the
//! state store. So module and elector keep separate memories and budgets, a
//! crashed module leaves the election intact, and the host, not the module,
//! decides which key a write may touch and with which fencing token.
//!
//! This is the module's side: compiling, instantiating and calling a
//! module. What runs a replica (campaign, hooks, restarts, and what it
//! reports to metrics and health) is `elector run`'s, in `elector-cli`.

mod grants;
mod host_impl;
pub mod limits;

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
use limits::RateLimit;
pub use limits::{KeyLimits, KeyQuota, ModuleLimits};

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
    /// The module's keys in the store, against its limits; shared by the
    /// replicas of one module.
    pub quota: Arc<std::sync::Mutex<KeyQuota>>,
    /// The replica's request and log rates: kept across instances, so a
    /// module that crashes and restarts gets no fresh burst.
    pub pacing: std::sync::Mutex<Pacing>,
}

/// The rates a replica's module instances share.
#[derive(Debug)]
pub struct Pacing {
    pub(super) store_requests: RateLimit,
    pub(super) log_lines: RateLimit,
    /// Log lines dropped since the last one written.
    pub(super) dropped_lines: u64,
}

impl Pacing {
    pub fn new(limits: &ModuleLimits) -> Pacing {
        Pacing {
            store_requests: RateLimit::per_second(limits.store_requests_per_second),
            log_lines: RateLimit::per_second(limits.log_lines_per_second),
            dropped_lines: 0,
        }
    }
}

pub struct ModuleState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    budget: CpuBudget,
    replica: Arc<ReplicaContext>,
    log_line_bytes: usize,
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
    quotas: std::sync::Mutex<std::collections::HashMap<String, Arc<std::sync::Mutex<KeyQuota>>>>,
    _epoch: crate::runtime::EpochTicker,
}

impl ModuleRuntime {
    /// The limits every instance runs under.
    pub fn limits(&self) -> &ModuleLimits {
        &self.shared.limits
    }

    /// The key quota of the module whose keys live under `prefix`, shared
    /// by all its replicas in this process.
    pub fn quota(&self, prefix: &str) -> Arc<std::sync::Mutex<KeyQuota>> {
        self.shared
            .quotas
            .lock()
            .unwrap()
            .entry(prefix.to_owned())
            .or_insert_with(|| {
                Arc::new(std::sync::Mutex::new(KeyQuota::new(
                    self.shared.limits.keys,
                )))
            })
            .clone()
    }

    pub fn load(path: &Path, limits: ModuleLimits, grants: Grants) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_bytes(&bytes, limits, grants)
            .with_context(|| format!("loading the module {}", path.display()))
    }

    pub fn from_bytes(wasm: &[u8], limits: ModuleLimits, grants: Grants) -> anyhow::Result<Self> {
        check_is_a_component(wasm)?;
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
                quotas: Default::default(),
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
        let module_limits = &self.shared.limits;
        let state = ModuleState {
            wasi: self.shared.grants.wasi_ctx(),
            table: ResourceTable::new(),
            limits,
            budget: CpuBudget::new(module_limits.compute),
            replica,
            log_line_bytes: module_limits.log_line_bytes,
        };
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut context| context.data_mut().budget.on_deadline());
        store.set_epoch_deadline(1);
        let hook_time = self.shared.limits.hook_time;
        match self.shared.pre.instantiate_async(&mut store).await {
            Ok(module) => Ok(ModuleInstance {
                store,
                module,
                hook_time,
            }),
            Err(trap) => Err(Crash::of(&store, trap)),
        }
    }
}

/// Checks, before anything else is started, that `path` can be read and
/// holds a WebAssembly component.
pub fn check_file(path: &Path) -> anyhow::Result<()> {
    let mut header = [0u8; 8];
    let read = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read(&mut file, &mut header))
        .with_context(|| format!("reading {}", path.display()))?;
    check_is_a_component(&header[..read])
        .with_context(|| format!("loading the module {}", path.display()))
}

/// Refuses, in one line, a file that is not a WebAssembly component: the
/// compiler's own message for that is a dump of header bytes.
fn check_is_a_component(wasm: &[u8]) -> anyhow::Result<()> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE: &[u8] = &[1, 0, 0, 0];
    match wasm.get(..8) {
        Some(header) if header.starts_with(MAGIC) && &header[4..] == CORE_MODULE => {
            anyhow::bail!(
                "it is a core WebAssembly module, not a component: build it for \
                 wasm32-wasip2 (a WASI 0.2 component of the edge-module world)"
            )
        }
        Some(header) if header.starts_with(MAGIC) => Ok(()),
        _ => anyhow::bail!(
            "it is not WebAssembly: expected a WASI 0.2 component of the edge-module world"
        ),
    }
}

/// Why a module instance was dropped: a crash loop of one cause calls for
/// a different fix than one of another, so the host tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashCause {
    /// The module trapped: a panic, an invalid access, memory it could not
    /// get, a failed start.
    Trapped,
    /// A hook used more CPU than its budget, or ran longer than its time
    /// (host calls included), and was stopped.
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
            detail: crate::errors::one_line(&trap),
        }
    }
}

/// One live module instance. An `Err` from a hook is a crash: the instance
/// is unusable afterwards.
///
/// Every hook runs against a fresh budget that counts the whole hook, host
/// calls included: CPU (the epoch budget, which host calls no longer reset)
/// and wall-clock time (`hook_time`). A hook that loops over host calls is
/// stopped like one that spins.
pub struct ModuleInstance {
    store: Store<ModuleState>,
    module: EdgeModule,
    hook_time: Duration,
}

impl ModuleInstance {
    pub async fn on_elected(
        &mut self,
        grant: &LeadershipGrant,
    ) -> Result<Result<(), String>, Crash> {
        self.call(async |hooks, store| hooks.call_on_elected(store, grant).await)
            .await
    }

    pub async fn on_tick(&mut self) -> Result<Result<(), String>, Crash> {
        self.call(async |hooks, store| hooks.call_on_tick(store).await)
            .await
    }

    pub async fn on_lost(&mut self, reason: crate::bindings::LostReason) -> Result<(), Crash> {
        self.call(async |hooks, store| hooks.call_on_lost(store, reason).await)
            .await
    }

    /// Runs one hook against a fresh budget.
    async fn call<T>(
        &mut self,
        hook: impl AsyncFnOnce(
            &exports::elector::election::lifecycle::Guest,
            &mut Store<ModuleState>,
        ) -> wasmtime::Result<T>,
    ) -> Result<T, Crash> {
        self.store.data_mut().budget.progress();
        let hooks = self.module.elector_election_lifecycle();
        let called = tokio::time::timeout(self.hook_time, hook(hooks, &mut self.store)).await;
        self.finish(called)
    }

    /// A hook's result, or the crash it ended in.
    fn finish<T>(
        &self,
        called: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, Crash> {
        match called {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(trap)) => Err(Crash::of(&self.store, trap)),
            Err(_) => Err(Crash {
                cause: CrashCause::OverranBudget,
                detail: format!(
                    "a hook ran for more than {:?}, host calls included",
                    self.hook_time
                ),
            }),
        }
    }
}
