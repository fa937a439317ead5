//! One schedule: a seed picks the candidates, their clocks, the network and
//! every fault; the world runs; the checker judges the history.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use elector_guest::sabotage::Sabotage;

use crate::checker::{self, Violation};
use crate::client::{SimClient, Skew, sleep};
use crate::history::{COUNTER, POSITION};
use crate::rng::Rng;
use crate::workload::{self, Params};
use crate::world::{Event, Link, LinkState, MS, Nanos, Task, World};

/// Simulated time a schedule runs.
pub const DURATION: Nanos = 20_000 * MS;
/// Faults (and crashes) happen before this; after it the system must heal.
pub const QUIET: Nanos = 13_000 * MS;

/// Knobs beyond the seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub sabotage: Sabotage,
    /// Lose every notification (to show the expiry timer matters).
    pub lose_all_notifications: bool,
}

/// What a schedule did, and what broke.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    pub candidates: usize,
    pub term_ms: u64,
    pub faults: u64,
    pub crashes: u64,
    pub requests: u64,
    pub elections: u64,
    pub shared_writes: usize,
    pub updates: u64,
    pub leader_actions: u64,
    pub contradicted_beliefs: u64,
    pub violations: Vec<Violation>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {} candidates, term {} ms, {} faults, {} crashes, {} requests, {} elections, \
             {} fenced writes, {} updates",
            self.seed,
            self.candidates,
            self.term_ms,
            self.faults,
            self.crashes,
            self.requests,
            self.elections,
            self.shared_writes,
            self.updates
        )?;
        for violation in &self.violations {
            write!(f, "\n  ({}) {}", violation.property, violation.detail)?;
        }
        if !self.violations.is_empty() {
            write!(
                f,
                "\n  reproduce: cargo run --release -p elector-sim -- --seed {}",
                self.seed
            )?;
        }
        Ok(())
    }
}

pub fn run(seed: u64, options: Options) -> Outcome {
    let mut rng = Rng::new(seed);
    let candidates = rng.between(2, 5) as usize;
    let term_ms = rng.between(300, 2_000);
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
    let world = World::new(rng.next_u64(), candidates, link);
    if options.lose_all_notifications {
        world.drop_notifications.set(true);
    }
    let request_timeout = rng.between(200, 1_000) * MS;
    let params = Params {
        term_ms,
        sabotage: options.sabotage,
    };
    plan_faults(&world, &mut rng, candidates);

    let mut tasks: Vec<Option<Task>> = Vec::new();
    let clients: Vec<SimClient> = (0..candidates)
        .map(|index| {
            let skew = Skew {
                wall_offset_ms: rng.between(0, 100_000) as i64 - 50_000,
                rate: 1.0 + (rng.unit() - 0.5) * 0.01,
            };
            SimClient::new(world.clone(), index as u32, skew, request_timeout)
        })
        .collect();
    for (index, client) in clients.iter().cloned().enumerate() {
        let crashes = plan_crashes(&mut rng, term_ms);
        tasks.push(Some(Box::pin(supervise(
            world.clone(),
            client,
            format!("c{index}"),
            params,
            crashes,
            rng.fork(),
        ))));
    }
    tasks.push(Some(Box::pin(reconnect_agent(world.clone(), clients))));

    let gap_since: Rc<Cell<Option<Nanos>>> = Rc::new(Cell::new(None));
    world.run(&mut tasks, DURATION, |world| {
        watch_liveness(world, &gap_since)
    });
    watch_liveness(&world, &gap_since);

    let final_counter = world
        .store
        .borrow()
        .peek(world.store_ms(), COUNTER)
        .and_then(|(value, _)| String::from_utf8_lossy(value).parse().ok())
        .unwrap_or(0);
    // Nobody holds the position for longer than a term (the holder's key
    // expires), plus the jittered grace, a request timeout, and the longest
    // store backoff (2 s) of a candidate that met the faults.
    let bound = Duration::from_millis(term_ms + 50)
        + Duration::from_nanos(request_timeout) * 2
        + Duration::from_secs(2);
    let history = world.history.borrow();
    let violations = checker::check(&history, final_counter, bound);
    Outcome {
        seed,
        candidates,
        term_ms,
        faults: history.faults,
        crashes: history.crashes,
        requests: history.requests,
        elections: history.elections,
        shared_writes: history.shared_writes.len(),
        updates: history.updates_acknowledged,
        leader_actions: history.leader_actions,
        contradicted_beliefs: history.contradicted_beliefs,
        violations,
    }
}

/// Tracks the longest stretch after [`QUIET`] with nobody holding the
/// position.
fn watch_liveness(world: &World, gap_since: &Cell<Option<Nanos>>) {
    let now = world.now.get();
    let held = world
        .store
        .borrow()
        .peek(world.store_ms(), POSITION.as_bytes())
        .is_some();
    match (held, gap_since.get()) {
        (true, _) => gap_since.set(None),
        (false, None) => gap_since.set(Some(now)),
        (false, Some(_)) => {}
    }
    if let Some(since) = gap_since.get()
        && now > QUIET
    {
        let gap = now - since.max(QUIET);
        let mut history = world.history.borrow_mut();
        if gap > history.longest_gap {
            history.longest_gap = gap;
        }
    }
}

/// Network faults before [`QUIET`]: disconnects (the store forgets the
/// client's watches), partitions (silent black holes), broker restarts
/// (everyone disconnects at once), registrations lost silently, and slow
/// links (messages delayed up to 3 s, so writes land long after they were
/// sent).
fn plan_faults(world: &World, rng: &mut Rng, candidates: usize) {
    let faults = rng.between(0, 8);
    world.history.borrow_mut().faults = faults;
    for _ in 0..faults {
        let start = rng.between(500 * MS, QUIET - 3_000 * MS);
        let length = rng.between(100 * MS, 2_500 * MS);
        let client = rng.between(0, candidates as u64 - 1) as u32;
        match rng.between(0, 4) {
            0 => link_outage(world, client, LinkState::Down, start, length),
            1 => link_outage(world, client, LinkState::Blackhole, start, length),
            2 => {
                for client in 0..candidates as u32 {
                    link_outage(world, client, LinkState::Down, start, length / 2);
                }
            }
            3 => world.schedule(start, Event::ForgetRegistrations { client }),
            _ => {
                let normal = world.links.borrow()[client as usize].delay_max;
                let slow = rng.between(200 * MS, 3_000 * MS);
                world.schedule(
                    start,
                    Event::Delay {
                        client,
                        delay_max: slow,
                    },
                );
                world.schedule(
                    start + length,
                    Event::Delay {
                        client,
                        delay_max: normal,
                    },
                );
            }
        }
    }
}

/// When a candidate crashes and for how long it stays down.
fn plan_crashes(rng: &mut Rng, term_ms: u64) -> Vec<(Nanos, Nanos)> {
    let mut crashes: Vec<(Nanos, Nanos)> = (0..rng.between(0, 2))
        .map(|_| {
            let at = rng.between(300 * MS, QUIET - 3_000 * MS);
            (at, rng.between(50 * MS, term_ms * 2 * MS))
        })
        .collect();
    crashes.sort();
    crashes
}

/// Runs a candidate's lives: each crash drops the candidate and everything
/// it was doing; it starts afresh after the downtime.
async fn supervise(
    world: Rc<World>,
    client: SimClient,
    name: String,
    params: Params,
    crashes: Vec<(Nanos, Nanos)>,
    mut rng: Rng,
) {
    for (at, down) in crashes {
        if at <= world.now.get() {
            continue;
        }
        let life = workload::live(
            world.clone(),
            client.clone(),
            name.clone(),
            params,
            rng.fork(),
        );
        let crash = sleep(&world, at - world.now.get());
        workload::first_of(life, crash).await;
        world.history.borrow_mut().crashes += 1;
        if crate::history::trace_enabled() {
            eprintln!(
                "{:>9.3} ms {name}: crashes for {} ms",
                world.now.get() as f64 / 1e6,
                down / MS
            );
        }
        sleep(&world, down).await;
    }
    workload::live(world.clone(), client, name, params, rng.fork()).await;
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

/// `client`'s link in `state` from `start` for `length`, then up again.
fn link_outage(world: &World, client: u32, state: LinkState, start: u64, length: u64) {
    world.schedule(start, Event::Link { client, state });
    world.schedule(
        start + length,
        Event::Link {
            client,
            state: LinkState::Up,
        },
    );
}
