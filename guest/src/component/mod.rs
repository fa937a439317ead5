//! The component face of the elector: wit-bindgen glue only. Each export
//! converts its arguments, runs the plain-Rust candidate to completion on
//! the little executor in `executor.rs`, and converts the result back.

mod convert;
mod executor;
mod imports;

use core::cell::RefCell;
use core::time::Duration;

use convert::{from_wit, to_wit};
use executor::block_on;
use imports::{WasiClock, WitCancel, WitEvents, WitStore, WitUpdater};

wit_bindgen::generate!({
    world: "elector",
    path: "../wit",
    // wasi:io and wasi:clocks come from wit/deps, shared with the host.
    generate_all,
});

use elector::election::callbacks::{Cancellation, EventSink, ValueUpdater};
use elector::election::election_types as wit;
use exports::elector::election::leader_election as api;

type Core = crate::Candidate<WitStore, WasiClock, WitEvents>;

struct Elector;

impl api::Guest for Elector {
    type Candidate = CandidateResource;
}

/// A candidate resource. `RefCell` because export methods take `&self`; the
/// component model runs one call per instance at a time, so the borrow is
/// never contended.
struct CandidateResource {
    core: RefCell<Core>,
}

impl CandidateResource {
    fn with<T>(&self, run: impl FnOnce(&mut Core) -> T) -> T {
        run(&mut self.core.borrow_mut())
    }
}

fn millis(ms: Option<u64>) -> Option<Duration> {
    ms.map(Duration::from_millis)
}

impl api::GuestCandidate for CandidateResource {
    fn create(
        options: api::CandidateOptions,
        events: EventSink,
    ) -> Result<api::Candidate, wit::ElectionError> {
        let options = from_wit::candidate_options(options);
        let core = crate::Candidate::new(options, WitStore, WasiClock, WitEvents(events))
            .map_err(to_wit::election_error)?;
        Ok(api::Candidate::new(CandidateResource {
            core: RefCell::new(core),
        }))
    }

    fn candidate_name(&self) -> String {
        self.with(|c| c.candidate_name().to_owned())
    }

    fn try_campaign(&self, term_ms: u64) -> Result<wit::CampaignResponse, wit::ElectionError> {
        self.with(|c| block_on(c.try_campaign(term_ms)))
            .map(to_wit::campaign_response)
            .map_err(to_wit::election_error)
    }

    fn campaign(
        &self,
        term_ms: u64,
        timeout_ms: Option<u64>,
        cancel: Option<&Cancellation>,
    ) -> Result<wit::CampaignResponse, wit::ElectionError> {
        let cancel = cancel.map(WitCancel);
        self.with(|c| block_on(c.campaign(term_ms, millis(timeout_ms), cancel.as_ref())))
            .map(to_wit::campaign_response)
            .map_err(to_wit::election_error)
    }

    fn resign(&self, keep_renewing: bool) -> Result<wit::ResignationResponse, wit::ElectionError> {
        self.with(|c| block_on(c.resign(keep_renewing)))
            .map(|r| wit::ResignationResponse { success: r.success })
            .map_err(to_wit::election_error)
    }

    fn current_leader(&self) -> Result<Option<wit::Leader>, wit::ElectionError> {
        self.with(|c| block_on(c.current_leader()))
            .map(|leader| leader.map(to_wit::leader))
            .map_err(to_wit::election_error)
    }

    fn observe(&self) -> Result<Option<wit::Leader>, wit::ElectionError> {
        self.with(|c| block_on(c.observe()))
            .map(|leader| leader.map(to_wit::leader))
            .map_err(to_wit::election_error)
    }

    fn unobserve(&self) {
        self.with(|c| c.unobserve());
    }

    fn set_automatic_renewal(
        &self,
        options: Option<wit::RenewalOptions>,
    ) -> Result<(), wit::ElectionError> {
        let options = options.map(|o| crate::RenewalOptions {
            term_ms: o.term_ms,
            period_ms: o.period_ms,
        });
        self.with(|c| c.set_automatic_renewal(options))
            .map_err(to_wit::election_error)
    }

    fn automatic_renewal(&self) -> Option<wit::RenewalOptions> {
        self.with(|c| c.automatic_renewal())
            .map(|o| wit::RenewalOptions {
                term_ms: o.term_ms,
                period_ms: o.period_ms,
            })
    }

    fn last_known_campaign_result(&self) -> Option<wit::CampaignResponse> {
        self.with(|c| c.last_known_campaign_result())
            .map(to_wit::campaign_response)
    }

    fn is_leader(&self) -> bool {
        self.with(|c| c.is_leader())
    }

    fn current_fencing_token(&self) -> Option<wit::Hlc> {
        self.with(|c| c.current_fencing_token()).map(to_wit::hlc)
    }

    fn campaign_and_update_value(
        &self,
        key: Vec<u8>,
        updater: &ValueUpdater,
        max_term_ms: u64,
        timeout_ms: Option<u64>,
        cancel: Option<&Cancellation>,
    ) -> Result<(), wit::ElectionError> {
        let cancel = cancel.map(WitCancel);
        let mut updater = WitUpdater(updater);
        self.with(|c| {
            block_on(c.campaign_and_update_value(
                &key,
                &mut updater,
                max_term_ms,
                millis(timeout_ms),
                cancel.as_ref(),
            ))
        })
        .map_err(to_wit::election_error)
    }

    fn tick(&self) -> Option<u64> {
        self.with(|c| block_on(c.tick())).map(|instant| instant.0)
    }
}

export!(Elector);
