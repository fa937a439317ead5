//! One schedule: a seed picks the candidates, their clocks, the network and
//! every fault; the world runs; the checker judges the history.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use elector_guest::StateStore;
use elector_guest::sabotage::Sabotage;

use crate::checker::{self, Liveness, Progress, Violation};
use crate::client::SimClient;
use crate::clock::{Skew, sleep};
use crate::connection::{ReleaseConfig, ReleaseFlaw};
use crate::driver::first_of;
use crate::event::StoreRestart;
use crate::executor::Task;
use crate::history::{COUNTER, Claim, POSITION};
use crate::link::{Link, LinkState};
use crate::plan::{KeepAlive, plan_crashes, plan_faults, plan_releases};
use crate::rng::Rng;
use crate::time::{DURATION, QUIET, SLOWEST_LINK};
use crate::workload::{self, Campaigning, Params};
use crate::world::{MS, Nanos, World};

/// Knobs beyond the seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Deliberate defects; only builds with the `sabotage` feature can
    /// apply them, and [`run`] refuses them in any other.
    pub sabotage: Sabotage,
    /// Lose every notification (to show the expiry timer matters).
    pub lose_all_notifications: bool,
    /// Tell candidates the request lifetime the host's MQTT client told
    /// before it was fixed, which the transport can outlive.
    pub understate_lifetime: bool,
    /// The store restarts once, before the quiet, in this way. Empty, it
    /// opens a window no election core can close; the store must keep its
    /// state, or wait out every lease it may have granted.
    pub restart_store: Option<RestartPlan>,
    /// A defect in the clients' side of release on disconnect.
    pub release_flaw: ReleaseFlaw,
}

/// How the planned store restart comes back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RestartPlan {
    /// Empty (an in-memory store with no lock-delay).
    Empty,
    /// Empty, holding absent keys for this many times the schedule's
    /// longest term (an in-memory store's `--lock-delay`).
    EmptyWithLockDelay { longest_terms: f64 },
    /// With everything the durable store wrote down.
    Restored,
}

/// What a schedule did, and what broke.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    pub candidates: usize,
    pub terms_ms: Vec<u64>,
    pub faults: u64,
    pub crashes: u64,
    pub external_releases: u64,
    pub requests: u64,
    pub elections: u64,
    pub shared_writes: usize,
    pub updates: u64,
    pub claims: u64,
    /// Connections with a Will the broker lost, Wills it published, and
    /// those that released a hold.
    pub broker_losses: u64,
    pub wills_published: u64,
    pub will_releases: u64,
    pub violations: Vec<Violation>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {} candidates, terms {:?} ms, {} faults, {} crashes, {} operator releases, \
             {} requests, {} elections, {} fenced writes, {} updates, {} claims checked, \
             {} Wills published ({} released a hold)",
            self.seed,
            self.candidates,
            self.terms_ms,
            self.faults,
            self.crashes,
            self.external_releases,
            self.requests,
            self.elections,
            self.shared_writes,
            self.updates,
            self.claims,
            self.wills_published,
            self.will_releases
        )?;
        for violation in &self.violations {
            write!(f, "\n  ({}) {}", violation.property, violation.detail)?;
        }
        if !self.violations.is_empty() {
            write!(
                f,
                "\n  reproduce: ELECTOR_SIM_TRACE=1 cargo run --release -p elector-sim -- --seed {}",
                self.seed
            )?;
        }
        Ok(())
    }
}

/// Draws one candidate's configuration: most use the schedule's term, some
/// a shorter or longer one; renewal periods and safety margins vary too,
/// within what the timing contract allows (a margin covers the clocks'
/// rate error of at most 0.5 %, plus the store's whole milliseconds).
fn draw_params(
    rng: &mut Rng,
    base_term_ms: u64,
    sabotage: Sabotage,
    release: Option<(ReleaseConfig, ReleaseFlaw)>,
    keep_alive: KeepAlive,
) -> Params {
    let term_ms = match rng.between(0, 9) {
        0 => base_term_ms / 2,
        1 => base_term_ms * 2,
        2 => base_term_ms * rng.between(3, 5),
        _ => base_term_ms,
    }
    .max(100);
    let margin_ms = rng.chance(0.3).then(|| term_ms / 150 + 2);
    let lease_ms = elector_guest::timing::lease_length(term_ms, margin_ms).as_millis() as u64;
    let renewal_period_ms = if rng.chance(0.5) {
        elector_guest::timing::default_renewal_period_ms(term_ms)
    } else {
        rng.between(lease_ms / 5, lease_ms / 2).max(1)
    };
    Params {
        term_ms,
        renewal_period_ms,
        margin_ms,
        sabotage,
        // Most candidates of a schedule with Wills carry one.
        release: release.filter(|_| rng.chance(0.8)),
        keep_alive,
    }
}

/// Release on disconnect for a schedule, in three of four: a Will Delay
/// Interval of 0.3 to 2 s (shorter than the host allows, to fit many
/// losses into a schedule; the rule scales with it), a session kept for
/// the delay or three times it, and the clients' request lifetime for a
/// published Will to land in.
fn draw_release(rng: &mut Rng, will_lifetime: Nanos) -> Option<ReleaseConfig> {
    if !rng.chance(0.75) {
        return None;
    }
    let delay = [300, 500, 1_000, 2_000][rng.between(0, 3) as usize] * MS;
    Some(ReleaseConfig {
        delay,
        session_expiry: delay * [1, 3][rng.between(0, 1) as usize],
        will_lifetime,
    })
}

pub fn run(seed: u64, options: Options) -> Outcome {
    assert!(
        cfg!(feature = "sabotage") || options.sabotage == Sabotage::default(),
        "sabotage needs elector-sim built with the `sabotage` feature"
    );
    let mut rng = Rng::new(seed);
    let candidates = rng.between(2, 5) as usize;
    let base_term_ms = rng.between(300, 2_000);
    let link = Link {
        state: LinkState::Up,
        generation: 0,
        loss: if options.lose_all_notifications {
            0.0
        } else {
            rng.unit() * 0.05
        },
        duplication: rng.unit() * 0.02,
        delay_min: rng.between(50_000, 500_000),
        delay_max: rng.between(MS, 20 * MS),
    };
    // One more link: the operator's.
    let world = World::new(rng.next_u64(), candidates + 1, link);
    if options.lose_all_notifications {
        world.drop_notifications.set(true);
    }
    let request_timeout = rng.between(200, 1_000) * MS;
    let will_lifetime = elector_statestore::protocol::request_lifetime(
        std::time::Duration::from_nanos(request_timeout),
        std::time::Duration::from_nanos(SLOWEST_LINK),
    );
    let release = draw_release(&mut rng, will_lifetime.as_nanos() as Nanos)
        .map(|config| (config, options.release_flaw));
    let keep_alive = KeepAlive {
        interval: rng.between(200, 1_000) * MS,
    };
    let params: Vec<Params> = (0..candidates)
        .map(|_| {
            draw_params(
                &mut rng,
                base_term_ms,
                options.sabotage,
                release,
                keep_alive,
            )
        })
        .collect();
    plan_faults(&world, &mut rng, candidates, keep_alive);
    if let Some(plan) = options.restart_store {
        let longest_term_ms = params.iter().map(|p| p.term_ms).max().unwrap_or(0);
        let how = match plan {
            RestartPlan::Empty => StoreRestart::Empty,
            RestartPlan::EmptyWithLockDelay { longest_terms } => {
                StoreRestart::EmptyHoldingNewPositions {
                    lock_delay_ms: (longest_term_ms as f64 * longest_terms) as u64,
                }
            }
            RestartPlan::Restored => StoreRestart::Restored,
        };
        let at = rng.between(2_000 * MS, QUIET - 3_000 * MS);
        world.schedule(at, crate::event::Event::StoreRestart(how));
    }

    let mut tasks: Vec<Option<Task>> = Vec::new();
    let clients: Vec<SimClient> = (0..=candidates)
        .map(|index| {
            // Wall clocks within 25 s of the store's: a client may push the
            // store's versions ahead by its offset, and another must still
            // see them within the protocol's minute.
            let skew = Skew {
                wall_offset_ms: rng.between(0, 50_000) as i64 - 25_000,
                rate: 1.0 + (rng.unit() - 0.5) * 0.01,
            };
            let mut client = SimClient::new(
                world.clone(),
                index as u32,
                skew,
                request_timeout,
                SLOWEST_LINK,
            );
            client.understate_lifetime = options.understate_lifetime;
            client
        })
        .collect();
    let campaigning: Campaigning = Rc::new(RefCell::new(vec![None; candidates]));
    for (index, client) in clients[..candidates].iter().cloned().enumerate() {
        let crashes = plan_crashes(&mut rng, params[index].term_ms);
        tasks.push(Some(Box::pin(supervise(
            world.clone(),
            client,
            format!("c{index}"),
            params[index],
            crashes,
            campaigning.clone(),
            rng.fork(),
        ))));
    }
    let operator = clients[candidates].clone();
    world.operators.borrow_mut().push(operator.id);
    let releases = plan_releases(&mut rng);
    tasks.push(Some(Box::pin(operate(world.clone(), operator, releases))));
    tasks.push(Some(Box::pin(reconnect_agent(
        world.clone(),
        clients.clone(),
    ))));

    let longest_term_ms = params
        .iter()
        .map(|p| p.term_ms)
        .max()
        .unwrap_or(base_term_ms);
    let lifetime = clients[0].request_lifetime();
    let liveness = Liveness {
        // Nobody holds the position for longer than the longest term (the
        // holder's key expires), plus the jittered grace, the longest
        // store backoff (2 s) of a candidate that met the faults, a
        // resignation in doubt from before the quiet, and two requests.
        // With Wills, a candidate that reconnected late also waits out a
        // Will that may still land (up to another lifetime).
        gap_bound: longest_term_ms * MS
            + 100 * MS
            + 2_000 * MS
            + lifetime
            + 2 * request_timeout
            + release.map_or(0, |_| lifetime),
        // A lost answer costs a timeout; the notification of the
        // candidate's own value then makes it try again at once. Up to
        // four answers in a row may be lost at random.
        own_value_bound: 5 * request_timeout + 200 * MS,
    };
    let watch = Rc::new(RefCell::new(Watch::default()));
    {
        let watch = watch.clone();
        let clients = clients.clone();
        let campaigning = campaigning.clone();
        world.run(&mut tasks, DURATION, move |world| {
            watch.borrow_mut().step(world, &clients, &campaigning)
        });
    }
    let progress = watch.borrow().progress.clone();

    let final_counter = world
        .store
        .borrow()
        .peek(world.store_ms(), COUNTER)
        .and_then(|(value, _)| String::from_utf8_lossy(value).parse().ok())
        .unwrap_or(0);
    let history = world.history.borrow();
    let violations = checker::check(&history, final_counter, &progress, liveness);
    Outcome {
        seed,
        candidates,
        terms_ms: params.iter().map(|p| p.term_ms).collect(),
        faults: history.faults,
        crashes: history.crashes,
        external_releases: history.external_releases,
        requests: history.requests,
        elections: history.elections,
        shared_writes: history.shared_writes.len(),
        updates: history.updates_acknowledged,
        claims: history.claims.len() as u64,
        broker_losses: history.broker_losses,
        wills_published: history.wills_published,
        will_releases: history.will_releases,
        violations,
    }
}

/// Property (d)'s measurements, taken after every step of the world.
#[derive(Default)]
struct Watch {
    progress: Progress,
    /// Since when nobody holds the position.
    free_since: Option<Nanos>,
    /// Per candidate: since when the store holds its value while it
    /// campaigns.
    unclaimed_since: Vec<Option<Nanos>>,
}

impl Watch {
    fn step(&mut self, world: &World, clients: &[SimClient], campaigning: &Campaigning) {
        let now = world.now.get();
        let holder = world
            .store
            .borrow()
            .peek(world.store_ms(), POSITION.as_bytes())
            .map(|(value, _)| value.to_vec());
        match (&holder, self.free_since) {
            (Some(_), _) => self.free_since = None,
            (None, None) => self.free_since = Some(now),
            (None, Some(_)) => {}
        }
        if let Some(since) = self.free_since
            && now > QUIET
        {
            self.progress.longest_gap = self.progress.longest_gap.max(now - since.max(QUIET));
        }
        let campaigning = campaigning.borrow();
        self.unclaimed_since.resize(campaigning.len(), None);
        for (index, wanted) in campaigning.iter().enumerate() {
            let unclaimed = now > QUIET
                && wanted.is_some()
                && *wanted == holder
                && now >= clients[index].release_in_doubt_until.get()
                && now >= clients[index].will_in_doubt_until();
            if !unclaimed {
                self.unclaimed_since[index] = None;
                continue;
            }
            let since = *self.unclaimed_since[index].get_or_insert(now);
            if now - since > self.progress.longest_unclaimed {
                self.progress.longest_unclaimed = now - since;
                self.progress.unclaimed_by =
                    String::from_utf8_lossy(wanted.as_deref().unwrap_or_default()).into_owned();
            }
        }
    }
}

/// The operator: at each planned time, releases the position's holder.
async fn operate(world: Rc<World>, client: SimClient, releases: Vec<Nanos>) {
    for at in releases {
        if at > world.now.get() {
            sleep(&world, at - world.now.get()).await;
        }
        let holder = world
            .store
            .borrow()
            .peek(world.store_ms(), POSITION.as_bytes())
            .map(|(value, _)| value.to_vec());
        if let Some(holder) = holder {
            let _ = client.vdel(POSITION.as_bytes(), &holder, None).await;
        }
    }
}

/// Runs a candidate's lives: each crash drops the candidate and everything
/// it was doing; it starts afresh after the downtime, as a new process
/// with a lock value of its own.
async fn supervise(
    world: Rc<World>,
    client: SimClient,
    name: String,
    params: Params,
    crashes: Vec<(Nanos, Nanos)>,
    campaigning: Campaigning,
    mut rng: Rng,
) {
    let mut life = 0;
    for (at, down) in crashes {
        if at <= world.now.get() {
            continue;
        }
        life += 1;
        let lived = workload::live(
            world.clone(),
            client.clone(),
            name.clone(),
            life,
            params,
            campaigning.clone(),
            rng.fork(),
        );
        let crash = sleep(&world, at - world.now.get());
        first_of(lived, crash).await;
        // The broker notices at once when the OS closes the socket, by the
        // keep-alive when the machine went away.
        let detect = if rng.chance(0.5) {
            0
        } else {
            params.keep_alive.broker_detects()
        };
        world.process_died(client.id, detect);
        campaigning.borrow_mut()[client.id as usize] = None;
        // A dead process claims nothing from now on.
        let lock_value = format!("{name}:{life}");
        {
            let mut history = world.history.borrow_mut();
            history.crashes += 1;
            history.claim(world.now.get(), lock_value.as_bytes(), Claim::Lost);
        }
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms {name}: crashes for {} ms",
                world.now.get() as f64 / 1e6,
                down / MS
            );
        }
        sleep(&world, down).await;
    }
    workload::live(
        world.clone(),
        client,
        name,
        life + 1,
        params,
        campaigning,
        rng.fork(),
    )
    .await;
}

/// The host client's reconnect behaviour: after a reconnect, register the
/// watches again and catch up on missed changes.
async fn reconnect_agent(world: Rc<World>, clients: Vec<SimClient>) {
    loop {
        let reconnected = {
            let world = world.clone();
            std::future::poll_fn(move |_| {
                let reconnected = world.take_reconnected();
                if reconnected.is_empty() {
                    std::task::Poll::Pending
                } else {
                    std::task::Poll::Ready(reconnected)
                }
            })
            .await
        };
        for client in reconnected {
            clients[client as usize].catch_up().await;
        }
    }
}
