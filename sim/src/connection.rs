//! A client's MQTT connection seen from both ends, for release on
//! disconnect: the **broker side** (does the broker hold the connection,
//! which Will does it carry, when is that Will due) and the **client side**
//! (the real [`LinkTrust`] of the process now running, fed as the host's
//! MQTT client feeds it).
//!
//! The two ends learn of a loss at different times, which is the point:
//! the broker drops a connection it no longer hears from (or that a crash
//! or a middlebox killed) while the client may carry on for a keep-alive or
//! two, and a client can see its link down while the broker still holds it.
//! The world drives both ends from the same events and never lets the
//! client hear anything over a connection the broker no longer holds (see
//! `World::transmit`): the only physics the release rule relies on.
//!
//! The broker's Will Delay timer runs on true time, exactly; the client's
//! monotonic clock drifts (see `clock.rs`), which is what the rule's margin
//! must absorb.

use std::collections::BTreeMap;
use std::time::Duration;

use elector_statestore as ss;
use ss::release::{LinkTrust, Trust};

use crate::clock::Reading;
use crate::time::Nanos;

/// How a schedule's connections release positions (all candidates share
/// it; `delay` zero: no Wills).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReleaseConfig {
    /// The Will Delay Interval, W.
    pub delay: Nanos,
    /// How long the broker keeps a lost session (never less than W, as
    /// the host asks for).
    pub session_expiry: Nanos,
    /// How long a published Will may take to reach the store: what the
    /// client's rule assumes, and the bound the world keeps.
    pub will_lifetime: Nanos,
}

/// A defect of the client's side of the rule, to show the checker sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReleaseFlaw {
    #[default]
    None,
    /// Confirms the link from when an answer or probe *arrived* instead of
    /// when its request left: the broker may have lost the connection in
    /// between.
    FromReceipt,
    /// Trusts the link for the whole delay, with no margin for the
    /// client's clock running slow.
    NoMargin,
    /// The first rule: a drop the client sees leaves the lease standing,
    /// and a session resumed before the trust ran out is taken to have
    /// cancelled the Will. A broker that publishes Wills at once when it
    /// shuts down (mosquitto) breaks it.
    ResumedSessionKept,
}

/// The broker's end of one client's connections.
#[derive(Clone, Debug)]
struct BrokerSide {
    /// Bumped at every connect; a loss or a Will due names the connection
    /// it belongs to.
    epoch: u64,
    /// Whether the broker holds a connection now.
    alive: bool,
    /// When it lost the last one.
    lost_at: Option<Nanos>,
    /// The process whose session it keeps (0: the world's own clients,
    /// which never restart).
    life: u64,
    /// The Will of the current (or last lost) connection, until it is
    /// published or cancelled.
    will: Option<ss::Request<u32>>,
}

/// The client's end, while a process with a Will runs.
#[derive(Clone, Debug)]
struct ClientSide {
    trust: LinkTrust,
    clock: Reading,
    /// When the client saw its connection lost (its own clock).
    lost_at: u64,
    /// Probes in flight: sequence → send time (its own clock).
    probes: BTreeMap<u64, u64>,
    next_probe: u64,
    flaw: ReleaseFlaw,
    /// The Will's command: the VDEL of the position and this process's
    /// lock value.
    will: ss::Command,
}

/// What the world must do after a connection changed.
#[derive(Debug, Default)]
pub struct Effects {
    /// A Will to publish now.
    pub publish: Option<ss::Request<u32>>,
    /// A Will to publish at this time, if its connection (this epoch) is
    /// still lost then.
    pub will_due: Option<(Nanos, u64)>,
}

/// One client's connection, both ends.
#[derive(Clone, Debug)]
pub struct Connection {
    config: ReleaseConfig,
    broker: BrokerSide,
    client: Option<ClientSide>,
}

impl Default for Connection {
    /// Connected, without a Will (the operator's and the scripted tests'
    /// own connections).
    fn default() -> Self {
        Connection {
            config: ReleaseConfig::default(),
            broker: BrokerSide {
                epoch: 0,
                alive: true,
                lost_at: None,
                life: 0,
                will: None,
            },
            client: None,
        }
    }
}

fn duration(nanos: Nanos) -> Duration {
    Duration::from_nanos(nanos)
}

impl Connection {
    /// Whether the broker holds the connection: only then does anything
    /// travel over it.
    pub fn broker_holds(&self) -> bool {
        self.broker.alive
    }

    pub fn config(&self) -> ReleaseConfig {
        self.config
    }

    /// The process that will connect next is life `life`, with `will`
    /// (and `config`) if it releases its position on disconnect. Its first
    /// connect is clean: the broker ends the old session, publishing a
    /// Will it still holds at once.
    pub fn start_life(
        &mut self,
        client: u32,
        life: u64,
        will: Option<(ss::Command, ReleaseConfig, ReleaseFlaw)>,
        clock: Reading,
        now: Nanos,
    ) -> Effects {
        self.client = None;
        if let Some((will, config, flaw)) = will {
            self.config = config;
            let local = clock.local(now);
            self.client = Some(ClientSide {
                trust: LinkTrust::new(
                    duration(config.delay),
                    duration(config.will_lifetime),
                    local,
                ),
                clock,
                lost_at: local,
                probes: BTreeMap::new(),
                next_probe: 0,
                flaw,
                will,
            });
        }
        self.broker.life = life;
        self.connect(client, now, false).0
    }

    /// The process died: the broker notices after `detect` (at once when
    /// the OS closes the socket, a keep-alive and a half when the machine
    /// went away). Returns the epoch to lose then.
    pub fn process_died(&mut self) -> u64 {
        self.client = None;
        self.broker.epoch
    }

    /// The broker drops connection `epoch` (`None`: whichever it holds).
    pub fn broker_lost(&mut self, epoch: Option<u64>, now: Nanos) -> Effects {
        if !self.broker.alive || epoch.is_some_and(|e| e != self.broker.epoch) {
            return Effects::default();
        }
        self.broker.alive = false;
        self.broker.lost_at = Some(now);
        Effects {
            publish: None,
            will_due: self
                .broker
                .will
                .as_ref()
                .map(|_| (now + self.config.delay, self.broker.epoch)),
        }
    }

    /// The broker shuts down: the Will of the connection it holds is
    /// published at once, and the connection is gone.
    pub fn broker_shut_down(&mut self, now: Nanos) -> Effects {
        if !self.broker.alive {
            return Effects::default();
        }
        self.broker.alive = false;
        self.broker.lost_at = Some(now);
        Effects {
            publish: self.broker.will.take(),
            will_due: None,
        }
    }

    /// The Will of connection `epoch` is due: published, unless a resumed
    /// session cancelled it (or a clean one published it already).
    pub fn will_due(&mut self, epoch: u64) -> Option<ss::Request<u32>> {
        if epoch != self.broker.epoch || self.broker.alive {
            return None;
        }
        self.broker.will.take()
    }

    /// The client saw its connection drop.
    pub fn client_lost(&mut self, now: Nanos) {
        if let Some(client) = &mut self.client {
            client.lost_at = client.clock.local(now);
            if client.flaw != ReleaseFlaw::ResumedSessionKept {
                client.trust.dropped(client.lost_at);
            }
            client.probes.clear();
        }
    }

    /// The client's link is up again: it connects, resuming its session
    /// if the broker still has it; the CONNACK arrives now. A new Will (the
    /// same release, fresh correlation) comes with every connect.
    pub fn client_reconnected(&mut self, client: u32, now: Nanos) -> Effects {
        let id = client;
        let (effects, present) = self.connect(client, now, true);
        if let Some(client) = &mut self.client {
            let local = client.clock.local(now);
            let kept = client.flaw == ReleaseFlaw::ResumedSessionKept
                && present
                && local < client.trust.trust().trusted_until;
            if kept {
                client.trust.confirmed(client.lost_at);
            } else {
                client.trust.reconnected(local, client.lost_at);
            }
            if crate::history::trace_enabled() {
                eprintln!(
                    "{:>9.3} ms client{id}: reconnected (session present: {present}): {:?}",
                    now as f64 / 1e6,
                    client.trust.trust()
                );
            }
        }
        effects
    }

    /// The broker takes a CONNECT: resuming the session (cancelling a Will
    /// not yet published) if asked to and it still has it, else clean
    /// (publishing at once a Will it still holds, since the old session
    /// ends).
    fn connect(&mut self, client: u32, now: Nanos, resume: bool) -> (Effects, bool) {
        let session_alive = self.broker.alive
            || self
                .broker
                .lost_at
                .is_some_and(|lost| now < lost + self.config.session_expiry);
        let present = resume && session_alive;
        let old = self.broker.will.take();
        let publish = if present { None } else { old };
        self.broker.epoch += 1;
        self.broker.alive = true;
        self.broker.lost_at = None;
        self.broker.will = self.client.as_ref().map(|side| {
            // A request like any other, stamped by the client's wall clock
            // as it connects.
            let stamp = ss::Hlc::new(side.clock.wall_ms(now), 0, format!("will{client}"));
            ss::Request::new(client, side.will.clone()).with_timestamp(stamp)
        });
        let effects = Effects {
            publish,
            will_due: None,
        };
        (effects, present)
    }

    /// What the running process may believe, if it has a Will.
    pub fn trust(&self) -> Option<(Trust, Reading)> {
        let client = self.client.as_ref()?;
        let mut trust = client.trust.trust();
        if client.flaw == ReleaseFlaw::NoMargin {
            let margin = u64::try_from(client.trust.margin().as_nanos()).unwrap_or(u64::MAX);
            trust.trusted_until = trust.trusted_until.saturating_add(margin);
        }
        Some((trust, client.clock))
    }

    /// An answer to a request sent at `sent_at` arrived now.
    pub fn confirmed(&mut self, sent_at: Nanos, now: Nanos) {
        if let Some(client) = &mut self.client {
            let at = match client.flaw {
                ReleaseFlaw::FromReceipt => now,
                _ => sent_at,
            };
            let local = client.clock.local(at);
            client.trust.confirmed(local);
        }
    }

    /// The probe period (a fifth of the delay), if the process has a Will.
    pub fn probe_period(&self) -> Option<Nanos> {
        self.client.as_ref().map(|_| self.config.delay / 5)
    }

    /// A probe leaves now: its sequence number.
    pub fn probe_sent(&mut self, now: Nanos) -> Option<u64> {
        let client = self.client.as_mut()?;
        client.next_probe += 1;
        client
            .probes
            .insert(client.next_probe, client.clock.local(now));
        Some(client.next_probe)
    }

    /// Probe `sequence` came back now.
    pub fn probe_returned(&mut self, sequence: u64, now: Nanos) {
        let Some(client) = &mut self.client else {
            return;
        };
        let Some(sent_at) = client.probes.get(&sequence).copied() else {
            return;
        };
        client.probes.retain(|&s, _| s > sequence);
        let at = match client.flaw {
            ReleaseFlaw::FromReceipt => client.clock.local(now),
            _ => sent_at,
        };
        client.trust.confirmed(at);
    }
}
