//! The simulation's units of time, shared by every part of the world.

/// Wall-clock milliseconds of the store at true time zero.
pub const EPOCH_MS: u64 = 1_800_000_000_000;

/// Nanoseconds of true time.
pub type Nanos = u64;

pub const MS: Nanos = 1_000_000;

/// Simulated time a schedule runs.
pub const DURATION: Nanos = 30_000 * MS;
/// Faults (and crashes) happen before this; after it the system must heal.
pub const QUIET: Nanos = 13_000 * MS;
/// The slowest a link gets (a slow-link fault): the transit bound the
/// candidates' request lifetime is computed with.
pub const SLOWEST_LINK: Nanos = 3_000 * MS;
