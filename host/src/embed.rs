//! Embedding the elector component in another Wasmtime host.
//!
//! The elector imports `state-store` and `callbacks` besides WASI. A host
//! that already has its own engine, linker and store data adds them the way
//! wasmtime-wasi adds WASI: its data type implements [`ElectorView`] (and
//! `WasiView`), and [`add_to_linker`] links every import the `elector`
//! world needs. The store behind `state-store` is any
//! [`StateStoreBackend`]: the embedded one, the AIO store over MQTT, or the
//! embedder's own.
//!
//! ```ignore
//! struct Host { wasi: WasiCtx, table: ResourceTable, elector: ElectorCtx }
//! impl WasiView for Host { /* ctx + table */ }
//! impl ElectorView for Host {
//!     fn elector(&mut self) -> ElectorCtxView<'_> {
//!         ElectorCtxView { ctx: &mut self.elector, table: &mut self.table }
//!     }
//! }
//! let mut linker = Linker::<Host>::new(&engine);
//! elector_host::embed::add_to_linker(&mut linker)?;
//! let pre = ElectorPre::new(linker.instantiate_pre(&component)?)?;
//! ```
//!
//! `examples/embed` is a whole program built this way; [`ElectorRuntime`]
//! is too, with sandboxing and a Rust client on top.
//!
//! [`ElectorRuntime`]: crate::ElectorRuntime

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;

use crate::bindings::elector::election::{callbacks, state_store};
pub use crate::bindings::resources::{
    CancellationResource, EventFn, EventSinkResource, UpdateFn, ValueUpdaterResource,
};
use crate::budget::CpuBudget;
use crate::store::StateStoreBackend;

/// What the elector's imports need of one instance's data: the store its
/// requests go to, the signal that its watches have news, and the budget
/// host calls renew.
pub struct ElectorCtx {
    pub(crate) store: Arc<dyn StateStoreBackend>,
    pub(crate) wake: Arc<Notify>,
    pub(crate) budget: CpuBudget,
}

impl ElectorCtx {
    /// An instance's context over `store`. Its CPU budget only bites in an
    /// engine with epoch interruption whose deadline callback asks it
    /// ([`ElectorCtx::on_epoch_deadline`]); elsewhere it costs nothing.
    pub fn new(store: Arc<dyn StateStoreBackend>) -> Self {
        Self::with_budget(store, Duration::from_secs(1))
    }

    /// As [`ElectorCtx::new`], with the longest the guest may compute
    /// between two host calls.
    pub fn with_budget(store: Arc<dyn StateStoreBackend>, max_compute: Duration) -> Self {
        ElectorCtx {
            store,
            wake: Arc::new(Notify::new()),
            budget: CpuBudget::new(max_compute),
        }
    }

    /// Notified whenever a watch of this instance has news, so a host can
    /// `tick` an idle candidate at once rather than at its next timer.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// For `Store::epoch_deadline_callback`: lets the guest go on, or traps
    /// it once it has computed past its budget without calling the host.
    pub fn on_epoch_deadline(&mut self) -> wasmtime::Result<wasmtime::UpdateDeadline> {
        self.budget.on_deadline()
    }

    /// Whether the guest was stopped for computing past its budget.
    pub fn overran(&self) -> bool {
        self.budget.overran()
    }
}

/// The elector's part of an instance's data, lent to its imports: the
/// context and the resource table it shares with WASI.
pub struct ElectorCtxView<'a> {
    pub ctx: &'a mut ElectorCtx,
    pub table: &'a mut ResourceTable,
}

/// Implemented by a host's store data to run the elector, as `WasiView` is
/// for WASI.
pub trait ElectorView: WasiView + Send {
    fn elector(&mut self) -> ElectorCtxView<'_>;
}

/// Links WASI 0.2 and the elector's own imports into `linker`, for
/// instances whose data is `T`.
pub fn add_to_linker<T: ElectorView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    state_store::add_to_linker::<T, HasElector>(linker, |data| ElectorImports(data.elector()))?;
    callbacks::add_to_linker::<T, HasElector>(linker, |data| ElectorImports(data.elector()))?;
    Ok(())
}

/// The imports' implementation over one instance's [`ElectorCtxView`]
/// (in `sandbox/host_impl.rs`).
pub(crate) struct ElectorImports<'a>(pub(crate) ElectorCtxView<'a>);

struct HasElector;

impl HasData for HasElector {
    type Data<'a> = ElectorImports<'a>;
}
