//! Deliberate defects, to prove that the fault simulator's checker catches
//! the failures they cause. Each switch re-introduces one defect that was
//! found and fixed, or breaks one property on purpose.
//!
//! The switches take effect only in builds with the `sabotage` feature,
//! which nothing but the simulator's tests enables: without it
//! [`Sabotage`] cannot be set on a candidate and every check of a switch
//! compiles to `false`. Three guards keep the defects out of what ships:
//!
//! - a wasm32 build with the feature does not compile (below), so
//!   `elector.wasm` cannot be built with them;
//! - a build with the feature carries [`MARKER`] in a custom section named
//!   [`MARKER_SECTION`] when it is WebAssembly, and the host's tests look
//!   for that section in the component it embeds (`host/src/artifacts.rs`);
//! - `elector-sim` enables the feature only for its tests (see its
//!   `Cargo.toml`), so a plain build of the simulator leaves it off too.

#[cfg(all(feature = "sabotage", target_arch = "wasm32"))]
compile_error!(
    "the `sabotage` feature of elector-guest is for native simulator tests only; \
     a WebAssembly build with it would ship deliberate defects"
);

/// Defines the marker and the name of its section from one literal
/// (`link_section` takes a literal, the host's check takes the constant).
macro_rules! marker {
    ($section:literal) => {
        /// The custom section that [`MARKER`] occupies in a WebAssembly
        /// build with the `sabotage` feature: its presence in a component
        /// means the component carries deliberate defects.
        pub const MARKER_SECTION: &str = $section;

        /// Present in every build with the `sabotage` feature; `#[used]`
        /// keeps it through optimisation and linking, and in WebAssembly it
        /// becomes the custom section [`MARKER_SECTION`], which survives
        /// `strip` and the component wrapping (custom sections are data to
        /// both), so a sabotaged build can be told from outside.
        #[cfg(feature = "sabotage")]
        #[used]
        #[cfg_attr(target_family = "wasm", unsafe(link_section = $section))]
        pub static MARKER: [u8; 33] = *b"elector-guest built with sabotage";
    };
}

marker!("elector-sabotage");

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
    /// The candidate ignores its connection's release guard: it keeps
    /// calling itself leader over a silent link for its whole term, though
    /// the broker may have published the Will that releases its position.
    pub ignore_silent_link: bool,
}

#[cfg(all(test, feature = "sabotage"))]
mod tests {
    use super::*;

    /// The host's check (`host/src/artifacts.rs`) proves the shipped
    /// component has no [`MARKER_SECTION`]; that proof is only worth
    /// something if a sabotage build does have one. The section itself
    /// exists only in WebAssembly, which the feature refuses to build, so
    /// this shows the other half natively: a build with the feature holds
    /// the marker (it is `#[used]`, so no linker drops it), and the wasm
    /// attribute above places it in the section the host looks for. (With
    /// the `compile_error!` lifted, a `wasm32-wasip2` build of the guest
    /// with the feature carries the section inside the component, which is
    /// how the check was seen to fail.)
    #[test]
    fn a_sabotage_build_carries_the_marker() {
        let marker = core::hint::black_box(&MARKER);
        assert!(marker.ends_with(b"sabotage"));
        assert_eq!(MARKER_SECTION, "elector-sabotage");
    }
}
