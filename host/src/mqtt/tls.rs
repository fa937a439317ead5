//! TLS to the broker: which root certificates vouch for it, the client's
//! certificate and (possibly encrypted) key, and the rustls configuration
//! rumqttc is handed.
//!
//! The configuration is built when the settings are read, not on the first
//! connect, so an unusable file (a CA file without certificates, a key that
//! does not decrypt or does not match its certificate) is refused before
//! anything connects, in one line naming the file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pkcs8::der::pem::PemLabel;
use pkcs8::{EncryptedPrivateKeyInfo, PrivateKeyInfo, SecretDocument, pkcs5};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::error::{SettingsError, read, trimmed};
use verifier::NamingRoots;

mod verifier;

/// TLS as configured: the rustls client configuration, and the roots it
/// trusts (for messages).
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ClientConfig>,
    roots: Roots,
    client_certificate: bool,
}

/// The root certificates a broker's certificate must chain to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    /// Exactly the certificates in the CA file given (`--ca-file`,
    /// `AIO_TLS_CA_FILE`): an AIO broker's CA is private, and trusting the
    /// system's roots besides would let any public CA vouch for it.
    CaFile { path: PathBuf, certificates: usize },
    /// The system's, when no CA file is given, so a broker with a publicly
    /// signed certificate just works. Found as rustls-native-certs finds
    /// them: `SSL_CERT_FILE` and `SSL_CERT_DIR` when set, else the
    /// platform's store; `from` says which.
    System { certificates: usize, from: String },
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::CaFile { path, certificates } => write!(
                f,
                "only the CA file {} ({})",
                path.display(),
                count(*certificates, "certificate")
            ),
            Roots::System { certificates, from } => write!(
                f,
                "the system's root certificates ({}, from {from})",
                count(*certificates, "certificate")
            ),
        }
    }
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl fmt::Debug for TlsSettings {
    /// The roots and whether a client certificate is sent: the rustls
    /// configuration's own Debug is long and says nothing an operator
    /// configured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots)
            .field("client_certificate", &self.client_certificate)
            .finish_non_exhaustive()
    }
}

/// The files TLS is configured from (their combinations already checked).
pub(super) struct TlsFiles<'a> {
    pub ca_file: Option<&'a Path>,
    pub cert_file: Option<&'a Path>,
    pub key_file: Option<&'a Path>,
    pub key_password_file: Option<&'a Path>,
}

impl TlsSettings {
    /// Reads the TLS files and builds the configuration.
    pub(super) fn load(args: TlsFiles<'_>) -> Result<TlsSettings, SettingsError> {
        // The provider is given, not installed process-wide: nothing then
        // depends on which crate installed one first.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (store, roots) = match args.ca_file {
            Some(path) => ca_file_roots(path)?,
            None => system_roots()?,
        };
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
            .build()
            .expect("the roots are not empty and no CRL is given");
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring's provider supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamingRoots {
                webpki,
                roots: roots.clone(),
            }));
        let config = match (args.cert_file, args.key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates("certificate", cert, &read("certificate", cert)?)?;
                let key_der = private_key(key, &read("private key", key)?, args.key_password_file)?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|error| SettingsError::Unusable {
                        what: "private key",
                        path: key.to_owned(),
                        reason: match error {
                            rustls::Error::InconsistentKeys(_) => {
                                format!("does not belong to the certificate {}", cert.display())
                            }
                            other => other.to_string(),
                        },
                    })?
            }
            _ => builder.with_no_client_auth(),
        };
        let client_certificate = args.cert_file.is_some();
        tracing::debug!(%roots, client_certificate, "TLS to the broker");
        Ok(TlsSettings {
            config: Arc::new(config),
            roots,
            client_certificate,
        })
    }

    /// The roots the broker's certificate is checked against.
    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// For rumqttc: no ALPN, the roots and the client certificate (if any).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

fn ca_file_roots(path: &Path) -> Result<(RootCertStore, Roots), SettingsError> {
    let found = certificates("CA file", path, &read("CA file", path)?)?;
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(found);
    if added == 0 {
        return Err(SettingsError::Unusable {
            what: "CA file",
            path: path.to_owned(),
            reason: "holds no certificate usable as a root".into(),
        });
    }
    if ignored > 0 {
        tracing::debug!(path = %path.display(), ignored, "CA file certificates not usable as roots");
    }
    let roots = Roots::CaFile {
        path: path.to_owned(),
        certificates: added,
    };
    Ok((store, roots))
}

fn system_roots() -> Result<(RootCertStore, Roots), SettingsError> {
    let from = system_roots_location();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "skipped while loading the system's root certificates");
    }
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .iter()
            .map(ToString::to_string)
            .chain(std::iter::once(format!("looked in {from}")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(SettingsError::NoSystemRoots(why));
    }
    Ok((
        store,
        Roots::System {
            certificates: added,
            from,
        },
    ))
}

/// Where rustls-native-certs looks: the variables it honours, when set.
fn system_roots_location() -> String {
    let set: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .into_iter()
        .filter_map(|name| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(|value| format!("{name}={}", value.display()))
        })
        .collect();
    if set.is_empty() {
        "the platform's store".into()
    } else {
        set.join(" and ")
    }
}

/// Every certificate in a PEM file; none is an error.
fn certificates(
    what: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, SettingsError> {
    let unusable = |reason: String| SettingsError::Unusable {
        what,
        path: path.to_owned(),
        reason,
    };
    let found = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unusable(pem_problem(error)))?;
    if found.is_empty() {
        return Err(unusable("holds no PEM certificate".into()));
    }
    Ok(found)
}

/// The private key in `pem`: unencrypted (PKCS#8, PKCS#1 or SEC1, as rustls
/// reads them), or PKCS#8 encrypted with a password (PBES2: what
/// `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes), the password read from
/// `password_file`.
fn private_key(
    path: &Path,
    pem: &[u8],
    password_file: Option<&Path>,
) -> Result<PrivateKeyDer<'static>, SettingsError> {
    if let Some(encrypted) = encrypted_key(path, pem)? {
        // Read before asking for a password: a scheme pkcs8 does not know
        // (PBES1, PBES2 with 3DES) fails here, and no password would help.
        let info = EncryptedPrivateKeyInfo::try_from(encrypted.as_bytes()).map_err(|error| {
            SettingsError::UnsupportedKeyEncryption {
                key: path.to_owned(),
                how: error.to_string(),
            }
        })?;
        let Some(password_file) = password_file else {
            return Err(SettingsError::EncryptedKeyWithoutPassword(path.to_owned()));
        };
        let password = trimmed(read("key password", password_file)?);
        return decrypt(path, &info, &password, password_file);
    }
    // OpenSSL's own, pre-PKCS#8 encryption: headers inside the PEM block,
    // which rustls's reader would report as bad base64.
    if contains(pem, b"Proc-Type: 4,ENCRYPTED") {
        return Err(SettingsError::UnsupportedKeyEncryption {
            key: path.to_owned(),
            how: "OpenSSL's legacy PEM encryption".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|error| SettingsError::Unusable {
        what: "private key",
        path: path.to_owned(),
        reason: match error {
            pem::Error::NoItemsFound => "holds no PEM private key".into(),
            other => pem_problem(other),
        },
    })?;
    if let Some(password_file) = password_file {
        // Accepted, as the AIO SDK accepts it: a deployment may set the
        // variable for every workload, whatever each key is.
        tracing::warn!(
            key = %path.display(),
            password_file = %password_file.display(),
            "the private key is not encrypted; its password file is not used"
        );
    }
    Ok(key)
}

/// The DER of an `ENCRYPTED PRIVATE KEY` PEM file, or None when the file
/// holds something else.
fn encrypted_key(path: &Path, pem: &[u8]) -> Result<Option<SecretDocument>, SettingsError> {
    let Ok(text) = std::str::from_utf8(pem) else {
        return Ok(None);
    };
    match SecretDocument::from_pem(text) {
        Ok((label, document)) if label == EncryptedPrivateKeyInfo::PEM_LABEL => Ok(Some(document)),
        Ok(_) => Ok(None),
        // Not one PEM document (several, or a label with a typo): only an
        // encrypted key is handled here, rustls's reader reports the rest.
        Err(_) if !contains(pem, EncryptedPrivateKeyInfo::PEM_LABEL.as_bytes()) => Ok(None),
        Err(error) => Err(SettingsError::Unusable {
            what: "private key",
            path: path.to_owned(),
            reason: format!("is not a readable encrypted key ({error})"),
        }),
    }
}

fn decrypt(
    path: &Path,
    info: &EncryptedPrivateKeyInfo<'_>,
    password: &[u8],
    password_file: &Path,
) -> Result<PrivateKeyDer<'static>, SettingsError> {
    let wrong_password = || SettingsError::WrongKeyPassword {
        key: path.to_owned(),
        password_file: password_file.to_owned(),
    };
    let decrypted = info.decrypt(password).map_err(|error| match error {
        // A wrong password gives bad padding (which pkcs5 0.7 reports as
        // `EncryptFailed` even when decrypting), or (rarely) good padding
        // around bytes that are not DER.
        pkcs8::Error::EncryptedPrivateKey(
            pkcs5::Error::DecryptFailed | pkcs5::Error::EncryptFailed,
        )
        | pkcs8::Error::Asn1(_) => wrong_password(),
        other => SettingsError::UnsupportedKeyEncryption {
            key: path.to_owned(),
            how: other.to_string(),
        },
    })?;
    // Good padding and DER by chance are not a key.
    PrivateKeyInfo::try_from(decrypted.as_bytes()).map_err(|_| wrong_password())?;
    Ok(PrivatePkcs8KeyDer::from(decrypted.as_bytes().to_vec()).into())
}

/// What is wrong with a PEM file, in words: the PEM reader's own messages
/// print the offending bytes as a list of numbers.
fn pem_problem(error: pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "has a PEM {} section without its END line",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "has a malformed PEM BEGIN line ({})",
            String::from_utf8_lossy(&line).trim_end()
        ),
        pem::Error::Base64Decode(_) => "has a PEM section that is not base64".into(),
        other => format!("is not readable PEM ({other})"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
