//! Deliberate defects, to prove that the fault simulator's checker catches
//! the failures they cause. Settable only with the `sabotage` feature, which
//! nothing but the simulator's tests enables; without it every switch stays
//! off.

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
}
