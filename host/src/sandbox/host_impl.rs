//! The host side of the elector's imports: `state-store` forwarded to the
//! sandbox's backend (its results converted to WIT types by
//! `bindings/convert.rs`), and the caller's callbacks.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynPollable;

use super::SandboxState;
use super::resources::{
    CancellationResource, EventSinkResource, KeyWatchResource, ValueUpdaterResource,
};
use crate::bindings::elector::election::{callbacks, election_types, state_store};
use crate::bindings::{
    CandidateEvent, DeleteOutcome, Hlc, KeyNotification, SetOptions, SetResponse, StoreError,
    VersionedValue,
};
use crate::store::NotificationQueue;

impl state_store::Host for SandboxState {
    async fn set(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        options: SetOptions,
    ) -> wasmtime::Result<Result<SetResponse, StoreError>> {
        self.budget.progress();
        tracing::trace!(import = "set");
        let options = options.into();
        let result = self.store.set(&key, &value, &options).await;
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn get(
        &mut self,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<Option<VersionedValue>, StoreError>> {
        self.budget.progress();
        tracing::trace!(import = "get");
        let result = self.store.get(&key).await;
        Ok(result
            .map(|found| found.map(Into::into))
            .map_err(Into::into))
    }

    async fn del(
        &mut self,
        key: Vec<u8>,
        fencing_token: Option<Hlc>,
    ) -> wasmtime::Result<Result<DeleteOutcome, StoreError>> {
        self.budget.progress();
        tracing::trace!(import = "del");
        let token = fencing_token.as_ref().map(Into::into);
        let result = self.store.del(&key, token.as_ref()).await;
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn vdel(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        fencing_token: Option<Hlc>,
    ) -> wasmtime::Result<Result<DeleteOutcome, StoreError>> {
        self.budget.progress();
        tracing::trace!(import = "vdel");
        let token = fencing_token.as_ref().map(Into::into);
        let result = self.store.vdel(&key, &value, token.as_ref()).await;
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn watch(
        &mut self,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<Resource<KeyWatchResource>, StoreError>> {
        self.budget.progress();
        tracing::trace!(import = "watch");
        let queue = NotificationQueue::new(self.wake.clone());
        let registration = match self.store.watch(&key, queue.clone()).await {
            Ok(registration) => registration,
            Err(error) => return Ok(Err(error.into())),
        };
        let watch = self.table.push(KeyWatchResource {
            queue,
            registration,
        })?;
        Ok(Ok(watch))
    }
}

impl state_store::HostKeyWatch for SandboxState {
    async fn subscribe(
        &mut self,
        watch: Resource<KeyWatchResource>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.budget.progress();
        tracing::trace!(import = "subscribe");
        wasmtime_wasi::p2::subscribe(&mut self.table, watch)
    }

    async fn take(
        &mut self,
        watch: Resource<KeyWatchResource>,
    ) -> wasmtime::Result<Vec<KeyNotification>> {
        self.budget.progress();
        tracing::trace!(import = "take");
        let taken = self.table.get(&watch)?.queue.take_all();
        Ok(taken.into_iter().map(Into::into).collect())
    }

    async fn drop(&mut self, watch: Resource<KeyWatchResource>) -> wasmtime::Result<()> {
        // Dropping the resource drops its registration.
        self.table.delete(watch)?;
        Ok(())
    }
}

impl callbacks::HostCancellation for SandboxState {
    async fn subscribe(
        &mut self,
        cancellation: Resource<CancellationResource>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.budget.progress();
        tracing::trace!(import = "cancel_subscribe");
        wasmtime_wasi::p2::subscribe(&mut self.table, cancellation)
    }

    async fn is_cancelled(
        &mut self,
        cancellation: Resource<CancellationResource>,
    ) -> wasmtime::Result<bool> {
        self.budget.progress();
        tracing::trace!(import = "is_cancelled");
        Ok(self.table.get(&cancellation)?.0.is_cancelled())
    }

    async fn drop(&mut self, cancellation: Resource<CancellationResource>) -> wasmtime::Result<()> {
        // Borrowed handles are deleted by the host when the call returns;
        // an owned one the guest drops is deleted here.
        if cancellation.owned() {
            self.table.delete(cancellation)?;
        }
        Ok(())
    }
}

impl callbacks::HostEventSink for SandboxState {
    async fn deliver(
        &mut self,
        sink: Resource<EventSinkResource>,
        event: CandidateEvent,
    ) -> wasmtime::Result<()> {
        self.budget.progress();
        tracing::trace!(import = "deliver");
        (self.table.get(&sink)?.0)(event);
        Ok(())
    }

    async fn drop(&mut self, sink: Resource<EventSinkResource>) -> wasmtime::Result<()> {
        self.table.delete(sink)?;
        Ok(())
    }
}

impl callbacks::HostValueUpdater for SandboxState {
    async fn update(
        &mut self,
        updater: Resource<ValueUpdaterResource>,
        current: Option<Vec<u8>>,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        self.budget.progress();
        tracing::trace!(import = "update");
        Ok((self.table.get_mut(&updater)?.0)(current))
    }

    async fn drop(&mut self, updater: Resource<ValueUpdaterResource>) -> wasmtime::Result<()> {
        if updater.owned() {
            self.table.delete(updater)?;
        }
        Ok(())
    }
}

impl callbacks::Host for SandboxState {}
impl election_types::Host for SandboxState {}
