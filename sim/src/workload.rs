//! What each simulated candidate does: campaign and, while leading, write
//! the shared key under its fencing token; or run campaign-and-update-value
//! on the counter. It also plays the host's part: it calls `tick` when the
//! candidate asks, so automatic renewal runs.

use std::cell::RefCell;
use std::rc::Rc;

use elector_guest::sabotage::Sabotage;
use elector_guest::types::*;
use elector_guest::{Candidate, Clock, EventSink, NeverCancel, Store};

use crate::client::{SimClient, SimClock, sleep};
use crate::history::{COUNTER, POSITION, SHARED};
use crate::rng::Rng;
use crate::world::{MS, Nanos, World};

#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub term_ms: u64,
    pub sabotage: Sabotage,
}

/// Events go nowhere (the checker looks at the store, not at what
/// candidates say about themselves), except into the trace.
pub struct Quiet {
    world: Rc<World>,
    name: String,
    /// The local end of the latest lease, as the candidate announced it.
    lease_end: Rc<std::cell::Cell<Option<Instant>>>,
}

impl EventSink for Quiet {
    fn deliver(&mut self, event: CandidateEvent) {
        match &event {
            CandidateEvent::Elected(lease) | CandidateEvent::Renewed(lease) => {
                self.lease_end.set(Some(lease.valid_until));
            }
            _ => {}
        }
        if crate::history::trace_enabled() && !matches!(event, CandidateEvent::CampaignResult(_)) {
            eprintln!(
                "{:>9.3} ms {}: {event:?}",
                self.world.now.get() as f64 / 1e6,
                self.name
            );
        }
    }
}

type SimCandidate = Candidate<SimClient, SimClock, Quiet>;

fn increment(current: Option<&[u8]>) -> Option<Vec<u8>> {
    let value: u64 = current
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((value + 1).to_string().into_bytes())
}

/// One life of a candidate, from start to crash (the future is dropped) or
/// forever.
pub async fn live(world: Rc<World>, client: SimClient, name: String, params: Params, mut rng: Rng) {
    let clock = SimClock {
        world: world.clone(),
        skew: client.skew,
        origin: world.now.get(),
    };
    let options = CandidateOptions {
        position: POSITION.into(),
        name: name.clone(),
        session_id: None,
        safety_margin_ms: None,
        request_lifetime_ms: Some(client.request_lifetime() / MS),
    };
    let lease_end = Rc::new(std::cell::Cell::new(None));
    let mut candidate = Candidate::new(
        options,
        client.clone(),
        clock.clone(),
        Quiet {
            world: world.clone(),
            name: name.clone(),
            lease_end: lease_end.clone(),
        },
    )
    .expect("valid candidate options");
    candidate.sabotage(params.sabotage);
    let renewal = RenewalOptions {
        term_ms: params.term_ms,
        period_ms: params.term_ms / 3,
    };
    let term = params.term_ms * MS;
    let mut sequence = 0u64;
    loop {
        if rng.chance(0.35) {
            update_counter(&world, &mut candidate, params).await;
        } else {
            candidate
                .set_automatic_renewal(Some(renewal))
                .expect("valid renewal options");
            lead(
                &world,
                &client,
                &clock,
                &mut candidate,
                &name,
                params,
                &mut rng,
                &mut sequence,
                term,
                &lease_end,
            )
            .await;
        }
        // A little breathing room between operations.
        drive(&mut candidate, &clock, rng.between(0, term / 4)).await;
    }
}

async fn update_counter(world: &Rc<World>, candidate: &mut SimCandidate, params: Params) {
    world.history.borrow_mut().updates_unknown += 1;
    let result = candidate
        .campaign_and_update_value(
            COUNTER,
            &mut increment,
            params.term_ms,
            None,
            None::<&NeverCancel>,
        )
        .await;
    if std::env::var_os("ELECTOR_SIM_TRACE").is_some() {
        eprintln!(
            "{:>8.3} ms update by {} -> {result:?}",
            world.now.get() as f64 / 1e6,
            candidate.candidate_name()
        );
    }
    if result.is_ok() {
        let mut history = world.history.borrow_mut();
        history.updates_unknown -= 1;
        history.updates_acknowledged += 1;
    }
}

#[allow(clippy::too_many_arguments)]
async fn lead(
    world: &Rc<World>,
    client: &SimClient,
    clock: &SimClock,
    candidate: &mut SimCandidate,
    name: &str,
    params: Params,
    rng: &mut Rng,
    sequence: &mut u64,
    term: Nanos,
    lease_end: &Rc<std::cell::Cell<Option<Instant>>>,
) {
    // No timeout: a campaign blocks until elected, as users run it, so a
    // campaign that cannot wake up shows as a liveness violation.
    if candidate
        .campaign(params.term_ms, None, None::<&NeverCancel>)
        .await
        .is_err()
    {
        return;
    }
    let end = world.now.get() + rng.between(term / 2, term * 3);
    while world.now.get() < end {
        if !candidate.is_leader() {
            return;
        }
        // (c): acting as leader now, is that what the store says?
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms {name}: writes as leader",
                world.now.get() as f64 / 1e6
            );
        }
        check_belief(world, name, clock, lease_end.get(), params.term_ms);
        let token = candidate
            .current_fencing_token()
            .expect("a leader has a token");
        *sequence += 1;
        let value = format!("{name}|{token}|{sequence}");
        let options = SetOptions {
            condition: SetCondition::Unconditional,
            expiry_ms: None,
            fencing_token: (!params.sabotage.no_fencing).then_some(token),
        };
        let _ = client.set(SHARED, value.as_bytes(), &options).await;
        drive(candidate, clock, term / 5).await;
    }
    if rng.chance(0.5) {
        let _ = candidate.resign(false).await;
    }
}

/// Judges a candidate about to act as leader. Property (c): it must not
/// act past the end of its term (the last winning write's send time plus
/// the term), give or take 2% for the drift of its clock. Also counts the
/// times the store already disagrees within the term.
fn check_belief(
    world: &World,
    name: &str,
    clock: &SimClock,
    lease_end: Option<Instant>,
    term_ms: u64,
) {
    let now = world.now.get();
    let mut history = world.history.borrow_mut();
    history.leader_actions += 1;
    if let Some(valid_until) = lease_end {
        // The lease ends margin before the term: add it back for the term's end.
        let margin = elector_guest::timing::safety_margin(term_ms, None);
        let term_end = clock.true_time(valid_until.saturating_add(margin).0);
        let tolerance = term_ms * MS / 50;
        if now > term_end + tolerance {
            history.false_beliefs.push(format!(
                "at {} ms {name} acts as leader {} ms after its term ended",
                now / MS,
                (now - term_end) / MS
            ));
        }
    }
    let store = world.store.borrow();
    let holder = store.peek(world.store_ms(), POSITION.as_bytes());
    if holder.map(|(value, _)| value) != Some(name.as_bytes()) {
        history.contradicted_beliefs += 1;
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms {name}: acts as leader but the store disagrees",
                now as f64 / 1e6
            );
        }
    }
}

/// Runs the candidate's background work (renewal, lease end) for
/// `duration` of true time, as a host driver would.
async fn drive(candidate: &mut SimCandidate, clock: &SimClock, duration: Nanos) {
    let until = clock.world.now.get() + duration;
    loop {
        let next = candidate.tick().await;
        if clock.world.now.get() >= until {
            return;
        }
        let wait = sleep(&clock.world, until - clock.world.now.get());
        match next {
            Some(next) => {
                let tick_due = clock.sleep_until(next);
                first_of(wait, tick_due).await;
            }
            None => wait.await,
        }
    }
}

/// Resolves when either resolves.
pub(crate) async fn first_of(
    a: impl std::future::Future<Output = ()>,
    b: impl std::future::Future<Output = ()>,
) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Shared between a supervisor and the schedule: whether the candidate is
/// alive now.
pub type Alive = Rc<RefCell<bool>>;
