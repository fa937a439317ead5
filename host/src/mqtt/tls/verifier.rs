//! The broker-certificate verifier: rustls's own, with refusals that name
//! the roots the certificate was checked against.

use std::fmt;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme};

use super::Roots;

/// rustls's WebPKI verifier, which on refusing the broker's certificate
/// says which roots it trusted: "UnknownIssuer" alone does not tell an
/// operator whether the system's roots or their CA file were used, and that
/// decides the fix. (The alert the broker is sent is then a generic
/// handshake failure rather than "unknown CA".)
#[derive(Debug)]
pub(super) struct NamingRoots {
    pub(super) webpki: Arc<WebPkiServerVerifier>,
    pub(super) roots: Roots,
}

/// A refused broker certificate, with the roots it was checked against.
#[derive(Debug)]
struct Refused {
    error: rustls::Error,
    roots: Roots,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the broker's certificate was refused ({}), trusting {}",
            self.error, self.roots
        )?;
        if matches!(self.roots, Roots::System { .. }) {
            f.write_str("; a broker with a private CA needs --ca-file or AIO_TLS_CA_FILE")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl ServerCertVerifier for NamingRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|error| {
                tracing::debug!(%error, roots = %self.roots, "broker's certificate refused");
                rustls::Error::Other(OtherError(Arc::new(Refused {
                    error,
                    roots: self.roots.clone(),
                })))
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.webpki.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.webpki.root_hint_subjects()
    }
}
