//! What can be wrong with broker settings, and reading the files they
//! name (tokens, passwords, certificates, keys), shared by the settings and
//! TLS.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Settings that cannot work, named in one line before anything connects.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("no broker given: use --broker mqtt://host:port or set AIO_BROKER_HOSTNAME")]
    NoBroker,
    #[error("--broker {0:?} is not mqtt://host[:port] or mqtts://host[:port]")]
    BadUrl(String),
    #[error("--broker and --hostname/AIO_BROKER_HOSTNAME both name a broker; give one")]
    TwoBrokers,
    #[error("{0} needs TLS (--tls or AIO_MQTT_USE_TLS=true, or an mqtts:// URL)")]
    NeedsTls(&'static str),
    #[error(
        "TLS without a CA file trusts the system's root certificates, and none were found \
         ({0}): give the broker's CA with --ca-file or AIO_TLS_CA_FILE"
    )]
    NoSystemRoots(String),
    #[error("--cert-file and --key-file go together")]
    HalfClientCertificate,
    #[error(
        "--key-password-file (AIO_TLS_KEY_PASSWORD_FILE) needs --key-file (AIO_TLS_KEY_FILE), \
         the key it decrypts"
    )]
    KeyPasswordWithoutKey,
    #[error(
        "the private key {0} is encrypted: give the file holding its password with \
         --key-password-file or AIO_TLS_KEY_PASSWORD_FILE"
    )]
    EncryptedKeyWithoutPassword(PathBuf),
    #[error("the password in {password_file} does not decrypt the private key {key}")]
    WrongKeyPassword {
        key: PathBuf,
        password_file: PathBuf,
    },
    #[error(
        "the private key {key} is encrypted in a way elector cannot read ({how}); \
         re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
    )]
    UnsupportedKeyEncryption { key: PathBuf, how: String },
    #[error("--password-file needs --username")]
    PasswordWithoutUsername,
    #[error(
        "a service account token (AIO_SAT_FILE) and a user name cannot be used together: \
         K8S-SAT authentication replaces user name and password"
    )]
    SatWithUsername,
    #[error("keep-alive of {0} s is out of range (5 to 65535)")]
    KeepAlive(u64),
    #[error("reading {what} {path}: {error}")]
    Read {
        what: &'static str,
        path: PathBuf,
        error: String,
    },
    /// A file that was read but cannot be used.
    #[error("{what} {path}: {reason}")]
    Unusable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

pub(crate) fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, SettingsError> {
    std::fs::read(path).map_err(|error| SettingsError::Read {
        what,
        path: path.to_owned(),
        error: error.to_string(),
    })
}

/// A service account token file's contents, without trailing whitespace.
pub fn read_token(path: &Path) -> Result<Vec<u8>, SettingsError> {
    Ok(trimmed(read("token", path)?))
}

/// Secrets written by tools usually end with a newline that is not part of
/// them.
pub(crate) fn trimmed(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    bytes
}
