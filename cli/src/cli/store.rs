//! Which state store a command uses. There is no silent default: a
//! Deployment whose AIO variables went missing must not run every replica
//! against a store of its own (each would lead), so a command that reads or
//! writes a store refuses to start unless it was told which one.

use std::time::Duration;

use elector_host::store::mqtt::release::ReleaseOnDisconnect;

use super::broker::{BROKER_HEADING, BrokerArgs};
use super::values::duration;
use elector_host::mqtt::{ConnectionSettings, SettingsError};

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// No broker: a state store inside this process, for trying a command
    /// out. Nothing outside this process sees it.
    #[arg(long, help_heading = BROKER_HEADING)]
    pub embedded: bool,
    /// Longest wait for the first connection to the broker; the error then
    /// says why it failed (refused, unresolvable, no answer, TLS, ...).
    #[arg(long, default_value = "10s", value_parser = duration, help_heading = BROKER_HEADING)]
    pub connect_timeout: Duration,
}

/// The store a command was told to use, its flags checked.
#[derive(Debug)]
pub enum StoreChoice {
    Broker {
        settings: Box<ConnectionSettings>,
        connect_timeout: Duration,
        /// The position the connection releases if the broker loses it
        /// (set by the commands that hold one).
        release_on_disconnect: Option<ReleaseOnDisconnect>,
    },
    Embedded,
}

/// A mistake in the arguments (or the AIO environment) found after
/// parsing. Like clap's own, it ends the command with exit code 2 before
/// anything was tried.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "no state store given: use --broker mqtt://HOST:PORT, set the AIO environment \
         (AIO_BROKER_HOSTNAME, ...), or add --embedded for a store inside this process"
    )]
    NoStore,
    #[error(
        "--embedded and a broker (--broker, --hostname or AIO_BROKER_HOSTNAME) are both given; \
         give one"
    )]
    EmbeddedAndBroker,
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl StoreArgs {
    /// The store the flags name; an error when they name none or two.
    pub fn choice(&self) -> Result<StoreChoice, UsageError> {
        match (self.embedded, self.broker.names_a_broker()) {
            (true, true) => Err(UsageError::EmbeddedAndBroker),
            (true, false) => Ok(StoreChoice::Embedded),
            (false, true) => Ok(StoreChoice::Broker {
                settings: Box::new(self.broker.settings()?),
                connect_timeout: self.connect_timeout,
                release_on_disconnect: None,
            }),
            (false, false) => Err(UsageError::NoStore),
        }
    }
}

/// What every command that talks to a store takes. The store's flags come
/// last: their help heading holds for every flag after them.
#[derive(Debug, clap::Args)]
pub struct ConnectionArgs {
    /// Longest wait for any state-store answer.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub request_timeout: Duration,
    /// Print JSON lines instead of text (errors too: `"event": "error"`).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(embedded: bool, broker: Option<&str>) -> StoreArgs {
        StoreArgs {
            broker: BrokerArgs {
                broker: broker.map(str::to_owned),
                ..BrokerArgs::default()
            },
            embedded,
            connect_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn a_store_must_be_named_once() {
        assert!(matches!(
            args(false, None).choice(),
            Err(UsageError::NoStore)
        ));
        assert!(matches!(
            args(true, Some("mqtt://h")).choice(),
            Err(UsageError::EmbeddedAndBroker)
        ));
        assert!(matches!(
            args(true, None).choice(),
            Ok(StoreChoice::Embedded)
        ));
        assert!(matches!(
            args(false, Some("mqtt://h:1884")).choice(),
            Ok(StoreChoice::Broker { settings, .. }) if settings.port == 1884
        ));
        assert!(matches!(
            args(false, Some("http://h")).choice(),
            Err(UsageError::Settings(SettingsError::BadUrl(_)))
        ));
    }

    #[test]
    fn the_refusal_names_every_way_to_give_a_store() {
        let text = UsageError::NoStore.to_string();
        for way in ["--broker", "AIO_BROKER_HOSTNAME", "--embedded"] {
            assert!(text.contains(way), "{text}");
        }
        assert!(!text.contains('\n'));
    }
}
