//! tls: mutual TLS between chaosctl and joltd's TCP listener.
//!
//! Owns reading the PEM files (a CA, a certificate chain, its key) and the
//! rustls configurations made of them: joltd's, which requires a client
//! certificate signed by the CA, and chaosctl's, which presents one and
//! verifies joltd's against the same CA under the name it dials (an IP
//! address or DNS name in the certificate's subject alternative names).
//! Also the words a failed handshake is said in: which side refused, and
//! why (another CA, expired, another name). TLS 1.2 and 1.3, ring's
//! cryptography.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what} {}: {cause}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        cause: String,
    },
    #[error("{0}")]
    Config(String),
}

/// The files of one side of mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Files {
    /// The CA the peer's certificate must be signed by.
    pub ca: PathBuf,
    /// This side's certificate (with its chain).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// ring's provider. rustls 0.23.48 marks it deprecated for having no
/// post-quantum key exchange; aws-lc-rs, which has one, would add a large
/// C build (cmake, minutes on CI) for a link between a person's chaosctl
/// and their own nodes, which classical ECDHE protects as every other
/// kubelet and containerd link is protected today.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process's default provider, for clients (reqwest, in a
/// registry pull) that take the default; once set, it stays.
pub fn install_default_provider() {
    let _ = rustls::crypto::CryptoProvider::install_default((*provider()).clone());
}

fn file_err(what: &'static str, path: &Path) -> impl FnOnce(String) -> TlsError {
    let path = path.to_path_buf();
    move |cause| TlsError::File { what, path, cause }
}

fn certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(what, path)(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(what, path)(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err(what, path)("no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err("key", path)(e.to_string()))
}

fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs("CA", path)? {
        roots
            .add(cert)
            .map_err(|e| file_err("CA", path)(e.to_string()))?;
    }
    Ok(Arc::new(roots))
}

impl Files {
    /// joltd's side: its certificate, and clients' certificates required
    /// and verified against the CA.
    pub fn server(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let verifier = WebPkiClientVerifier::builder_with_provider(roots(&self.ca)?, provider())
            .build()
            .map_err(|e| file_err("CA", &self.ca)(e.to_string()))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs("certificate", &self.cert)?, key(&self.key)?)
            .map_err(|e| self.mismatch(e))?;
        Ok(Arc::new(config))
    }

    /// The certificate and key that rustls would not pair.
    fn mismatch(&self, e: rustls::Error) -> TlsError {
        file_err("certificate", &self.cert)(format!("with its key {}: {e}", self.key.display()))
    }

    /// chaosctl's side: joltd's certificate verified against the CA, this
    /// one presented.
    pub fn client(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots(&self.ca)?)
            .with_client_auth_cert(certs("certificate", &self.cert)?, key(&self.key)?)
            .map_err(|e| self.mismatch(e))?;
        Ok(Arc::new(config))
    }
}

/// The TLS error in `e`'s chain of causes, in plain words from
/// chaosctl's side (the server's certificate refused here, or an alert the
/// server sent about ours); None when TLS is not the cause.
pub fn explain(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut at = Some(e);
    while let Some(err) = at {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(words(tls));
        }
        // An io::Error holding the rustls error keeps it as its inner
        // error, which source() skips.
        if let Some(tls) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(words(tls));
        }
        at = err.source();
    }
    None
}

fn words(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(why) => format!(
            "its certificate was refused: {} (is it signed by the fleet's CA, current, and made for this address or server-name?)",
            certificate_error(why)
        ),
        rustls::Error::AlertReceived(alert) => format!(
            "it refused our client certificate ({alert:?}): is it signed by the CA joltd trusts (--tls-ca), and current?"
        ),
        other => format!("TLS: {other}"),
    }
}

fn certificate_error(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match e {
        C::UnknownIssuer | C::BadSignature => "signed by another CA".into(),
        C::Expired | C::ExpiredContext { .. } => "expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "not made for the name or address dialled".into()
        }
        other => format!("{other:?}"),
    }
}
