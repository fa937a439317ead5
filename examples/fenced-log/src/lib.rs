//! An edge module that must run on exactly one replica: it appends
//! numbered entries to a log in the state store, one per tick.
//!
//! Shared state: `counter` (the next entry's number) and `entry/NNNNNNNN`
//! (who wrote it). Every write goes through `fenced-store`, which attaches
//! the replica's fencing token, so a replica whose leadership has passed
//! cannot write once the new leader has: the log never gets a duplicate
//! entry or skips a number, whichever replica fails when.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        world: "edge-module",
        path: "../../wit",
        generate_all,
    });

    use elector::election::fenced_store::{self, WriteError};
    use elector::election::leadership;
    use elector::election::log::{Level, log};
    use exports::elector::election::lifecycle::{Guest, LeadershipGrant, LostReason};

    struct FencedLog;

    fn describe(error: WriteError) -> String {
        match error {
            WriteError::NotLeader => "not the leader any more".into(),
            WriteError::FencingRefused => "a newer leader has written".into(),
            WriteError::Store(error) => format!("state store: {error:?}"),
        }
    }

    /// The next entry's number: the counter, or 0 for a new log.
    fn next_number() -> Result<u64, String> {
        match fenced_store::get("counter").map_err(|e| format!("{e:?}"))? {
            None => Ok(0),
            Some(bytes) => String::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| "the counter is not a number".to_string()),
        }
    }

    impl Guest for FencedLog {
        fn on_elected(grant: LeadershipGrant) -> Result<(), String> {
            log(
                Level::Info,
                &format!(
                    "{} leads {} (fencing token {}:{})",
                    grant.replica,
                    grant.position,
                    grant.fencing_token.wall_clock_ms,
                    grant.fencing_token.counter
                ),
            );
            Ok(())
        }

        fn on_tick() -> Result<(), String> {
            let number = next_number()?;
            // Who wrote it, and under which fencing token: the log is also
            // the history a checker reads (tokens never go down).
            // Leadership can end between the tick starting and here; then
            // there is no token to record, and no entry is written (the
            // fenced write would be refused anyway, unless this replica won
            // again meanwhile, and then the entry would name no token).
            let token = leadership::fencing_token()
                .map(|t| format!("{}:{}:{}", t.wall_clock_ms, t.counter, t.node_id))
                .ok_or("not the leader any more")?;
            let entry = format!("{number} {} {token}", leadership::candidate_name());
            // Entry first, then the counter: a replica stopped in between
            // leaves the entry to be written again under the same number.
            fenced_store::put(&format!("entry/{number:08}"), entry.as_bytes()).map_err(describe)?;
            fenced_store::put("counter", (number + 1).to_string().as_bytes()).map_err(describe)?;
            log(Level::Debug, &format!("appended entry {number}"));
            Ok(())
        }

        fn on_lost(reason: LostReason) {
            log(
                Level::Info,
                &format!("{} stops: {reason:?}", leadership::candidate_name()),
            );
        }
    }

    export!(FencedLog);
}
