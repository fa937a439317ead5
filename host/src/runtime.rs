//! The Wasmtime side of the host: one engine, the elector component
//! compiled once and pre-linked (`InstancePre`), and a cheap sandbox per
//! candidate.
//!
//! Isolation per sandbox: its own store and linear memory (capped by
//! [`RuntimeConfig::memory_limit`]), the pooling allocator's slots, a CPU
//! budget enforced with epoch interruption (`budget.rs`), and a WASI context
//! that grants clocks only: no files, sockets, environment or arguments.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder,
};
use wasmtime_wasi::WasiCtx;

use crate::bindings::ElectorPre;
use crate::bindings::elector::election::{callbacks, state_store};
use crate::budget::{CpuBudget, TICK};
use crate::clock::SharedMonotonicClock;
use crate::sandbox::{Sandbox, SandboxState};
use crate::store::StateStoreBackend;

/// How sandboxes are sized and limited.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Most sandboxes alive at once (pooling allocator slots).
    pub max_sandboxes: u32,
    /// Linear memory per sandbox.
    pub memory_limit: usize,
    /// Longest a guest may compute without calling the host.
    pub max_compute: Duration,
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_sandboxes: 1_000,
            memory_limit: 16 << 20,
            max_compute: Duration::from_secs(1),
            cache_dir: None,
        }
    }
}

/// The compiled elector, ready to be instantiated many times. Clones share
/// it; sandboxes keep it alive.
#[derive(Clone)]
pub struct ElectorRuntime {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    engine: Engine,
    pre: ElectorPre<SandboxState>,
    config: RuntimeConfig,
    _epoch: EpochTicker,
}

impl ElectorRuntime {
    /// Compiles the elector component built from `guest/`.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        Self::with_component(config, crate::artifacts::ELECTOR_WASM)
    }

    /// Compiles any component of the `elector` world (tests use this to
    /// load misbehaving ones).
    pub fn with_component(config: RuntimeConfig, wasm: &[u8]) -> anyhow::Result<Self> {
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the component cache {}", dir.display()))?;
        }
        let engine = Engine::new(&engine_config(config.max_sandboxes, config.memory_limit)?)?;
        let component = load_component(&engine, wasm, config.cache_dir.as_deref())?;
        let mut linker = Linker::<SandboxState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // The WASI half of the world comes from wasmtime-wasi above; only
        // the elector's own imports are added here.
        state_store::add_to_linker::<_, HasSelf<SandboxState>>(&mut linker, |state| state)?;
        callbacks::add_to_linker::<_, HasSelf<SandboxState>>(&mut linker, |state| state)?;
        let pre = ElectorPre::new(linker.instantiate_pre(&component)?)?;
        let epoch = EpochTicker::start(engine.clone());
        Ok(ElectorRuntime {
            shared: Arc::new(Shared {
                engine,
                pre,
                config,
                _epoch: epoch,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// A fresh sandbox talking to `store`.
    pub async fn instantiate(
        &self,
        store: Arc<dyn StateStoreBackend>,
    ) -> wasmtime::Result<Sandbox> {
        let wasi = WasiCtx::builder()
            .monotonic_clock(SharedMonotonicClock)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.shared.config.memory_limit)
            .trap_on_grow_failure(true)
            .build();
        let state = SandboxState::new(
            wasi,
            limits,
            CpuBudget::new(self.shared.config.max_compute),
            store,
        );
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut context| context.data_mut().budget.on_deadline());
        store.set_epoch_deadline(1);
        let elector = self.shared.pre.instantiate_async(&mut store).await?;
        Ok(Sandbox {
            store,
            elector,
            _runtime: self.shared.clone(),
        })
    }
}

/// An engine for sandboxes: epoch interruption for CPU budgets, and the
/// pooling allocator sized for `max_sandboxes` of `memory_limit` each.
pub(crate) fn engine_config(max_sandboxes: u32, memory_limit: usize) -> anyhow::Result<Config> {
    let mut wasm = Config::new();
    wasm.epoch_interruption(true);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(max_sandboxes)
        .total_memories(max_sandboxes)
        .total_tables(max_sandboxes.saturating_mul(2))
        .total_core_instances(max_sandboxes.saturating_mul(4))
        .max_memory_size(memory_limit);
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Ok(wasm)
}

/// Compiles the component, or loads it from the cache when this engine
/// compiled the same bytes before.
fn load_component(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: Option<&std::path::Path>,
) -> anyhow::Result<Component> {
    let Some(dir) = cache_dir else {
        return Component::new(engine, wasm)
            .map_err(anyhow::Error::from)
            .context("compiling the elector component");
    };
    let key = cache_key(engine, wasm);
    let path = dir.join(format!("{key:016x}.cwasm"));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of an
        // engine with the same compatibility hash (part of the file name),
        // in a cache directory this process controls.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "ignoring unusable cached component")
            }
        }
    }
    let component = Component::new(engine, wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the elector component")?;
    let bytes = component.serialize()?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .with_context(|| format!("writing the component cache {}", path.display()))?;
    Ok(component)
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    wasm.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// Advances the engine's epoch every [`TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("elector-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
