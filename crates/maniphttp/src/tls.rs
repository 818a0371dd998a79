//! TLS of the client (rustls): which server certificates are trusted (the system's CAs, or the
//! CAs of a PEM bundle, or any certificate in `insecure` mode) and the client certificate sent
//! for mutual TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::Error;

/// The TLS settings of a client. The default trusts the system's certificate authorities and
/// sends no client certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// Trust only the CAs of these PEM files (the system's CAs when empty).
    pub ca_files: Vec<PathBuf>,
    /// The client certificate chain and its private key (PEM), for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// Accept any server certificate (development only: anyone on the path can read and change
    /// the traffic).
    pub insecure: bool,
}

impl TlsSettings {
    /// The rustls configuration (TLS 1.2 and 1.3, ring), with the given ALPN protocols.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<ClientConfig, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = match &self.client_certificate {
            Some((chain, key)) => builder
                .with_client_auth_cert(certificates(chain)?, private_key(key)?)
                .map_err(|e| Error::Config(format!("client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    fn roots(&self) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        if self.ca_files.is_empty() {
            let native = rustls_native_certs::load_native_certs();
            for certificate in native.certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(certificate);
            }
            return Ok(roots);
        }
        for file in &self.ca_files {
            for certificate in certificates(file)? {
                roots
                    .add(certificate)
                    .map_err(|e| Error::Config(format!("{}: {e}", file.display())))?;
            }
        }
        Ok(roots)
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let read = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    if read.is_empty() {
        return Err(Error::Config(format!(
            "{}: no PEM certificate in the file",
            path.display()
        )));
    }
    Ok(read)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// Accepts any server certificate, but still checks that the server holds its key.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
