//! A component of the `elector` world that misbehaves on purpose, for the
//! host's isolation tests. Its candidates do nothing useful; when one named
//! `trap`, `spin` or `hog` campaigns, it traps, loops forever or allocates
//! until its memory limit, respectively.

#[cfg(target_arch = "wasm32")]
mod component {
    use core::cell::RefCell;

    wit_bindgen::generate!({
        world: "elector",
        path: "../../wit",
        // wasi:io and wasi:clocks come from wit/deps, shared with the host.
        generate_all,
    });

    use elector::election::callbacks::{Cancellation, EventSink, ValueUpdater};
    use elector::election::election_types as wit;
    use exports::elector::election::leader_election as api;

    struct Rogue;

    impl api::Guest for Rogue {
        type Candidate = RogueCandidate;
    }

    struct RogueCandidate {
        name: String,
        hoard: RefCell<Vec<Vec<u8>>>,
    }

    impl RogueCandidate {
        fn misbehave(&self) -> Result<wit::CampaignResponse, wit::ElectionError> {
            match self.name.as_str() {
                "trap" => panic!("rogue candidate traps on purpose"),
                "spin" => {
                    let mut counter = 0u64;
                    loop {
                        counter = core::hint::black_box(counter.wrapping_add(1));
                    }
                }
                "hog" => loop {
                    self.hoard.borrow_mut().push(vec![1u8; 1 << 20]);
                },
                _ => Ok(wit::CampaignResponse {
                    is_leader: false,
                    fencing_token: None,
                }),
            }
        }
    }

    impl api::GuestCandidate for RogueCandidate {
        fn create(
            options: api::CandidateOptions,
            _events: EventSink,
        ) -> Result<api::Candidate, wit::ElectionError> {
            Ok(api::Candidate::new(RogueCandidate {
                name: options.name,
                hoard: RefCell::new(Vec::new()),
            }))
        }
        fn candidate_name(&self) -> String {
            self.name.clone()
        }
        fn try_campaign(&self, _term_ms: u64) -> Result<wit::CampaignResponse, wit::ElectionError> {
            self.misbehave()
        }
        fn campaign(
            &self,
            _term_ms: u64,
            _timeout_ms: Option<u64>,
            _cancel: Option<&Cancellation>,
        ) -> Result<wit::CampaignResponse, wit::ElectionError> {
            self.misbehave()
        }
        fn resign(&self, _keep: bool) -> Result<wit::ResignationResponse, wit::ElectionError> {
            Ok(wit::ResignationResponse { success: false })
        }
        fn current_leader(&self) -> Result<Option<wit::Leader>, wit::ElectionError> {
            Ok(None)
        }
        fn observe(&self) -> Result<Option<wit::Leader>, wit::ElectionError> {
            Ok(None)
        }
        fn unobserve(&self) {}
        fn set_automatic_renewal(
            &self,
            _options: Option<wit::RenewalOptions>,
        ) -> Result<(), wit::ElectionError> {
            Ok(())
        }
        fn automatic_renewal(&self) -> Option<wit::RenewalOptions> {
            None
        }
        fn last_known_campaign_result(&self) -> Option<wit::CampaignResponse> {
            None
        }
        fn is_leader(&self) -> bool {
            false
        }
        fn current_fencing_token(&self) -> Option<elector::election::state_store::Hlc> {
            None
        }
        fn campaign_and_update_value(
            &self,
            _key: Vec<u8>,
            _updater: &ValueUpdater,
            _max_term_ms: u64,
            _timeout_ms: Option<u64>,
            _cancel: Option<&Cancellation>,
        ) -> Result<(), wit::ElectionError> {
            self.misbehave().map(|_| ())
        }
        fn tick(&self) -> Option<u64> {
            None
        }
    }

    export!(Rogue);
}
