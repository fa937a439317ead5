//! The election as an operator calls it: plain blocking calls, each bounded
//! by a timeout, run on [`crate::executor::block_on`].

use core::time::Duration;

use elector_guest::types::{CampaignResponse, CandidateOptions, ElectionError, Hlc};
use elector_guest::{Candidate, NeverCancel};

use crate::executor::block_on;
use crate::ports::{AioStore, LogEvents, WasiClock};

/// How a candidate is set up inside an operator.
#[derive(Clone, Debug)]
pub struct AioOptions {
    /// The key every candidate for this position campaigns on.
    pub position: String,
    /// Stored as the lock value; non-empty, without `:`. Each instance of
    /// an operator needs its own (AIO gives instances no identity, so an
    /// operator makes one, see `examples/aio-counter`).
    pub name: String,
    pub session_id: Option<String>,
    /// `None`: a tenth of the term, at most one second.
    pub safety_margin_ms: Option<u64>,
    /// `None`: zero (see `elector:election`'s `request-lifetime-ms`).
    pub request_lifetime_ms: Option<u64>,
    /// The `timeout` of every state-store request.
    pub request_timeout: Duration,
    /// How often a waiting campaign re-reads the position.
    pub poll_interval: Duration,
    /// The `context` of the candidate's log lines.
    pub log_context: String,
}

impl AioOptions {
    /// Defaults: 2 s requests, 50 ms polling, the position as log context.
    pub fn new(position: impl Into<String>, name: impl Into<String>) -> AioOptions {
        let position = position.into();
        AioOptions {
            log_context: format!("elector/{position}"),
            position,
            name: name.into(),
            session_id: None,
            safety_margin_ms: None,
            request_lifetime_ms: None,
            request_timeout: Duration::from_secs(2),
            poll_interval: Duration::from_millis(50),
        }
    }
}

/// One candidate for one position, inside one operator instance.
pub struct AioCandidate {
    core: Candidate<AioStore, WasiClock, LogEvents>,
}

impl AioCandidate {
    pub fn new(options: AioOptions) -> Result<AioCandidate, ElectionError> {
        if options.request_timeout.is_zero() || options.poll_interval.is_zero() {
            return Err(ElectionError::InvalidArgument(
                "request timeout and poll interval must be positive".into(),
            ));
        }
        let store = AioStore {
            request_timeout: options.request_timeout,
            poll_interval: options.poll_interval,
        };
        let core = Candidate::new(
            CandidateOptions {
                position: options.position,
                name: options.name,
                session_id: options.session_id,
                safety_margin_ms: options.safety_margin_ms,
                request_lifetime_ms: options.request_lifetime_ms,
            },
            store,
            WasiClock,
            LogEvents {
                context: options.log_context,
            },
        )?;
        Ok(AioCandidate { core })
    }

    /// One attempt to become, or stay, leader for `term_ms`: one `set`.
    /// The normal use, once per message.
    pub fn try_campaign(&mut self, term_ms: u64) -> Result<CampaignResponse, ElectionError> {
        block_on(self.core.try_campaign(term_ms))
    }

    /// Waits until elected, for at most `timeout`.
    pub fn campaign(
        &mut self,
        term_ms: u64,
        timeout: Duration,
    ) -> Result<CampaignResponse, ElectionError> {
        block_on(
            self.core
                .campaign(term_ms, Some(timeout), None::<&NeverCancel>),
        )
    }

    /// Gives up the position if held; `false` when it was not.
    pub fn resign(&mut self) -> Result<bool, ElectionError> {
        block_on(self.core.resign(false)).map(|response| response.success)
    }

    /// The holder's lock value (`name` or `name:session-id`), if any.
    pub fn current_leader(&mut self) -> Result<Option<String>, ElectionError> {
        block_on(self.core.current_leader()).map(|leader| {
            leader.map(|leader| match leader.session_id {
                Some(session) => format!("{}:{session}", leader.name),
                None => leader.name,
            })
        })
    }

    /// True while this candidate's lease is valid, by the local clock.
    pub fn is_leader(&self) -> bool {
        self.core.is_leader()
    }

    /// The current lease's fencing token, while leading.
    pub fn fencing_token(&self) -> Option<Hlc> {
        self.core.current_fencing_token()
    }

    /// Campaigns for at most `max_term_ms` (waiting at most `timeout`),
    /// writes `update(current value of key)` fenced by the lease (`None`
    /// deletes), retrying until a fenced write lands, and always resigns.
    pub fn campaign_and_update_value(
        &mut self,
        key: &[u8],
        mut update: impl FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
        max_term_ms: u64,
        timeout: Duration,
    ) -> Result<(), ElectionError> {
        block_on(self.core.campaign_and_update_value(
            key,
            &mut update,
            max_term_ms,
            Some(timeout),
            None::<&NeverCancel>,
        ))
    }
}
