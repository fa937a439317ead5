//! `elector run`: edge modules running active/passive, seen from outside.

#[path = "../mqtt/support.rs"]
#[allow(dead_code)]
mod support;

mod endpoint;
mod failover;
mod hostile;
mod isolation;
mod operability;
mod probes;

/// The example module (`examples/fenced-log`, built by elector-cli's build
/// script) and the misbehaving one (`tests/rogue-module`, a test fixture).
pub const FENCED_LOG: &str = env!("ELECTOR_COMPONENT_ELECTOR_EXAMPLE_FENCED_LOG");
pub const ROGUE_MODULE: &str = elector_test_fixtures::ROGUE_MODULE;
