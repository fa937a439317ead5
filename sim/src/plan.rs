//! A schedule's plan, drawn from its seed before the world runs: which
//! faults hit which links when, when candidates crash, and when an operator
//! releases the position.

use crate::event::Event;
use crate::link::LinkState;
use crate::rng::Rng;
use crate::time::{MS, Nanos, QUIET, SLOWEST_LINK};
use crate::world::World;

/// The MQTT keep-alive of a schedule's connections: how long each end
/// takes to notice a connection that went silent.
#[derive(Clone, Copy, Debug)]
pub struct KeepAlive {
    pub interval: Nanos,
}

impl KeepAlive {
    /// The broker drops a connection it has not heard from for one and a
    /// half keep-alives (as MQTT 5 says).
    pub fn broker_detects(&self) -> Nanos {
        self.interval * 3 / 2
    }

    /// The client notices a missing PINGRESP later: its next ping goes out
    /// up to a keep-alive after the silence began, and it waits for the
    /// answer about as long again.
    pub fn client_detects(&self, rng: &mut Rng) -> Nanos {
        rng.between(self.interval * 3 / 2, self.interval * 2)
    }
}

/// Network faults before [`QUIET`]: disconnects both ends see (the store
/// forgets the client's watches), partitions (silent black holes, which
/// each end notices by its keep-alive if they last), one-sided losses (the
/// broker drops the connection; the client finds out by its keep-alive),
/// deaf links (writes land, answers and notifications are lost), broker
/// restarts (every Will published at once, as mosquitto does when it shuts
/// down, then everyone disconnects), registrations lost silently,
/// and slow links (messages delayed up to 3 s, so writes land long after
/// they were sent).
pub fn plan_faults(world: &World, rng: &mut Rng, candidates: usize, keep_alive: KeepAlive) {
    for _ in 0..rng.between(0, 8) {
        let start = rng.between(500 * MS, QUIET - 3_000 * MS);
        let length = rng.between(100 * MS, 2_500 * MS);
        let client = rng.between(0, candidates as u64 - 1) as u32;
        match rng.between(0, 6) {
            0 => disconnect(world, client, start, length),
            1 => {
                link_outage(world, client, LinkState::Blackhole, start, length);
                let broker = keep_alive.broker_detects();
                if length > broker {
                    let lost = Event::BrokerLost {
                        client,
                        epoch: None,
                    };
                    world.schedule(start + broker, lost);
                }
                let noticed = keep_alive.client_detects(rng);
                if length > noticed {
                    let down = Event::Link {
                        client,
                        state: LinkState::Down,
                    };
                    world.schedule(start + noticed, down);
                }
            }
            2 => link_outage(world, client, LinkState::Deaf, start, length),
            3 => {
                // A broker restart: it publishes every Will as it shuts
                // down, then everyone is disconnected.
                for client in 0..candidates as u32 {
                    world.schedule(start, Event::BrokerShutdown { client });
                    disconnect(world, client, start, length / 2);
                }
            }
            6 => {
                // One-sided: the broker drops the connection at once; the
                // client notices by its keep-alive and reconnects then (the
                // world turns that `Up` into a drop and a reconnect).
                let noticed = keep_alive.client_detects(rng);
                let lost = Event::BrokerLost {
                    client,
                    epoch: None,
                };
                world.schedule(start, lost);
                link_outage(world, client, LinkState::Dropped, start, noticed);
            }
            4 => world.schedule(start, Event::ForgetRegistrations { client }),
            _ => {
                let normal = world.links.borrow()[client as usize].delay_max;
                let slow = rng.between(200 * MS, SLOWEST_LINK);
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
pub fn plan_crashes(rng: &mut Rng, term_ms: u64) -> Vec<(Nanos, Nanos)> {
    let mut crashes: Vec<(Nanos, Nanos)> = (0..rng.between(0, 2))
        .map(|_| {
            let at = rng.between(300 * MS, QUIET - 3_000 * MS);
            (at, rng.between(50 * MS, term_ms * 2 * MS))
        })
        .collect();
    crashes.sort();
    crashes
}

/// When an operator releases whoever holds the position (as `elector
/// resign --name` from another process does): now and then, before the
/// quiet.
pub fn plan_releases(rng: &mut Rng) -> Vec<Nanos> {
    let mut releases: Vec<Nanos> = (0..rng.between(0, 2))
        .map(|_| rng.between(500 * MS, QUIET - 3_000 * MS))
        .collect();
    releases.sort();
    releases
}

/// A disconnect both ends see at once (a closed socket).
fn disconnect(world: &World, client: u32, start: u64, length: u64) {
    let lost = Event::BrokerLost {
        client,
        epoch: None,
    };
    world.schedule(start, lost);
    link_outage(world, client, LinkState::Down, start, length);
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
