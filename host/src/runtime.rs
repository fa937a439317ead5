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
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder,
};
use wasmtime_wasi::WasiCtx;

use crate::bindings::ElectorPre;
use crate::budget::TICK;
use crate::clock::SharedMonotonicClock;
use crate::embed::ElectorCtx;
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
    /// Default: `$ELECTOR_COMPONENT_CACHE` (empty: no cache), else
    /// `$XDG_CACHE_HOME/elector` or `~/.cache/elector`.
    pub cache_dir: Option<PathBuf>,
}

/// The default component cache (see [`RuntimeConfig::cache_dir`]).
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(configured) = std::env::var_os("ELECTOR_COMPONENT_CACHE") {
        return (!configured.is_empty()).then(|| PathBuf::from(configured));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|base| base.join("elector"))
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_sandboxes: 1_000,
            memory_limit: 16 << 20,
            max_compute: Duration::from_secs(1),
            cache_dir: default_cache_dir(),
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
        // A cache that cannot be used only costs compile time.
        let cache_dir = config.cache_dir.clone().filter(|dir| {
            std::fs::create_dir_all(dir)
                .inspect_err(|error| {
                    tracing::warn!(%error, dir = %dir.display(), "component cache unavailable");
                })
                .is_ok()
        });
        warn_if_mappings_run_short(config.max_sandboxes);
        let engine = Engine::new(&engine_config(config.max_sandboxes, config.memory_limit)?)?;
        let component = load_component(&engine, wasm, cache_dir.as_deref())?;
        let mut linker = Linker::<SandboxState>::new(&engine);
        crate::embed::add_to_linker(&mut linker)?;
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
        let elector = ElectorCtx::with_budget(store, self.shared.config.max_compute);
        let state = SandboxState::new(wasi, limits, elector);
        let mut store = Store::new(&self.shared.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut context| context.data_mut().elector.on_epoch_deadline());
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
    // Slots no bigger than the memory a sandbox may use: the default 4 GiB
    // reservation per memory would exhaust the address space at about
    // 30,000 sandboxes. Bounds checks become explicit, which the elector's
    // little guest code does not notice (see docs/performance.md).
    wasm.memory_reservation(memory_limit as u64);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(max_sandboxes)
        .total_memories(max_sandboxes)
        .total_tables(max_sandboxes.saturating_mul(2))
        .total_core_instances(max_sandboxes.saturating_mul(4))
        // An idle store keeps the fiber stack of its last call, so every
        // live sandbox holds one.
        .total_stacks(max_sandboxes)
        .max_memory_size(memory_limit);
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Ok(wasm)
}

/// Memory mappings a live sandbox costs: its fiber stack and guard page,
/// and its linear memory's copy-on-write image, heap and inaccessible rest
/// (measured by `elector bench --only density`).
const MAPPINGS_PER_SANDBOX: u64 = 6;

/// The kernel caps a process's memory mappings (`vm.max_map_count`, 65,530
/// by default), which caps live sandboxes near 10,900; past it
/// instantiation fails with ENOMEM. Say so before it happens.
fn warn_if_mappings_run_short(max_sandboxes: u32) {
    let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    let needed = u64::from(max_sandboxes) * MAPPINGS_PER_SANDBOX;
    if let Some(limit) = limit.filter(|&limit| needed > limit) {
        tracing::warn!(
            max_sandboxes,
            needed,
            limit,
            "vm.max_map_count is too low for this many sandboxes; raise it \
             (sysctl -w vm.max_map_count={}) or expect instantiation to fail",
            needed.next_power_of_two()
        );
    }
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
    if let Err(error) =
        std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, &path))
    {
        tracing::warn!(%error, path = %path.display(), "could not write the component cache");
    }
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
