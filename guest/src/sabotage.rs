//! Deliberate defects, to prove that the fault simulator's checker catches
//! the failures they cause. Each switch re-introduces one defect that was
//! found and fixed, or breaks one property on purpose.
//!
//! The switches take effect only in builds with the `sabotage` feature,
//! which nothing but the simulator's tests enables: without it
//! [`Sabotage`] cannot be set on a candidate and every check of a switch
//! compiles to `false`, so `elector.wasm` carries none of them.

/// Which defects to introduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sabotage {
    /// campaign-and-update-value writes without the fencing token.
    pub no_fencing: bool,
    /// A blocked campaign never sets a timer at the holder's expiry: it
    /// waits for notifications alone.
    pub no_expiry_timer: bool,
    /// The local lease never ends: the candidate goes on calling itself
    /// leader after its term (and renewing regardless).
    pub lease_never_ends: bool,
    /// The lease is measured from the answer of the winning write instead
    /// of from its send time.
    pub lease_from_reply: bool,
    /// `current-fencing-token` hands out a token the store never issued
    /// (the real one with its counter bumped).
    pub forged_token: bool,
    /// A write whose answer is lost leaves the local lease as it was, even
    /// if the write carried a shorter term (finding 1).
    pub keep_lease_on_unknown_write: bool,
    /// A resignation ends the local lease only once the store answered
    /// (finding 3).
    pub end_lease_after_resign_answer: bool,
    /// `tick` renews before it checks whether the lease already ended
    /// (finding 4).
    pub renew_before_expiry: bool,
    /// A waiting campaign treats a notification of its own value like any
    /// other holder's write (finding 5).
    pub ignore_own_value: bool,
    /// campaign-and-update-value forgets a write whose answer was lost when
    /// the campaign after it fails (finding 6).
    pub forget_unconfirmed_update: bool,
}
