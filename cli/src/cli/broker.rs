//! The broker flags every command that reaches a state store shares, each
//! also read from its AIO environment variable. They only say what was
//! given: [`BrokerArgs::settings`] hands them to the library
//! ([`elector_host::mqtt::BrokerOptions`]), which checks them and reads the
//! files they name.

use std::path::PathBuf;

use clap::Args;
use elector_host::mqtt::{BrokerOptions, ConnectionSettings, SettingsError};

/// The `--help` heading the broker flags share, so a user sees in one
/// place every way to say where the broker is.
pub const BROKER_HEADING: &str = "Broker (each flag can also come from the AIO environment)";

/// Broker connection flags, each also read from its AIO environment variable.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = BROKER_HEADING)]
pub struct BrokerArgs {
    /// Broker URL: mqtt://host[:port] or mqtts://host[:port] (TLS). Shorthand
    /// for --hostname, --port and --tls.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Broker host name.
    #[arg(long, env = "AIO_BROKER_HOSTNAME", value_name = "HOST")]
    pub hostname: Option<String>,
    /// Broker TCP port [default: 1883, or 8883 with TLS].
    #[arg(long, env = "AIO_BROKER_TCP_PORT", value_name = "PORT")]
    pub port: Option<u16>,
    /// Connect with TLS.
    #[arg(long, env = "AIO_MQTT_USE_TLS", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tls: Option<bool>,
    /// CA certificate(s) to trust, PEM (TLS only) [default: the system's
    /// root certificates].
    #[arg(long, env = "AIO_TLS_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// MQTT client id [default: a unique generated one].
    #[arg(long, env = "AIO_MQTT_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// User name for password authentication.
    #[arg(long, env = "AIO_MQTT_USERNAME", value_name = "NAME")]
    pub username: Option<String>,
    /// File holding the password (with --username).
    #[arg(long, env = "AIO_MQTT_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Client certificate, PEM (TLS only; with --key-file).
    #[arg(long, env = "AIO_TLS_CERT_FILE", value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// Client private key, PEM (with --cert-file); may be encrypted
    /// (PKCS#8 `ENCRYPTED PRIVATE KEY`, with --key-password-file).
    #[arg(long, env = "AIO_TLS_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// File holding the password of an encrypted --key-file.
    #[arg(long, env = "AIO_TLS_KEY_PASSWORD_FILE", value_name = "FILE")]
    pub key_password_file: Option<PathBuf>,
    /// Kubernetes service account token file, sent with MQTT 5 enhanced
    /// authentication (K8S-SAT).
    #[arg(long, env = "AIO_SAT_FILE", value_name = "FILE")]
    pub sat_file: Option<PathBuf>,
    /// Keep-alive in seconds [default: 60].
    #[arg(long, env = "AIO_MQTT_KEEP_ALIVE", value_name = "SECONDS")]
    pub keep_alive: Option<u64>,
    /// Session expiry in seconds [default: 3600].
    #[arg(long, env = "AIO_MQTT_SESSION_EXPIRY", value_name = "SECONDS")]
    pub session_expiry: Option<u32>,
    /// Start a clean session on connect [default: true for clients, which
    /// re-subscribe and re-register their watches on every reconnect; false
    /// for `elector statestore`, whose requests must queue at the broker
    /// while it reconnects].
    #[arg(long, env = "AIO_MQTT_CLEAN_START", value_name = "BOOL")]
    pub clean_start: Option<bool>,
}

impl BrokerArgs {
    /// The flags as the library takes them.
    pub fn options(&self) -> BrokerOptions {
        let BrokerArgs {
            broker,
            hostname,
            port,
            tls,
            ca_file,
            client_id,
            username,
            password_file,
            cert_file,
            key_file,
            key_password_file,
            sat_file,
            keep_alive,
            session_expiry,
            clean_start,
        } = self.clone();
        BrokerOptions {
            broker,
            hostname,
            port,
            tls,
            ca_file,
            client_id,
            username,
            password_file,
            cert_file,
            key_file,
            key_password_file,
            sat_file,
            keep_alive,
            session_expiry,
            clean_start,
        }
    }

    /// True when any broker setting was given (so the command runs against a
    /// broker rather than the embedded store).
    pub fn names_a_broker(&self) -> bool {
        self.options().names_a_broker()
    }

    /// See [`BrokerOptions::settings`].
    pub fn settings(&self) -> Result<ConnectionSettings, SettingsError> {
        self.options().settings()
    }

    /// See [`BrokerOptions::settings_with_clean_start`].
    pub fn settings_with_clean_start(
        &self,
        default_clean_start: bool,
    ) -> Result<ConnectionSettings, SettingsError> {
        self.options()
            .settings_with_clean_start(default_clean_start)
    }
}
