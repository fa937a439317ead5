//! Embedding the elector component with plain Wasmtime.
//!
//! The election logic of this project is a WASI 0.2 component: it campaigns,
//! resigns and watches over a state store it only knows through its
//! imports. This example shows that the component stands on its own: it
//! loads it with nothing but `wasmtime` and `wasmtime-wasi` and supplies its
//! *own* implementation of every import, without the project's host crate:
//!
//! * `state-store`: a small in-memory store shared by all instances
//!   ([`store`]);
//! * `callbacks`: an event sink that prints what each candidate reports, a
//!   cancellation flag, and a (never used) value updater;
//! * `wasi:clocks` and `wasi:io/poll`: from `wasmtime-wasi`, with a
//!   monotonic clock whose origin this program knows, so it can read the
//!   instants the component reports.
//!
//! The scenario: two instances of the component, "alpha" and "beta",
//! compete for one position. Alpha wins with `try-campaign`; beta blocks in
//! `campaign`; alpha resigns; beta hears the deletion through its key watch
//! and is elected at once, long before alpha's term would have run out.
//!
//! Run it with `cargo run --release -p elector-example-embed`.

mod store;

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi::{HostMonotonicClock, WasiCtx, WasiCtxView, WasiView};

use bindings::elector::election::{callbacks, state_store};
use bindings::exports::elector::election::leader_election::CandidateOptions;
use bindings::{CampaignResponse, CandidateEvent, ElectionError, ElectorPre, Hlc};
use store::{KeyWatch, MemoryStore};

/// The elector component, built from `guest/` by `build.rs`.
const ELECTOR_WASM: &[u8] = include_bytes!(env!("ELECTOR_COMPONENT_ELECTOR_GUEST"));

/// The key both candidates campaign on.
const POSITION: &str = "embed-demo/leader";
/// How long a won election lasts without renewal.
const TERM_MS: u64 = 2_000;
/// How long alpha leads before resigning.
const LEAD_FOR: Duration = Duration::from_millis(300);
/// Beta's campaign is cancelled if it has not won by then, so a broken
/// store cannot hang the demo.
const WATCHDOG: Duration = Duration::from_secs(5);

/// Rust bindings of the `elector` world, generated from the WIT files the
/// component was built from.
mod bindings {
    wasmtime::component::bindgen!({
        world: "elector",
        path: "../../wit",
        // Our import traits get `async fn`s: a real store would await the
        // network (this one answers at once). The guest's blocking wait is
        // `wasi:io/poll.poll`, which wasmtime-wasi serves by awaiting our
        // `Pollable`s, so a waiting guest parks its task, not a thread.
        // `trappable`: every import returns `wasmtime::Result`, whose error
        // traps the instance.
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            // WASI types come from wasmtime-wasi, which implements them.
            "wasi": wasmtime_wasi::p2::bindings,
            // Each WIT resource is backed by a Rust type of ours, stored in
            // the instance's `ResourceTable`.
            "elector:election/state-store.key-watch": crate::store::KeyWatch,
            "elector:election/callbacks.cancellation": crate::Cancellation,
            "elector:election/callbacks.event-sink": crate::EventSink,
            "elector:election/callbacks.value-updater": crate::ValueUpdater,
        },
    });

    pub use elector::election::election_types::{CampaignResponse, CandidateEvent, ElectionError};
    pub use elector::election::store_types::Hlc;
}

// ---------------------------------------------------------------------------
// Clock and transcript, shared by every instance.
// ---------------------------------------------------------------------------

/// The `wasi:clocks/monotonic-clock` every instance sees: nanoseconds since
/// `origin`. wasmtime-wasi's default clock starts anew for each instance;
/// with one known origin, the instants the component reports (a lease's
/// `valid-until`) can be compared with this program's own time.
#[derive(Clone, Copy)]
struct SharedClock {
    origin: Instant,
}

impl SharedClock {
    fn nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl HostMonotonicClock for SharedClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.nanos()
    }
}

/// Everything the candidates report, in order, also printed as it happens.
struct Transcript {
    clock: SharedClock,
    events: Mutex<Vec<(String, CandidateEvent)>>,
}

impl Transcript {
    fn say(&self, who: &str, what: &str) {
        let ms = self.clock.origin.elapsed().as_millis();
        println!("[{ms:>5} ms] {who:<5} {what}");
    }

    fn record(&self, who: &str, event: CandidateEvent) {
        self.say(who, &format!("(event) {}", self.describe(&event)));
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((who.to_owned(), event));
    }

    /// The candidates, in the order they reported `elected`.
    fn elected_order(&self) -> Vec<String> {
        let events = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        events
            .iter()
            .filter(|(_, event)| matches!(event, CandidateEvent::Elected(_)))
            .map(|(who, _)| who.clone())
            .collect()
    }

    fn describe(&self, event: &CandidateEvent) -> String {
        match event {
            CandidateEvent::Elected(lease) | CandidateEvent::Renewed(lease) => {
                let verb = if matches!(event, CandidateEvent::Elected(_)) {
                    "elected"
                } else {
                    "renewed"
                };
                // `valid-until` is an instant on the shared monotonic clock.
                let left_ms = lease.valid_until.saturating_sub(self.clock.nanos()) / 1_000_000;
                format!(
                    "{verb}, fencing token {}, lease valid for another {left_ms} ms",
                    token(&lease.fencing_token)
                )
            }
            CandidateEvent::LeaseShortened(lease) => format!(
                "lease shortened by a write in doubt, fencing token {}",
                token(&lease.fencing_token)
            ),
            CandidateEvent::LeadershipLost(reason) => format!("lost leadership ({reason:?})"),
            CandidateEvent::RenewalFailed(error) => format!("renewal failed: {error:?}"),
            CandidateEvent::CampaignResult(result) => {
                format!("campaign attempt: leader = {}", result.is_leader)
            }
            CandidateEvent::LeadershipChanged(change) => format!(
                "leader changed to {:?}",
                change.new_leader.as_ref().map(|leader| &leader.name)
            ),
        }
    }
}

fn token(version: &Hlc) -> String {
    format!(
        "{}:{}:{}",
        version.wall_clock_ms, version.counter, version.node_id
    )
}

// ---------------------------------------------------------------------------
// The host side of one instance: its data and its imports.
// ---------------------------------------------------------------------------

/// The data of one instance's wasmtime `Store`.
struct HostState {
    wasi: WasiCtx,
    /// Holds the resources lent to the guest (watches, pollables, sinks).
    table: ResourceTable,
    store: Arc<MemoryStore>,
}

/// wasmtime-wasi finds its context and the resource table through this.
impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `state-store`: forwarded to the shared [`MemoryStore`]. The outer
/// `wasmtime::Result` would trap the guest; store failures are the inner
/// `Result`, which the elector handles.
impl state_store::Host for HostState {
    async fn set(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        options: state_store::SetOptions,
    ) -> wasmtime::Result<Result<state_store::SetResponse, state_store::StoreError>> {
        Ok(self.store.set(&key, &value, &options))
    }

    async fn get(
        &mut self,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<Option<state_store::VersionedValue>, state_store::StoreError>>
    {
        Ok(self.store.get(&key))
    }

    async fn del(
        &mut self,
        key: Vec<u8>,
        _fencing_token: Option<Hlc>, // accepted, not enforced (see store.rs)
    ) -> wasmtime::Result<Result<state_store::DeleteOutcome, state_store::StoreError>> {
        Ok(self.store.del(&key))
    }

    async fn vdel(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        _fencing_token: Option<Hlc>, // accepted, not enforced (see store.rs)
    ) -> wasmtime::Result<Result<state_store::DeleteOutcome, state_store::StoreError>> {
        Ok(self.store.vdel(&key, &value))
    }

    async fn watch(
        &mut self,
        key: Vec<u8>,
    ) -> wasmtime::Result<Result<Resource<KeyWatch>, state_store::StoreError>> {
        let queue = match self.store.watch(&key) {
            Ok(queue) => queue,
            Err(error) => return Ok(Err(error)),
        };
        // A new resource is an owned handle, handed to the guest.
        Ok(Ok(self.table.push(KeyWatch(queue))?))
    }
}

impl state_store::HostKeyWatch for HostState {
    async fn subscribe(
        &mut self,
        watch: Resource<KeyWatch>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        // Makes a `wasi:io/poll` pollable out of our `Pollable` impl. The
        // pollable is a child of the watch in the table, so the watch cannot
        // be deleted while the guest still holds a pollable of it.
        wasmtime_wasi::p2::subscribe(&mut self.table, watch)
    }

    async fn take(
        &mut self,
        watch: Resource<KeyWatch>,
    ) -> wasmtime::Result<Vec<state_store::KeyNotification>> {
        Ok(self.table.get(&watch)?.0.take_all())
    }

    async fn drop(&mut self, watch: Resource<KeyWatch>) -> wasmtime::Result<()> {
        // Dropping the queue unregisters the watch from the store.
        self.table.delete(watch)?;
        Ok(())
    }
}

/// A `cancellation`: a flag, and a way to wait for it.
#[derive(Default)]
struct CancelFlag {
    fired: AtomicBool,
    notify: tokio::sync::Notify,
}

impl CancelFlag {
    /// Once fired, stays fired.
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// The host side of a `cancellation` resource; the caller keeps another
/// `Arc` of the flag to fire it.
pub struct Cancellation(Arc<CancelFlag>);

/// Ready once the flag is fired.
#[wasmtime_wasi::async_trait]
impl Pollable for Cancellation {
    async fn ready(&mut self) {
        loop {
            // Register before checking, so a `fire` in between is not lost.
            let mut notified = pin!(self.0.notify.notified());
            notified.as_mut().enable();
            if self.0.is_fired() {
                return;
            }
            notified.await;
        }
    }
}

/// The host side of an `event-sink`: which candidate it belongs to, and
/// where its events go.
pub struct EventSink {
    name: String,
    transcript: Arc<Transcript>,
}

/// The host side of a `value-updater`. Only `campaign-and-update-value`
/// takes one, and the demo never calls it, so none is ever made.
pub struct ValueUpdater;

impl callbacks::HostCancellation for HostState {
    async fn subscribe(
        &mut self,
        cancellation: Resource<Cancellation>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(&mut self.table, cancellation)
    }

    async fn is_cancelled(
        &mut self,
        cancellation: Resource<Cancellation>,
    ) -> wasmtime::Result<bool> {
        Ok(self.table.get(&cancellation)?.0.is_fired())
    }

    async fn drop(&mut self, cancellation: Resource<Cancellation>) -> wasmtime::Result<()> {
        // Cancellations are only lent as borrows, which the lender (see
        // `Candidate::campaign`) deletes itself after the call.
        if cancellation.owned() {
            self.table.delete(cancellation)?;
        }
        Ok(())
    }
}

impl callbacks::HostEventSink for HostState {
    async fn deliver(
        &mut self,
        sink: Resource<EventSink>,
        event: CandidateEvent,
    ) -> wasmtime::Result<()> {
        let sink = self.table.get(&sink)?;
        sink.transcript.record(&sink.name, event);
        Ok(())
    }

    async fn drop(&mut self, sink: Resource<EventSink>) -> wasmtime::Result<()> {
        // The sink was given (owned) to the candidate; it ends with it.
        self.table.delete(sink)?;
        Ok(())
    }
}

impl callbacks::HostValueUpdater for HostState {
    async fn update(
        &mut self,
        _updater: Resource<ValueUpdater>,
        current: Option<Vec<u8>>,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        // Keep the value as it is.
        Ok(current)
    }

    async fn drop(&mut self, updater: Resource<ValueUpdater>) -> wasmtime::Result<()> {
        if updater.owned() {
            self.table.delete(updater)?;
        }
        Ok(())
    }
}

// `callbacks` has no free functions, only resources, so its `Host` trait is
// empty (it bundles the `HostCancellation`, ... traits above), but
// `callbacks::add_to_linker` asks for it. The interfaces of types only
// (`store-types`, `election-types`) need nothing: nothing links them.
impl callbacks::Host for HostState {}

// ---------------------------------------------------------------------------
// Loading the component and calling it.
// ---------------------------------------------------------------------------

/// The component, compiled and linked once; instantiated once per
/// candidate.
struct Embedder {
    engine: Engine,
    pre: ElectorPre<HostState>,
    store: Arc<MemoryStore>,
    clock: SharedClock,
    transcript: Arc<Transcript>,
}

impl Embedder {
    fn new() -> anyhow::Result<Self> {
        // Async support is always on in wasmtime 48; nothing to configure.
        let engine = Engine::default();
        let component = Component::new(&engine, ELECTOR_WASM)
            // wasmtime 48 has its own error type; `anyhow`'s `Context` needs
            // a conversion first.
            .map_err(anyhow::Error::from)
            .context("compiling the elector component")?;
        let mut linker = Linker::<HostState>::new(&engine);
        // `wasi:clocks` and `wasi:io/poll` (and the rest of WASI 0.2, which
        // the component does not import and so cannot reach).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Our own imports. `HasSelf<HostState>`: the traits are implemented
        // on the store data itself, reached by the identity closure.
        state_store::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)?;
        callbacks::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)?;
        // Resolve every import now, so instantiating is cheap and cannot
        // fail for a missing import.
        let pre = ElectorPre::new(linker.instantiate_pre(&component)?)?;
        let clock = SharedClock {
            origin: Instant::now(),
        };
        Ok(Embedder {
            engine,
            pre,
            store: Arc::new(MemoryStore::default()),
            clock,
            transcript: Arc::new(Transcript {
                clock,
                events: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A fresh instance of the component with one candidate named `name`.
    async fn candidate(&self, name: &str) -> anyhow::Result<Candidate> {
        // Clocks only: no files, environment or arguments are granted.
        let wasi = WasiCtx::builder().monotonic_clock(self.clock).build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            store: self.store.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        let elector = self.pre.instantiate_async(&mut store).await?;
        // The event sink is handed over owned: the candidate keeps it.
        let sink = store.data_mut().table.push(EventSink {
            name: name.to_owned(),
            transcript: self.transcript.clone(),
        })?;
        let options = CandidateOptions {
            position: POSITION.into(),
            name: name.into(),
            session_id: None,
            safety_margin_ms: None,
            request_lifetime_ms: None,
        };
        let handle = elector
            .elector_election_leader_election()
            .candidate()
            .call_create(&mut store, &options, sink)
            .await?
            .map_err(|error| anyhow!("creating candidate {name}: {error:?}"))?;
        Ok(Candidate {
            name: name.to_owned(),
            store,
            elector,
            handle,
        })
    }
}

/// One instance of the component and the `candidate` resource inside it.
struct Candidate {
    name: String,
    store: Store<HostState>,
    elector: bindings::Elector,
    /// A handle to a resource that lives in the guest.
    handle: ResourceAny,
}

/// Turns an election error (the component's answer, not a trap) into an
/// `anyhow` error naming the call.
fn answered<T>(name: &str, call: &str, result: Result<T, ElectionError>) -> anyhow::Result<T> {
    result.map_err(|error| anyhow!("{name}: {call} failed: {error:?}"))
}

impl Candidate {
    async fn try_campaign(&mut self, term_ms: u64) -> anyhow::Result<CampaignResponse> {
        let answer = self
            .elector
            .elector_election_leader_election()
            .candidate()
            .call_try_campaign(&mut self.store, self.handle, term_ms)
            .await?;
        answered(&self.name, "try-campaign", answer)
    }

    /// Blocks until elected or until `cancel` fires.
    async fn campaign(
        &mut self,
        term_ms: u64,
        cancel: Arc<CancelFlag>,
    ) -> anyhow::Result<CampaignResponse> {
        // `campaign` takes `borrow<cancellation>`: push the resource, lend
        // a borrowed handle for the call, and delete it afterwards.
        let owned = self.store.data_mut().table.push(Cancellation(cancel))?;
        let borrowed = Resource::<Cancellation>::new_borrow(owned.rep());
        let answer = self
            .elector
            .elector_election_leader_election()
            .candidate()
            .call_campaign(&mut self.store, self.handle, term_ms, None, Some(borrowed))
            .await;
        let deleted = self.store.data_mut().table.delete(owned);
        // A trap in the call is the error worth reporting, if there is one.
        let answer = answer?;
        deleted?;
        answered(&self.name, "campaign", answer)
    }

    async fn resign(&mut self) -> anyhow::Result<bool> {
        let answer = self
            .elector
            .elector_election_leader_election()
            .candidate()
            .call_resign(&mut self.store, self.handle, false)
            .await?;
        Ok(answered(&self.name, "resign", answer)?.success)
    }

    async fn current_leader(&mut self) -> anyhow::Result<Option<String>> {
        let answer = self
            .elector
            .elector_election_leader_election()
            .candidate()
            .call_current_leader(&mut self.store, self.handle)
            .await?;
        Ok(answered(&self.name, "current-leader", answer)?.map(|leader| leader.name))
    }
}

// ---------------------------------------------------------------------------
// The scenario.
// ---------------------------------------------------------------------------

/// What the scenario observed, for `main` to report and the test to check.
struct Outcome {
    alpha_elected: bool,
    beta_elected: bool,
    /// From the start of alpha's resignation to beta's election; `None`
    /// if beta was elected before alpha even began to resign.
    beta_wait: Option<Duration>,
    leader_after: Option<String>,
    /// Who reported `elected`, in order.
    elected_order: Vec<String>,
}

async fn run_scenario() -> anyhow::Result<Outcome> {
    let embedder = Embedder::new()?;
    let transcript = embedder.transcript.clone();
    let mut alpha = embedder.candidate("alpha").await?;
    let mut beta = embedder.candidate("beta").await?;
    transcript.say(
        "",
        "two instances of the component, one shared in-memory store",
    );

    transcript.say("alpha", &format!("try-campaign (term {TERM_MS} ms)"));
    let won = alpha.try_campaign(TERM_MS).await?;
    match &won.fencing_token {
        Some(fencing_token) => {
            transcript.say(
                "alpha",
                &format!("is leader, fencing token {}", token(fencing_token)),
            );
        }
        None => transcript.say("alpha", "is not leader"),
    }

    // Beta's campaign blocks inside the component (in `wasi:io/poll`) until
    // it wins, so it runs on its own task with its own instance.
    transcript.say(
        "beta",
        &format!("campaign (term {TERM_MS} ms, no timeout), blocks"),
    );
    let cancel = Arc::new(CancelFlag::default());
    let mut beta_task = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            let result = beta.campaign(TERM_MS, cancel).await;
            (result, Instant::now(), beta)
        }
    });

    tokio::time::sleep(LEAD_FOR).await;
    transcript.say("alpha", "resign");
    let resign_started = Instant::now();
    let resigned = alpha.resign().await?;
    transcript.say("alpha", &format!("resigned: {resigned}"));

    let (result, elected_at, mut beta) = match tokio::time::timeout(WATCHDOG, &mut beta_task).await
    {
        Ok(joined) => joined?,
        Err(_) => {
            transcript.say("beta", "still waiting after the watchdog: cancelling");
            cancel.fire();
            beta_task.await?
        }
    };
    let beta_won = result?;
    let beta_wait = elected_at.checked_duration_since(resign_started);
    transcript.say(
        "beta",
        &format!(
            "campaign returned: leader = {}, {} after alpha began resigning \
             (alpha's term had {} ms left)",
            beta_won.is_leader,
            millis(beta_wait),
            TERM_MS.saturating_sub(u64::try_from(LEAD_FOR.as_millis()).unwrap_or(u64::MAX)),
        ),
    );

    let leader_after = alpha.current_leader().await?;
    transcript.say("alpha", &format!("current-leader: {leader_after:?}"));

    transcript.say("beta", "resign");
    let resigned = beta.resign().await?;
    transcript.say("beta", &format!("resigned: {resigned}"));

    Ok(Outcome {
        alpha_elected: won.is_leader,
        beta_elected: beta_won.is_leader,
        beta_wait,
        leader_after,
        elected_order: transcript.elected_order(),
    })
}

fn millis(duration: Option<Duration>) -> String {
    match duration {
        Some(duration) => format!("{:.2} ms", duration.as_secs_f64() * 1000.0),
        None => "(before)".into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let outcome = run_scenario().await?;
    println!(
        "summary: elected in turn {:?}; beta took over {} after the resignation; \
         leader afterwards {:?}",
        outcome.elected_order,
        millis(outcome.beta_wait),
        outcome.leader_after,
    );
    anyhow::ensure!(
        outcome.alpha_elected
            && outcome.beta_elected
            && outcome.elected_order == ["alpha", "beta"]
            && outcome.beta_wait.is_some()
            && outcome.leader_after.as_deref() == Some("beta"),
        "the candidates should have led in turn, alpha then beta"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn beta_takes_over_promptly_after_alpha_resigns() {
        let outcome = run_scenario().await.expect("the scenario runs");
        assert!(outcome.alpha_elected, "alpha wins the first try-campaign");
        assert!(outcome.beta_elected, "beta's campaign ends elected");
        assert_eq!(outcome.elected_order, ["alpha", "beta"]);
        let wait = outcome
            .beta_wait
            .expect("beta is elected only after alpha begins to resign");
        assert!(
            wait < Duration::from_secs(1),
            "beta should hear the deletion, not wait out the term: {wait:?}"
        );
        assert_eq!(outcome.leader_after.as_deref(), Some("beta"));
    }
}
