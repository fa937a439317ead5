//! The host side of the elector's imports: `state-store` forwarded to the
//! sandbox's backend (its results converted to WIT types by
//! `bindings/convert.rs`), and the caller's callbacks.

use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynPollable;

use crate::bindings::elector::election::{callbacks, election_types, state_store};
use crate::bindings::resources::{
    CancellationResource, EventSinkResource, KeyWatchResource, ValueUpdaterResource,
};
use crate::bindings::{
    CandidateEvent, DeleteOutcome, Hlc, KeyNotification, SetOptions, SetResponse, StoreError,
    VersionedValue,
};
use crate::embed::ElectorImports;
use crate::store::NotificationQueue;

impl ElectorImports<'_> {
    /// Every host call ends the guest's compute streak.
    fn host_call(&mut self, import: &'static str) {
        self.0.ctx.budget.progress();
        tracing::trace!(import);
    }
}

impl state_store::Host for ElectorImports<'_> {
    async fn set(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        options: SetOptions,
    ) -> wasmtime::Result<Result<SetResponse, StoreError>> {
        self.host_call("set");
        let options = options.into();
        let result = self.0.ctx.store.set(&key, &value, &options).await;
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn get(
        &mut self,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<Option<VersionedValue>, StoreError>> {
        self.host_call("get");
        let result = self.0.ctx.store.get(&key).await;
        Ok(result
            .map(|found| found.map(Into::into))
            .map_err(Into::into))
    }

    async fn del(
        &mut self,
        key: Vec<u8>,
        fencing_token: Option<Hlc>,
    ) -> wasmtime::Result<Result<DeleteOutcome, StoreError>> {
        self.host_call("del");
        let token = fencing_token.as_ref().map(Into::into);
        let result = self.0.ctx.store.del(&key, token.as_ref()).await;
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn vdel(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        fencing_token: Option<Hlc>,
    ) -> wasmtime::Result<Result<DeleteOutcome, StoreError>> {
        self.host_call("vdel");
        let token = fencing_token.as_ref().map(Into::into);
        let result = self.0.ctx.store.vdel(&key, &value, token.as_ref()).await;
        Ok(result.map(Into::into).map_err(Into::into))
    }

    async fn watch(
        &mut self,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<Resource<KeyWatchResource>, StoreError>> {
        self.host_call("watch");
        let queue = NotificationQueue::new(self.0.ctx.wake.clone());
        let registration = match self.0.ctx.store.watch(&key, queue.clone()).await {
            Ok(registration) => registration,
            Err(error) => return Ok(Err(error.into())),
        };
        let watch = self.0.table.push(KeyWatchResource {
            queue,
            registration,
        })?;
        Ok(Ok(watch))
    }

    async fn current_release_guard(
        &mut self,
    ) -> wasmtime::Result<Option<state_store::ReleaseGuard>> {
        self.host_call("current-release-guard");
        Ok(self
            .0
            .ctx
            .store
            .release_trust()
            .map(|trust| state_store::ReleaseGuard {
                trusted_since: trust.trusted_since,
                trusted_until: trust.trusted_until,
                may_land_until: trust.may_land_until,
            }))
    }
}

impl state_store::HostKeyWatch for ElectorImports<'_> {
    async fn subscribe(
        &mut self,
        watch: Resource<KeyWatchResource>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.host_call("subscribe");
        wasmtime_wasi::p2::subscribe(self.0.table, watch)
    }

    async fn take(
        &mut self,
        watch: Resource<KeyWatchResource>,
    ) -> wasmtime::Result<Vec<KeyNotification>> {
        self.host_call("take");
        let taken = self.0.table.get(&watch)?.queue.take_all();
        Ok(taken.into_iter().map(Into::into).collect())
    }

    async fn drop(&mut self, watch: Resource<KeyWatchResource>) -> wasmtime::Result<()> {
        // Dropping the resource drops its registration.
        self.0.table.delete(watch)?;
        Ok(())
    }
}

impl callbacks::HostCancellation for ElectorImports<'_> {
    async fn subscribe(
        &mut self,
        cancellation: Resource<CancellationResource>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.host_call("cancel_subscribe");
        wasmtime_wasi::p2::subscribe(self.0.table, cancellation)
    }

    async fn is_cancelled(
        &mut self,
        cancellation: Resource<CancellationResource>,
    ) -> wasmtime::Result<bool> {
        self.host_call("is_cancelled");
        Ok(self.0.table.get(&cancellation)?.0.is_cancelled())
    }

    async fn drop(&mut self, cancellation: Resource<CancellationResource>) -> wasmtime::Result<()> {
        // Borrowed handles are deleted by the host when the call returns;
        // an owned one the guest drops is deleted here.
        if cancellation.owned() {
            self.0.table.delete(cancellation)?;
        }
        Ok(())
    }
}

impl callbacks::HostEventSink for ElectorImports<'_> {
    async fn deliver(
        &mut self,
        sink: Resource<EventSinkResource>,
        event: CandidateEvent,
    ) -> wasmtime::Result<()> {
        self.host_call("deliver");
        (self.0.table.get(&sink)?.0)(event);
        Ok(())
    }

    async fn drop(&mut self, sink: Resource<EventSinkResource>) -> wasmtime::Result<()> {
        self.0.table.delete(sink)?;
        Ok(())
    }
}

impl callbacks::HostValueUpdater for ElectorImports<'_> {
    async fn update(
        &mut self,
        updater: Resource<ValueUpdaterResource>,
        current: Option<Vec<u8>>,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        self.host_call("update");
        Ok((self.0.table.get_mut(&updater)?.0)(current))
    }

    async fn drop(&mut self, updater: Resource<ValueUpdaterResource>) -> wasmtime::Result<()> {
        if updater.owned() {
            self.0.table.delete(updater)?;
        }
        Ok(())
    }
}

impl callbacks::Host for ElectorImports<'_> {}
impl election_types::Host for ElectorImports<'_> {}
