//! A name for an operator instance.

use crate::bindings::wasi::clocks::{monotonic_clock, wall_clock};

/// AIO gives operator instances no identity, and the elector needs a
/// distinct candidate name per instance: `prefix-` and the wall clock's
/// nanoseconds mixed with the monotonic clock at start, which differ
/// between instances started apart by a nanosecond or on different
/// machines.
pub fn instance_name(prefix: &str) -> String {
    let wall = wall_clock::now();
    let mixed =
        (wall.seconds << 30) ^ u64::from(wall.nanoseconds) ^ monotonic_clock::now().rotate_left(17);
    format!("{prefix}-{mixed:016x}")
}
