//! How to reach an MQTT broker, the Azure IoT Operations way.
//!
//! Every setting can come from the environment variable an AIO workload is
//! given (`AIO_BROKER_HOSTNAME`, `AIO_MQTT_USE_TLS`, `AIO_SAT_FILE`, …) or
//! from the matching command-line flag; `--broker mqtt://host:port` (or
//! `mqtts://`) is a shorthand for host, port and TLS. Combinations that
//! cannot work are refused up front with a message that says why; so are
//! TLS files that cannot be used (see [`super::tls`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rumqttc::v5::MqttOptions;
use rumqttc::{NetworkOptions, TlsConfiguration, Transport};

pub use super::error::{SettingsError, read_token};
use super::error::{read, trimmed};
use super::tls::{TlsFiles, TlsSettings};

/// The authentication method AIO uses for Kubernetes service account tokens.
pub const SAT_AUTH_METHOD: &str = "K8S-SAT";

/// Where the broker is and how to connect, as given (the `elector` CLI's
/// broker flags, or anything else that fills these in); files not read yet,
/// combinations not checked yet: [`BrokerOptions::settings`] does both.
/// Every field is optional, as every flag is.
#[derive(Clone, Debug, Default)]
pub struct BrokerOptions {
    /// Broker URL: mqtt://host[:port] or mqtts://host[:port] (TLS). Shorthand
    /// for `hostname`, `port` and `tls`.
    pub broker: Option<String>,
    /// Broker host name (`AIO_BROKER_HOSTNAME`).
    pub hostname: Option<String>,
    /// Broker TCP port (`AIO_BROKER_TCP_PORT`) [default: 1883, or 8883 with
    /// TLS].
    pub port: Option<u16>,
    /// Connect with TLS (`AIO_MQTT_USE_TLS`).
    pub tls: Option<bool>,
    /// CA certificate(s) to trust, PEM (TLS only; `AIO_TLS_CA_FILE`)
    /// [default: the system's root certificates].
    pub ca_file: Option<PathBuf>,
    /// MQTT client id (`AIO_MQTT_CLIENT_ID`) [default: a unique generated
    /// one].
    pub client_id: Option<String>,
    /// User name for password authentication (`AIO_MQTT_USERNAME`).
    pub username: Option<String>,
    /// File holding the password (with `username`; `AIO_MQTT_PASSWORD_FILE`).
    pub password_file: Option<PathBuf>,
    /// Client certificate, PEM (TLS only; with `key_file`;
    /// `AIO_TLS_CERT_FILE`).
    pub cert_file: Option<PathBuf>,
    /// Client private key, PEM (with `cert_file`; `AIO_TLS_KEY_FILE`); may
    /// be encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`, with
    /// `key_password_file`).
    pub key_file: Option<PathBuf>,
    /// File holding the password of an encrypted `key_file`
    /// (`AIO_TLS_KEY_PASSWORD_FILE`).
    pub key_password_file: Option<PathBuf>,
    /// Kubernetes service account token file, sent with MQTT 5 enhanced
    /// authentication (K8S-SAT; `AIO_SAT_FILE`).
    pub sat_file: Option<PathBuf>,
    /// Keep-alive in seconds (`AIO_MQTT_KEEP_ALIVE`) [default: 60].
    pub keep_alive: Option<u64>,
    /// Session expiry in seconds (`AIO_MQTT_SESSION_EXPIRY`) [default: 3600].
    pub session_expiry: Option<u32>,
    /// Start a clean session on connect (`AIO_MQTT_CLEAN_START`) [default:
    /// see [`BrokerOptions::settings_with_clean_start`]].
    pub clean_start: Option<bool>,
}

/// Validated settings, files read.
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    pub hostname: String,
    pub port: u16,
    pub tls: Option<TlsSettings>,
    pub client_id: Option<String>,
    pub credentials: Credentials,
    pub keep_alive: Duration,
    pub session_expiry: Duration,
    pub clean_start: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    None,
    Password {
        username: String,
        password: String,
    },
    /// A user name without a password.
    Username(String),
    /// K8S-SAT: the token, and the file it came from (read again before
    /// every reconnect, see [`ConnectionSettings::token_file`]).
    ServiceAccountToken {
        file: PathBuf,
        token: Vec<u8>,
    },
}

impl BrokerOptions {
    /// True when any broker setting was given (so the command runs against a
    /// broker rather than the embedded store).
    pub fn names_a_broker(&self) -> bool {
        self.broker.is_some() || self.hostname.is_some()
    }

    pub fn settings(&self) -> Result<ConnectionSettings, SettingsError> {
        self.settings_with_clean_start(true)
    }

    /// As [`BrokerOptions::settings`], with another default for clean start.
    pub fn settings_with_clean_start(
        &self,
        default_clean_start: bool,
    ) -> Result<ConnectionSettings, SettingsError> {
        let (hostname, url_port, url_tls) = match (&self.broker, &self.hostname) {
            (Some(_), Some(_)) => return Err(SettingsError::TwoBrokers),
            (Some(url), None) => parse_broker_url(url)?,
            (None, Some(host)) => (host.clone(), None, None),
            (None, None) => return Err(SettingsError::NoBroker),
        };
        let use_tls = url_tls.or(self.tls).unwrap_or(false);
        let port = url_port
            .or(self.port)
            .unwrap_or(if use_tls { 8883 } else { 1883 });
        if !use_tls {
            for (given, what) in [
                (self.ca_file.is_some(), "--ca-file"),
                (self.cert_file.is_some(), "--cert-file"),
                (self.key_file.is_some(), "--key-file"),
                (self.key_password_file.is_some(), "--key-password-file"),
            ] {
                if given {
                    return Err(SettingsError::NeedsTls(what));
                }
            }
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(SettingsError::HalfClientCertificate);
        }
        if self.key_password_file.is_some() && self.key_file.is_none() {
            return Err(SettingsError::KeyPasswordWithoutKey);
        }
        if self.password_file.is_some() && self.username.is_none() {
            return Err(SettingsError::PasswordWithoutUsername);
        }
        if self.sat_file.is_some() && self.username.is_some() {
            return Err(SettingsError::SatWithUsername);
        }
        let keep_alive = self.keep_alive.unwrap_or(60);
        // rumqttc refuses (panics on) keep-alives under 5 s.
        if !(5..=u64::from(u16::MAX)).contains(&keep_alive) {
            return Err(SettingsError::KeepAlive(keep_alive));
        }
        let tls = if use_tls {
            Some(TlsSettings::load(TlsFiles {
                ca_file: self.ca_file.as_deref(),
                cert_file: self.cert_file.as_deref(),
                key_file: self.key_file.as_deref(),
                key_password_file: self.key_password_file.as_deref(),
            })?)
        } else {
            None
        };
        let credentials = match (&self.sat_file, &self.username, &self.password_file) {
            (Some(sat), _, _) => Credentials::ServiceAccountToken {
                file: sat.clone(),
                token: read_token(sat)?,
            },
            (None, Some(username), Some(password)) => Credentials::Password {
                username: username.clone(),
                password: String::from_utf8_lossy(&trimmed(read("password", password)?))
                    .into_owned(),
            },
            (None, Some(username), None) => Credentials::Username(username.clone()),
            (None, None, _) => Credentials::None,
        };
        Ok(ConnectionSettings {
            hostname,
            port,
            tls,
            client_id: self.client_id.clone(),
            credentials,
            keep_alive: Duration::from_secs(keep_alive),
            session_expiry: Duration::from_secs(u64::from(self.session_expiry.unwrap_or(3600))),
            clean_start: self.clean_start.unwrap_or(default_clean_start),
        })
    }
}

/// `(host, port, tls)` from `mqtt://host[:port]` or `mqtts://host[:port]`.
fn parse_broker_url(url: &str) -> Result<(String, Option<u16>, Option<bool>), SettingsError> {
    let bad = || SettingsError::BadUrl(url.to_owned());
    let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("mqtt://") {
        (false, rest)
    } else {
        return Err(bad());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(bad());
    }
    // [v6::addr]:port, host:port, or host.
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = port
        .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad))
        .transpose()?;
    Ok((host.to_owned(), port, Some(tls)))
}

impl ConnectionSettings {
    /// Options for rumqttc, with TCP_NODELAY (Nagle's algorithm costs tens
    /// of milliseconds per request/response round trip).
    pub fn mqtt_options(&self, client_id: &str) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, &self.hostname, self.port);
        options
            .set_keep_alive(self.keep_alive)
            .set_clean_start(self.clean_start)
            .set_session_expiry_interval(Some(
                u32::try_from(self.session_expiry.as_secs()).unwrap_or(u32::MAX),
            ))
            .set_max_packet_size(Some(MAX_PACKET_BYTES));
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        network.set_connection_timeout(10);
        options.set_network_options(network);
        match &self.credentials {
            Credentials::None => {}
            Credentials::Password { username, password } => {
                options.set_credentials(username, password);
            }
            Credentials::Username(username) => {
                options.set_credentials(username, "");
            }
            Credentials::ServiceAccountToken { token, .. } => {
                options
                    .set_authentication_method(Some(SAT_AUTH_METHOD.to_owned()))
                    .set_authentication_data(Some(token.clone().into()));
            }
        }
        if let Some(tls) = &self.tls {
            options.set_transport(Transport::Tls(TlsConfiguration::Rustls(
                tls.client_config(),
            )));
        }
        options
    }

    /// The service account token file, when K8S-SAT authenticates. Kubernetes
    /// rotates projected tokens (hourly by default), so a long-running
    /// process must send the file's current token on every reconnect, not
    /// the one it read at start.
    pub fn token_file(&self) -> Option<&Path> {
        match &self.credentials {
            Credentials::ServiceAccountToken { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The client id to use: the configured one, or `prefix-<random>`.
    pub fn client_id_or(&self, prefix: &str) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("{prefix}-{:016x}", rand::random::<u64>()))
    }
}

/// Largest MQTT packet elector accepts: bounds the memory one request or
/// response may take (values are at most 1 MiB in the store's default
/// limits, plus headroom for keys and properties).
pub const MAX_PACKET_BYTES: u32 = 2 << 20;

#[cfg(test)]
mod tests;
