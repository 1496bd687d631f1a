//! Which certificate authorities the sync client trusts (docs/decisions/0015).
//!
//! TLS is rustls with the ring provider. By default the sync server's certificate is checked by
//! the platform (rustls-platform-verifier: Android's and Apple's own verifiers, the system's CA
//! store elsewhere), so a phone trusts what the phone trusts. A private deployment whose server
//! has a certificate from its own authority adds that authority beside the platform's; tests
//! trust only their own throwaway authority.
//!
//! On Android the platform verifier must be initialised from the app once (see the bindings'
//! `android.rs` and android/README.md).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why a certificate authority given to the client cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("the server's certificate authority could not be read ({0}); give it as PEM text")]
    Pem(String),
    #[error("no certificate in the text given for the server's certificate authority (PEM starts with -----BEGIN CERTIFICATE-----)")]
    Empty,
    #[error("this certificate cannot serve as the server's certificate authority: {0}")]
    Root(String),
}

/// The certificate authorities that vouch for the sync server.
#[derive(Debug, Clone)]
pub struct ServerTrust {
    platform: bool,
    extra: Vec<CertificateDer<'static>>,
}

impl Default for ServerTrust {
    fn default() -> Self {
        Self::platform()
    }
}

impl ServerTrust {
    /// The platform's trust store: what production phones use.
    pub fn platform() -> Self {
        ServerTrust { platform: true, extra: Vec::new() }
    }

    /// The platform's trust store and the authorities in `pem` (a private deployment's own CA).
    pub fn platform_and(pem: &str) -> Result<Self, TrustError> {
        Ok(ServerTrust { platform: true, extra: parse(pem)? })
    }

    /// Only the authorities in `pem` (tests, or a deployment that pins its own CA).
    pub fn only(pem: &str) -> Result<Self, TrustError> {
        Ok(ServerTrust { platform: false, extra: parse(pem)? })
    }

    /// A rustls client configuration (ring, TLS 1.2 and 1.3, HTTP/1.1) that checks the server's
    /// certificate against these authorities.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut verifiers: Vec<Arc<dyn ServerCertVerifier>> = Vec::new();
        if !self.extra.is_empty() {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(self.extra.iter().cloned());
            match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build() {
                Ok(verifier) => verifiers.push(verifier),
                Err(err) => tracing::error!(error = %err, "the extra certificate authorities cannot be used"),
            }
        }
        if self.platform {
            match rustls_platform_verifier::Verifier::new(provider.clone()) {
                Ok(verifier) => verifiers.push(Arc::new(verifier)),
                // E.g. a Linux machine without a CA bundle: https then works only with extra roots.
                Err(err) => tracing::error!(error = %err, "the platform's certificate authorities are not available"),
            }
        }
        let verifier = AnyOf { verifiers, algorithms: provider.signature_verification_algorithms };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous() // the rustls name for "a verifier of our choosing"; it verifies
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

fn parse(pem: &str) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let certs =
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().map_err(|e| TrustError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TrustError::Empty);
    }
    let mut roots = RootCertStore::empty();
    for cert in &certs {
        roots.add(cert.clone()).map_err(|e| TrustError::Root(e.to_string()))?;
    }
    Ok(certs)
}

/// Trusts a certificate that any of its verifiers accepts; none at all trusts nothing.
#[derive(Debug)]
struct AnyOf {
    verifiers: Vec<Arc<dyn ServerCertVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyOf {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut refusal = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        for verifier in &self.verifiers {
            match verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Ok(verified) => return Ok(verified),
                Err(err) => refusal = err,
            }
        }
        Err(refusal)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The certificate problem behind a failed connection, in words, if that is what it was.
pub(crate) fn certificate_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(rustls::Error::InvalidCertificate(problem)) = err.downcast_ref::<rustls::Error>() {
            return Some(describe(problem));
        }
        // io::Error::source skips the error an io::Error wraps (and reqwest's connector wraps
        // rustls's error in two): step into it instead.
        next = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn describe(problem: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match problem {
        C::UnknownIssuer => "its certificate is not from an authority this phone trusts".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => "its certificate is for another address".into(),
        C::Expired | C::ExpiredContext { .. } => "its certificate has expired".into(),
        other => format!("its certificate is not valid ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_authority_text_is_refused_with_a_reason() {
        assert_eq!(ServerTrust::only("").unwrap_err(), TrustError::Empty);
        assert_eq!(ServerTrust::only("not a certificate").unwrap_err(), TrustError::Empty);
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(ServerTrust::only(broken), Err(TrustError::Root(_) | TrustError::Pem(_))), "{:?}", ServerTrust::only(broken));
    }
}
