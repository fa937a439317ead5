//! How long a guest may compute.
//!
//! The engine's epoch advances every [`TICK`] (see `runtime.rs`). Whenever a
//! running guest passes an epoch deadline, wasmtime asks [`CpuBudget`]: the
//! guest is let on (after yielding to the async runtime, so other sandboxes
//! keep running) until it has run [`CpuBudget::max_ticks`] ticks since the
//! last [`CpuBudget::progress`]; then it traps.
//!
//! Who calls `progress` decides what the budget bounds. The elector's
//! sandboxes call it at every host call: the elector is ours and does
//! microseconds of work between calls, so only a runaway loop meets the
//! limit. A module's sandbox calls it only when a hook starts, so the budget
//! bounds the hook's whole CPU, host calls included: a hook that loops over
//! host calls is stopped like one that spins.

use std::time::Duration;

use wasmtime::UpdateDeadline;

/// The epoch period.
pub const TICK: Duration = Duration::from_millis(10);

#[derive(Clone, Debug)]
pub struct CpuBudget {
    max_ticks: u64,
    ticks_without_progress: u64,
    /// The guest was stopped for running past the budget. Kept so a host
    /// can tell this trap from the guest's own without reading messages.
    overran: bool,
}

impl CpuBudget {
    pub fn new(max_compute: Duration) -> Self {
        let max_ticks = (max_compute.as_millis() / TICK.as_millis()).max(1);
        CpuBudget {
            max_ticks: u64::try_from(max_ticks).unwrap_or(u64::MAX),
            ticks_without_progress: 0,
            overran: false,
        }
    }

    /// Whether the guest was stopped for computing past the budget.
    pub fn overran(&self) -> bool {
        self.overran
    }

    /// The guest reached the host: its compute streak ends.
    pub fn progress(&mut self) {
        self.ticks_without_progress = 0;
    }

    /// Called by wasmtime at each epoch deadline the guest passes.
    pub fn on_deadline(&mut self) -> wasmtime::Result<UpdateDeadline> {
        self.ticks_without_progress += 1;
        if self.ticks_without_progress > self.max_ticks {
            self.overran = true;
            return Err(wasmtime::Error::msg(format!(
                "guest computed for more than {} ms without returning to the host",
                self.max_ticks * TICK.as_millis() as u64
            )));
        }
        Ok(UpdateDeadline::Yield(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_past_the_budget_traps_and_progress_resets_it() {
        let mut budget = CpuBudget::new(Duration::from_millis(30));
        for _ in 0..3 {
            assert!(budget.on_deadline().is_ok());
        }
        budget.progress();
        for _ in 0..3 {
            assert!(budget.on_deadline().is_ok());
        }
        assert!(!budget.overran(), "within the budget");
        assert!(budget.on_deadline().is_err());
        assert!(budget.overran());
    }
}
