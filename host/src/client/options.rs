//! How a client is set up, resigns and renews: the options of
//! [`LeaderElectionClient`](super::LeaderElectionClient).

use std::time::Duration;

use super::millis;

/// How a client is set up.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The key every candidate for this position campaigns on.
    pub position: String,
    /// This candidate's name; non-empty, without `:`.
    pub name: String,
    /// Makes the lock value `name:session-id`.
    pub session_id: Option<String>,
    /// Trusted part of a term; `None`: a tenth of the term, at most 1 s.
    pub safety_margin: Option<Duration>,
    /// How long a request whose answer was lost may still land; `None`:
    /// what the store says (`StateStoreBackend::request_lifetime`).
    pub request_lifetime: Option<Duration>,
}

impl ClientOptions {
    pub fn new(position: impl Into<String>, name: impl Into<String>) -> Self {
        ClientOptions {
            position: position.into(),
            name: name.into(),
            session_id: None,
            safety_margin: None,
            request_lifetime: None,
        }
    }
}

/// Options for [`LeaderElectionClient::resign`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ResignOptions {
    /// Keep automatic renewal configured, so the next campaign renews
    /// again. Off by default: resigning also stops renewal, as AIO's
    /// `ResignAsync(cancelAutomaticRenewal: true)` does. The WIT parameter
    /// has the same name.
    pub keep_renewing: bool,
}

/// [`LeaderElectionClient::set_automatic_renewal`]'s options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutomaticRenewal {
    pub term: Duration,
    /// Shorter than the term minus the safety margin.
    pub period: Duration,
}

impl AutomaticRenewal {
    /// Renews `term` at the election core's default period (a third of the
    /// term, so a lease survives two failed renewals in a row).
    pub fn every_default_period(term: Duration) -> Self {
        let period_ms = elector_guest::timing::default_renewal_period_ms(millis(term));
        AutomaticRenewal {
            term,
            period: Duration::from_millis(period_ms),
        }
    }
}
