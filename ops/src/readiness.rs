//! Readiness: whether this process can do its work yet. Unlike health, a
//! failing readiness is no reason to restart: it says "not yet" (starting
//! up, or the store out of reach), so an orchestrator waits, or holds a
//! rollout back, instead of killing the process.
//!
//! Readiness is a set of named conditions, each either known (set when it
//! changes) or probed at every check; the process is ready when all hold.

use std::collections::BTreeMap;
use std::sync::Mutex;

type Probe = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

enum Condition {
    Known(Result<(), String>),
    Probed(Probe),
}

#[derive(Default)]
pub struct Readiness {
    conditions: Mutex<BTreeMap<String, Condition>>,
}

impl Readiness {
    /// Adds a condition that does not hold yet (`why_not`), unless `name`
    /// is known already.
    pub fn require(&self, name: &str, why_not: &str) {
        self.conditions
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_insert_with(|| Condition::Known(Err(why_not.to_owned())));
    }

    /// Sets whether `name` holds (`Err` says why not).
    pub fn set(&self, name: &str, state: Result<(), String>) {
        self.conditions
            .lock()
            .unwrap()
            .insert(name.to_owned(), Condition::Known(state));
    }

    /// Makes `name` hold whenever `probe` says so, asked at every check.
    pub fn probe(
        &self,
        name: &str,
        probe: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.conditions
            .lock()
            .unwrap()
            .insert(name.to_owned(), Condition::Probed(Box::new(probe)));
    }
}

impl crate::Check for Readiness {
    fn check(&self) -> Result<(), Vec<String>> {
        let conditions = self.conditions.lock().unwrap();
        let missing: Vec<String> = conditions
            .iter()
            .filter_map(|(name, condition)| {
                let state = match condition {
                    Condition::Known(state) => state.clone(),
                    Condition::Probed(probe) => probe(),
                };
                state.err().map(|why| format!("{name}: {why}"))
            })
            .collect();
        crate::verdict(missing)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::Check;

    #[test]
    fn ready_when_every_condition_holds() {
        let readiness = Readiness::default();
        assert!(readiness.check().is_ok(), "nothing required");
        readiness.require("module", "not instantiated yet");
        readiness.require("state store", "connecting");
        assert_eq!(
            readiness.check().unwrap_err(),
            ["module: not instantiated yet", "state store: connecting"]
        );
        readiness.set("module", Ok(()));
        readiness.require("module", "not instantiated yet");
        assert_eq!(readiness.check().unwrap_err(), ["state store: connecting"]);
        let up = Arc::new(AtomicBool::new(false));
        let link = up.clone();
        readiness.probe("state store", move || {
            if link.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("not connected".into())
            }
        });
        assert_eq!(
            readiness.check().unwrap_err(),
            ["state store: not connected"]
        );
        up.store(true, Ordering::Relaxed);
        assert!(readiness.check().is_ok());
    }
}
