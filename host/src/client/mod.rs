//! [`LeaderElectionClient`]: the Rust API over one sandboxed candidate,
//! shaped after Azure IoT Operations' `ILeaderElectionClient`.
//!
//! Every method runs in the candidate's sandbox (the elector component);
//! calls are queued and run one at a time. Blocking calls are cancelled by
//! dropping their future (for example with `tokio::time::timeout`): the
//! candidate is told at once and leaves no key watch behind.

mod driver;
mod mirror;
mod options;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::bindings::{
    CampaignResponse, CandidateEvent, CandidateOptions, ElectionError, Hlc, HumanText as _, Leader,
    LeadershipChange, RenewalOptions, ResignationResponse,
};
use crate::runtime::ElectorRuntime;
use crate::sandbox::{CandidateHandle, Sandbox};
use crate::store::StateStoreBackend;
use driver::Job;
use mirror::Mirror;
pub use options::{AutomaticRenewal, ClientOptions, ResignOptions};

#[derive(Debug, Error, Clone)]
pub enum ClientError {
    /// The election said no: bad argument, cancelled, timed out, fencing or
    /// store failure.
    #[error("{}", .0.text())]
    Election(ElectionError),
    /// The candidate's sandbox trapped or ran out of budget; the client is
    /// unusable.
    #[error("the candidate's sandbox stopped: {0}")]
    SandboxFailed(String),
}

impl From<ElectionError> for ClientError {
    fn from(error: ElectionError) -> Self {
        ClientError::Election(error)
    }
}

/// A leader-election candidate running in its own sandbox.
///
/// Cloning gives another handle to the same candidate. The candidate stops
/// when the last handle is dropped; it does not resign by itself (its lease
/// then ends at the term), so call [`resign`](Self::resign) first for a
/// prompt hand-over.
#[derive(Clone)]
pub struct LeaderElectionClient {
    name: Arc<str>,
    jobs: mpsc::UnboundedSender<Job>,
    mirror: Arc<Mirror>,
}

impl LeaderElectionClient {
    /// Starts a sandbox for one candidate on `store`.
    pub async fn start(
        runtime: &ElectorRuntime,
        store: Arc<dyn StateStoreBackend>,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let failed =
            |error: wasmtime::Error| ClientError::SandboxFailed(crate::errors::one_line(&error));
        let request_lifetime = options
            .request_lifetime
            .unwrap_or_else(|| store.request_lifetime());
        let mirror = Arc::new(Mirror::with_link(store.clone()));
        let mut sandbox = runtime.instantiate(store).await.map_err(failed)?;
        let events = {
            let mirror = mirror.clone();
            Box::new(move |event| mirror.apply(event))
        };
        let wit_options = CandidateOptions {
            position: options.position,
            name: options.name.clone(),
            session_id: options.session_id,
            safety_margin_ms: options.safety_margin.map(millis),
            request_lifetime_ms: Some(millis(request_lifetime)),
        };
        let candidate = sandbox
            .create_candidate(&wit_options, events)
            .await
            .map_err(failed)??;
        let (jobs, mailbox) = mpsc::unbounded_channel();
        tokio::spawn(driver::drive(sandbox, candidate, mailbox, mirror.clone()));
        tokio::spawn(mirror::watch_lease_end(Arc::downgrade(&mirror)));
        Ok(LeaderElectionClient {
            name: options.name.into(),
            jobs,
            mirror,
        })
    }

    /// The name this candidate campaigns under.
    pub fn candidate_name(&self) -> &str {
        &self.name
    }

    /// One attempt to become (or stay) leader for `term`. Returns after one
    /// store round trip. Dropping the future before it returns gives up a
    /// win it may have had (see [`campaign`](Self::campaign)).
    pub async fn try_campaign(&self, term: Duration) -> Result<CampaignResponse, ClientError> {
        let term_ms = millis(term);
        self.call_undoing_abandoned_win(move |sandbox, c| {
            Box::pin(sandbox.try_campaign(c, term_ms))
        })
        .await?
        .map_err(Into::into)
    }

    /// Blocks until this candidate leads for `term`, or `timeout` passes
    /// (`ElectionError::Timeout`). Dropping the future cancels the campaign;
    /// if the candidate won in the instant the future was dropped, nobody
    /// is told of the win, so it resigns (automatic renewal stays
    /// configured but unarmed).
    pub async fn campaign(
        &self,
        term: Duration,
        timeout: Option<Duration>,
    ) -> Result<CampaignResponse, ClientError> {
        let term_ms = millis(term);
        let timeout_ms = timeout.map(millis);
        let cancel = CancellationToken::new();
        let _cancel_on_drop = cancel.clone().drop_guard();
        self.call_undoing_abandoned_win(move |sandbox, c| {
            Box::pin(sandbox.campaign(c, term_ms, timeout_ms, cancel))
        })
        .await?
        .map_err(Into::into)
    }

    /// Runs a campaign call; if its caller is gone by the time it wins,
    /// resigns the win nobody will act on (and keep renewing).
    async fn call_undoing_abandoned_win(
        &self,
        call: impl for<'a> FnOnce(
            &'a mut Sandbox,
            CandidateHandle,
        ) -> BoxFuture<
            'a,
            wasmtime::Result<Result<CampaignResponse, ElectionError>>,
        > + Send
        + 'static,
    ) -> Result<Result<CampaignResponse, ElectionError>, ClientError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |sandbox, candidate| {
            Box::pin(async move {
                let result = match call(sandbox, candidate).await {
                    Ok(result) => result,
                    Err(trap) => {
                        let reason = crate::errors::one_line(&trap);
                        let _ = reply.send(Err(reason.clone()));
                        return Err(reason);
                    }
                };
                let won = matches!(&result, Ok(response) if response.is_leader);
                if reply.send(Ok(result)).is_err() && won {
                    give_up_unwanted_win(sandbox, candidate)
                        .await
                        .map_err(|trap| crate::errors::one_line(&trap))?;
                }
                Ok(())
            })
        });
        self.run_job(job, answer).await
    }

    /// Gives up the position if this candidate holds it; `success` is false
    /// (not an error) when it did not.
    pub async fn resign(&self, options: ResignOptions) -> Result<ResignationResponse, ClientError> {
        let keep = options.keep_renewing;
        self.call(move |sandbox, c| Box::pin(sandbox.resign(c, keep)))
            .await?
            .map_err(Into::into)
    }

    /// Reads who leads now; `None` when the position is free.
    pub async fn current_leader(&self) -> Result<Option<Leader>, ClientError> {
        self.call(|sandbox, c| Box::pin(sandbox.current_leader(c)))
            .await?
            .map_err(Into::into)
    }

    /// Starts pushing [`LeadershipChange`]s to [`Self::events`]
    /// subscribers; returns the leader at the moment observation began.
    pub async fn observe(&self) -> Result<Option<Leader>, ClientError> {
        self.call(|sandbox, c| Box::pin(sandbox.observe(c)))
            .await?
            .map_err(Into::into)
    }

    pub async fn unobserve(&self) -> Result<(), ClientError> {
        self.call(|sandbox, c| Box::pin(sandbox.unobserve(c))).await
    }

    /// All of this candidate's events from now on, in order: elections,
    /// renewals, losses, renewal failures, campaign results and (while
    /// observing) leadership changes. Ends if the sandbox stops.
    pub fn events(&self) -> mpsc::UnboundedReceiver<CandidateEvent> {
        self.mirror.subscribe()
    }

    /// Only the leadership changes (while observing).
    pub fn leadership_changes(&self) -> impl futures::Stream<Item = LeadershipChange> + use<> {
        let events = self.events();
        futures::stream::unfold(events, |mut events| async move {
            loop {
                match events.recv().await? {
                    CandidateEvent::LeadershipChanged(change) => return Some((change, events)),
                    _ => continue,
                }
            }
        })
    }

    /// Renew every `period` for `term` after each elected campaign, with no
    /// call needed; `None` turns renewal off.
    pub async fn set_automatic_renewal(
        &self,
        options: Option<AutomaticRenewal>,
    ) -> Result<(), ClientError> {
        let options = options.map(|o| RenewalOptions {
            term_ms: millis(o.term),
            period_ms: millis(o.period),
        });
        self.call(move |sandbox, c| Box::pin(sandbox.set_automatic_renewal(c, options)))
            .await?
            .map_err(Into::into)
    }

    /// The latest campaign result, renewals included. Answers at once.
    pub fn last_known_campaign_result(&self) -> Option<CampaignResponse> {
        self.mirror.last_result()
    }

    /// Whether this candidate holds an unexpired lease, by the local clock.
    /// Answers at once, also while a campaign is blocked.
    pub fn is_leader(&self) -> bool {
        self.mirror.valid_lease().is_some()
    }

    /// The fencing token of the current lease; changes at every renewal.
    pub fn current_fencing_token(&self) -> Option<Hlc> {
        self.mirror.fencing_token()
    }

    /// Campaigns for at most `max_term`, writes `update(current value)` to
    /// `key` (`None` deletes it) under the fencing token, retrying until the
    /// fenced write lands, and always resigns. `update` may run more than
    /// once. Dropping the future cancels the campaign part.
    pub async fn campaign_and_update_value(
        &self,
        key: impl Into<Vec<u8>>,
        update: impl FnMut(Option<Vec<u8>>) -> Option<Vec<u8>> + Send + 'static,
        max_term: Duration,
        timeout: Option<Duration>,
    ) -> Result<(), ClientError> {
        let key = key.into();
        let max_term_ms = millis(max_term);
        let timeout_ms = timeout.map(millis);
        let cancel = CancellationToken::new();
        let _cancel_on_drop = cancel.clone().drop_guard();
        let update = Box::new(update);
        self.call(move |sandbox, c| {
            Box::pin(async move {
                sandbox
                    .campaign_and_update_value(c, &key, update, max_term_ms, timeout_ms, cancel)
                    .await
            })
        })
        .await?
        .map_err(Into::into)
    }

    /// Runs `call` in the sandbox, after the calls queued before it.
    async fn call<T: Send + 'static>(
        &self,
        call: impl for<'a> FnOnce(
            &'a mut Sandbox,
            CandidateHandle,
        ) -> BoxFuture<'a, wasmtime::Result<T>>
        + Send
        + 'static,
    ) -> Result<T, ClientError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |sandbox, candidate| {
            Box::pin(async move {
                match call(sandbox, candidate).await {
                    Ok(value) => {
                        let _ = reply.send(Ok(value));
                        Ok(())
                    }
                    Err(trap) => {
                        let reason = crate::errors::one_line(&trap);
                        let _ = reply.send(Err(reason.clone()));
                        Err(reason)
                    }
                }
            })
        });
        self.run_job(job, answer).await
    }

    /// Queues `job` and waits for what it sends to `answer`.
    async fn run_job<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, String>>,
    ) -> Result<T, ClientError> {
        if self.jobs.send(job).is_err() {
            return Err(self.stopped());
        }
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(reason)) => Err(ClientError::SandboxFailed(reason)),
            Err(_) => Err(self.stopped()),
        }
    }

    fn stopped(&self) -> ClientError {
        ClientError::SandboxFailed(
            self.mirror
                .failure()
                .unwrap_or_else(|| "the candidate is no longer running".into()),
        )
    }
}

/// Resigns a win whose campaign's caller went away, keeping the renewal
/// options but not their schedule.
async fn give_up_unwanted_win(
    sandbox: &mut Sandbox,
    candidate: CandidateHandle,
) -> wasmtime::Result<()> {
    let renewal = sandbox.automatic_renewal(candidate).await?;
    let _ = sandbox.resign(candidate, false).await?;
    let _ = sandbox.set_automatic_renewal(candidate, renewal).await?;
    Ok(())
}

/// Whole milliseconds, saturating; sub-millisecond values become 0 and are
/// refused by the candidate as invalid arguments.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
