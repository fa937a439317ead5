//! What each simulated candidate does, as users drive the elector: campaign
//! and, while leading, write the shared key under its fencing token (now
//! and then reading the leader, a call that can hold up its ticks, or
//! trying again with a shorter term); or run campaign-and-update-value on
//! the counter. It also plays the host's part: it calls `tick` when the
//! candidate asks, so automatic renewal runs.
//!
//! Every claim a candidate makes goes into the history: its events, and
//! each time it says it leads before acting. Each life of a candidate has
//! its own lock value (`name:life`, a session id per process, as
//! `elector campaign` uses), so a claim is always tied to one life.

use std::cell::RefCell;
use std::rc::Rc;

use elector_guest::sabotage::Sabotage;
use elector_guest::types::*;
use elector_guest::{Candidate, EventSink, NeverCancel, StateStore};
use elector_statestore as ss;

use crate::client::SimClient;
use crate::clock::SimClock;
use crate::connection::{ReleaseConfig, ReleaseFlaw};
use crate::driver::{drive, first_of};
use crate::history::{COUNTER, Claim, POSITION, SHARED};
use crate::mirror::Mirror;
use crate::plan::KeepAlive;
use crate::rng::Rng;
use crate::world::{MS, World};

/// How one candidate is configured: candidates on one position may differ.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub term_ms: u64,
    pub renewal_period_ms: u64,
    pub margin_ms: Option<u64>,
    pub sabotage: Sabotage,
    /// Whether its connection releases the position on disconnect, how,
    /// and with which defect of the client's side of the rule.
    pub release: Option<(ReleaseConfig, ReleaseFlaw)>,
    /// Its connection's keep-alive (how soon the broker notices a crash).
    pub keep_alive: KeepAlive,
}

/// Which candidate campaigns now, with which lock value: what property
/// (d) watches.
pub type Campaigning = Rc<RefCell<Vec<Option<Vec<u8>>>>>;

/// The event sink: every lease event becomes a claim, in true time.
pub struct Claims {
    world: Rc<World>,
    clock: SimClock,
    lock_value: Vec<u8>,
    client: u32,
    /// The host's view of the lease (see `mirror.rs`): a loss it reported
    /// already is not reported twice, and a lease reported again after it
    /// is a new one.
    mirror: Mirror,
}

impl EventSink for Claims {
    fn deliver(&mut self, event: CandidateEvent) {
        let leads_until = |event, lease: &Lease| Claim::LeadsUntil {
            event,
            until: self.clock.true_time(lease.valid_until.0),
        };
        let leading = self.mirror.borrow().leading;
        let claim = match &event {
            CandidateEvent::Elected(lease) => Some(leads_until("elected", lease)),
            CandidateEvent::Renewed(lease) | CandidateEvent::LeaseShortened(lease) if !leading => {
                Some(leads_until("elected", lease))
            }
            CandidateEvent::Renewed(lease) => Some(leads_until("renewed", lease)),
            CandidateEvent::LeaseShortened(lease) => Some(leads_until("lease-shortened", lease)),
            CandidateEvent::LeadershipLost(_) if !leading => None,
            CandidateEvent::LeadershipLost(_) => Some(Claim::Lost),
            _ => None,
        };
        match &claim {
            Some(Claim::LeadsUntil { event, .. }) => {
                let mut mirror = self.mirror.borrow_mut();
                if *event == "elected" {
                    mirror.trusted_since = crate::mirror::trusted_since(&self.world, self.client);
                }
                mirror.leading = true;
            }
            Some(Claim::Lost) => self.mirror.borrow_mut().leading = false,
            _ => {}
        }
        let now = self.world.now.get();
        if let Some(claim) = claim {
            self.world
                .history
                .borrow_mut()
                .claim(now, &self.lock_value, claim);
        }
        if crate::history::trace_enabled() && !matches!(event, CandidateEvent::CampaignResult(_)) {
            eprintln!(
                "{:>9.3} ms {}: {event:?}",
                now as f64 / 1e6,
                String::from_utf8_lossy(&self.lock_value)
            );
        }
    }
}

type SimCandidate = Candidate<SimClient, SimClock, Claims>;

fn increment(current: Option<&[u8]>) -> Option<Vec<u8>> {
    let value: u64 = current
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((value + 1).to_string().into_bytes())
}

/// One life of a candidate, from start to crash (the future is dropped) or
/// forever.
pub async fn live(
    world: Rc<World>,
    client: SimClient,
    name: String,
    life: u32,
    params: Params,
    campaigning: Campaigning,
    mut rng: Rng,
) {
    let clock = SimClock::started(&world, client.skew);
    let options = CandidateOptions {
        position: POSITION.into(),
        name: name.clone(),
        session_id: Some(life.to_string()),
        safety_margin_ms: params.margin_ms,
        request_lifetime_ms: Some(client.request_lifetime() / MS),
    };
    let lock_value = format!("{name}:{life}").into_bytes();
    // A new process: a new connection, with a Will that releases this
    // life's hold if the connection is lost.
    let will = params.release.map(|(config, flaw)| {
        let command = ss::client::vdel_command(POSITION.as_bytes(), &lock_value);
        (command, config, flaw)
    });
    world.start_life(client.id, u64::from(life), will, clock.reading());
    let mirror = Mirror::default();
    let claims = Claims {
        world: world.clone(),
        clock: clock.clone(),
        lock_value: lock_value.clone(),
        client: client.id,
        mirror: mirror.clone(),
    };
    let mut candidate =
        Candidate::new(options, client.clone(), clock.clone(), claims).expect("valid options");
    #[cfg(feature = "sabotage")]
    candidate.sabotage(params.sabotage);
    let renewal = RenewalOptions {
        term_ms: params.term_ms,
        period_ms: params.renewal_period_ms,
    };
    let mut me = Me {
        world: &world,
        client: &client,
        clock: &clock,
        candidate: &mut candidate,
        lock_value: &lock_value,
        params,
        rng: &mut rng,
        sequence: 0,
        campaigning: &campaigning,
    };
    let term = params.term_ms * MS;
    let work = async {
        loop {
            if me.rng.chance(0.3) {
                me.update_counter().await;
            } else {
                me.candidate
                    .set_automatic_renewal(Some(renewal))
                    .expect("valid renewal options");
                me.lead().await;
            }
            // A little breathing room between operations.
            let pause = me.rng.between(0, term / 4);
            drive(me.candidate, me.clock, pause).await;
        }
    };
    let follow = crate::mirror::follow_trust(world.clone(), client.id, lock_value.clone(), mirror);
    first_of(work, first_of(client.probe(), follow)).await;
}

/// One life's state, for its operations.
struct Me<'a> {
    world: &'a Rc<World>,
    client: &'a SimClient,
    clock: &'a SimClock,
    candidate: &'a mut SimCandidate,
    lock_value: &'a [u8],
    params: Params,
    rng: &'a mut Rng,
    sequence: u64,
    campaigning: &'a Campaigning,
}

impl Me<'_> {
    /// campaign-and-update-value on the counter, sometimes with a timeout,
    /// counted as a caller would: acknowledged, unknown (`outcome-unknown`,
    /// or a crash mid-call), or not applied (any other error, as the API
    /// promises).
    async fn update_counter(&mut self) {
        self.world.history.borrow_mut().updates_unknown += 1;
        let term_ms = self.params.term_ms;
        let timeout = self
            .rng
            .chance(0.5)
            .then(|| std::time::Duration::from_millis(self.rng.between(term_ms, 4 * term_ms)));
        let result = self
            .candidate
            .campaign_and_update_value(
                COUNTER,
                &mut increment,
                term_ms,
                timeout,
                None::<&NeverCancel>,
            )
            .await;
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>8.3} ms update by {} -> {result:?}",
                self.world.now.get() as f64 / 1e6,
                String::from_utf8_lossy(self.lock_value)
            );
        }
        let mut history = self.world.history.borrow_mut();
        match result {
            Ok(()) => {
                history.updates_unknown -= 1;
                history.updates_acknowledged += 1;
            }
            Err(ElectionError::OutcomeUnknown) => {}
            Err(_) => history.updates_unknown -= 1,
        }
    }

    /// Campaigns, then acts as leader for a while, then maybe resigns.
    async fn lead(&mut self) {
        // No timeout: a campaign blocks until elected, as users run it, so
        // a campaign that cannot wake up shows as a liveness violation.
        self.campaigning.borrow_mut()[self.client.id as usize] = Some(self.lock_value.to_vec());
        let elected = self
            .candidate
            .campaign(self.params.term_ms, None, None::<&NeverCancel>)
            .await;
        self.campaigning.borrow_mut()[self.client.id as usize] = None;
        if elected.is_err() {
            return;
        }
        let term = self.params.term_ms * MS;
        let end = self.world.now.get() + self.rng.between(term / 2, term * 3);
        while self.world.now.get() < end {
            if !self.candidate.is_leader() {
                return;
            }
            self.act_as_leader().await;
            let roll = self.rng.unit();
            if roll < 0.1 {
                // A call that holds up the candidate's ticks while the
                // store is slow to answer.
                let _ = self.candidate.current_leader().await;
            } else if roll < 0.14 {
                let shorter = self.rng.between(term / MS / 3, term / MS).max(2);
                let _ = self.candidate.try_campaign(shorter).await;
            } else if roll < 0.17 {
                self.update_counter().await;
            }
            drive(self.candidate, self.clock, term / 5).await;
        }
        if self.rng.chance(0.5) {
            let _ = self.candidate.resign(false).await;
        }
    }

    /// Writes the shared key with the current fencing token, after
    /// claiming (in the history) to lead now.
    async fn act_as_leader(&mut self) {
        let now = self.world.now.get();
        let token = self
            .candidate
            .current_fencing_token()
            .expect("a leader has a token");
        self.world.history.borrow_mut().claim(
            now,
            self.lock_value,
            Claim::Acting {
                token: token.clone(),
            },
        );
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms {}: writes as leader",
                now as f64 / 1e6,
                String::from_utf8_lossy(self.lock_value)
            );
        }
        self.sequence += 1;
        let value = format!(
            "{}|{token}|{}",
            String::from_utf8_lossy(self.lock_value),
            self.sequence
        );
        let options = SetOptions {
            condition: SetCondition::Unconditional,
            expiry_ms: None,
            fencing_token: (!self.params.sabotage.no_fencing).then_some(token),
        };
        let _ = self.client.set(SHARED, value.as_bytes(), &options).await;
    }
}
