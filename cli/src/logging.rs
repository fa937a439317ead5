//! Logs on stderr. A long-running command (`run`, `statestore`) logs one
//! line per state change at `info` by default, so an operator sees what it
//! does; the short commands log only warnings, so their output stays the
//! result. `RUST_LOG` overrides either. Colours only on a terminal, and
//! never with `NO_COLOR` set (<https://no-color.org>).

use std::ffi::OsString;
use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// The default filter of a long-running command.
pub const SERVICE_DEFAULT: &str =
    "warn,elector_host=info,elector_ops=info,elector_service=info,elector_cli=info";
/// The default filter of a command that prints a result.
pub const COMMAND_DEFAULT: &str = "warn";

/// Installs the process's logger; `default_filter` applies unless
/// `RUST_LOG` is set.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Whether to colour text logs: on a terminal, unless `NO_COLOR` holds
/// anything (an empty value does not count, as the convention says).
fn colour(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
