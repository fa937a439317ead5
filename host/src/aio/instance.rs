//! One operator, compiled once, and its instances: each a wasmtime store
//! with AIO's imports linked.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasData, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::clocks::WasiClocksView as _;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::MapImpl;
use super::buffer::Buffer;
use super::metrics::AioMetrics;
use super::types::{DataModel, Error, ModuleConfiguration};
use crate::store::StateStoreBackend;

/// What one instance's imports reach.
pub struct AioHostState {
    pub(crate) instance: usize,
    pub(crate) store: Arc<dyn StateStoreBackend>,
    /// The bound of a state-store request that names none.
    pub(crate) request_timeout: Duration,
    pub(crate) metrics: AioMetrics,
    pub(crate) table: ResourceTable,
    wasi: WasiCtx,
}

/// Only the clocks and `wasi:io/poll` of this context are linked.
impl WasiView for AioHostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct HasTable;

impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// An operator component, compiled and linked, ready for instances.
pub struct AioOperator {
    engine: Engine,
    component: Component,
    linker: Linker<AioHostState>,
}

impl AioOperator {
    /// Compiles `wasm` and checks it is a `map` operator whose imports this
    /// host serves (AIO's interfaces, WASI clocks and poll).
    pub fn load(wasm: &[u8]) -> anyhow::Result<AioOperator> {
        let engine = Engine::new(&Config::new())?;
        let component = Component::new(&engine, wasm)
            .map_err(|e| anyhow::anyhow!("compiling the operator: {e:#}"))?;
        let mut linker = Linker::new(&engine);
        MapImpl::add_to_linker::<_, HasSelf<AioHostState>>(&mut linker, |state| state)?;
        use wasmtime_wasi::p2::bindings::clocks::{monotonic_clock, wall_clock};
        wall_clock::add_to_linker::<_, wasmtime_wasi::clocks::WasiClocks>(
            &mut linker,
            AioHostState::clocks,
        )?;
        monotonic_clock::add_to_linker::<_, wasmtime_wasi::clocks::WasiClocks>(
            &mut linker,
            AioHostState::clocks,
        )?;
        wasmtime_wasi_io::bindings::wasi::io::poll::add_to_linker::<_, HasTable>(
            &mut linker,
            |state| &mut state.table,
        )?;
        linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!(
                "the operator imports what AIO's operator world (with WASI clocks and poll) \
                     does not give: {e:#}"
            )
        })?;
        Ok(AioOperator {
            engine,
            component,
            linker,
        })
    }

    /// A new instance (`instance` names it in logs and metrics), with
    /// `init` called with `properties`.
    pub async fn instantiate(
        &self,
        instance: usize,
        store: Arc<dyn StateStoreBackend>,
        request_timeout: Duration,
        metrics: AioMetrics,
        properties: &[(String, String)],
    ) -> anyhow::Result<OperatorInstance> {
        let state = AioHostState {
            instance,
            store,
            request_timeout,
            metrics,
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
        };
        let mut store = Store::new(&self.engine, state);
        let bindings =
            MapImpl::instantiate_async(&mut store, &self.component, &self.linker).await?;
        let configuration = ModuleConfiguration {
            properties: properties.to_vec(),
            module_schemas: Vec::new(),
        };
        let accepted = bindings
            .wasm_graph_processor_map()
            .call_init(&mut store, &configuration)
            .await?;
        anyhow::ensure!(accepted, "the operator's init refused its configuration");
        Ok(OperatorInstance { store, bindings })
    }
}

/// One running instance of an operator.
pub struct OperatorInstance {
    store: Store<AioHostState>,
    bindings: MapImpl,
}

impl OperatorInstance {
    /// Puts `bytes` in a host buffer for the next message, as AIO's host
    /// hands payloads over; the operator reads it (`buffer.read`) and drops
    /// it.
    pub fn buffer(&mut self, bytes: Vec<u8>) -> anyhow::Result<Resource<Buffer>> {
        Ok(self.store.data_mut().table.push(Buffer(bytes))?)
    }

    /// One `process` call. The outer error is a trap (the instance is then
    /// unusable); the inner one, the operator's own error.
    pub async fn process(
        &mut self,
        message: &DataModel,
    ) -> anyhow::Result<Result<DataModel, Error>> {
        Ok(self
            .bindings
            .wasm_graph_processor_map()
            .call_process(&mut self.store, message)
            .await?)
    }
}
