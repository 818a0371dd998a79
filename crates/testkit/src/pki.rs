//! A certificate authority made in the test (rcgen): its certificate is `ca.pem` in a scratch
//! folder, and it signs server and client certificates, written next to it as PEM files or
//! handed over in memory.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::env::TempDir;

/// A test CA and its scratch folder (removed on drop).
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: TempDir,
}

impl TestCa {
    /// A new CA (common name `test ca`), its certificate written as `ca.pem` in a scratch
    /// folder named after `prefix`.
    pub fn new(prefix: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "test ca");
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let ca = Self {
            issuer,
            dir: TempDir::new(prefix),
        };
        std::fs::write(ca.path("ca.pem"), ca.issuer.pem()).expect("write ca.pem");
        ca
    }

    /// A file of the scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA's certificate.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// Parameters of a server certificate for the DNS names `names` and 127.0.0.1, whose
    /// subject has `entry` (a common name or an organization, say).
    pub fn server_params(names: &[&str], entry: (DnType, &str)) -> CertificateParams {
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.distinguished_name.push(entry.0, entry.1);
        params
    }

    /// Signs a certificate of `params`, with a new key.
    pub fn sign(&self, params: CertificateParams) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().expect("key");
        let certificate = params.signed_by(&key, &self.issuer).expect("signed");
        (certificate, key)
    }

    /// Signs a certificate of `params` and writes it as `<stem>.pem` and its key as
    /// `<stem>-key.pem`, each written aside then renamed, as certificate tools do.
    pub fn write(&self, stem: &str, params: CertificateParams) {
        let (certificate, key) = self.sign(params);
        write_atomically(&self.path(&format!("{stem}.pem")), &certificate.pem());
        write_atomically(&self.path(&format!("{stem}-key.pem")), &key.serialize_pem());
    }

    /// Signs a certificate of `params` and hands it over with its key, for a client.
    pub fn identity(
        &self,
        params: CertificateParams,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let (certificate, key) = self.sign(params);
        let key = PrivateKeyDer::try_from(key.serialize_der()).expect("private key");
        (certificate.der().clone(), key)
    }
}

fn write_atomically(path: &Path, text: &str) {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, text).expect("write aside");
    std::fs::rename(&aside, path).expect("rename");
}
