//! TLS on the ReST (and push) listener: certificates from PEM files, reloaded when the files
//! change or on `SIGHUP`; TLS 1.2 and 1.3; ALPN `h2` and `http/1.1`; client certificates
//! (mutual TLS) verified against a CA bundle, their identity given to authenticators
//! ([`elemental::Request::client_certificate`]) and turned into claims by
//! [`CertificateAuthenticator`].
//!
//! ```no_run
//! use bahamut::tls::{ClientAuth, TlsOptions};
//! let tls = TlsOptions::new("server.pem", "server-key.pem")
//!     .with_client_ca("clients-ca.pem", ClientAuth::Require);
//! let options = bahamut::Options::new().with_tls(tls);
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use elemental::{ClientCertificate, SubjectAltName, hex};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use crate::auth::{AuthAction, AuthContext, RequestAuthenticator};
use crate::metrics::Metrics;

/// Whether clients must present a certificate (mutual TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for (Go's `NoClientCert`). The default.
    #[default]
    Off,
    /// A client certificate is asked for and verified when given; clients without one are
    /// served too (Go's `VerifyClientCertIfGiven`).
    Request,
    /// A verified client certificate is required: the handshake fails without one (Go's
    /// `RequireAndVerifyClientCert`).
    Require,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;

    /// `off`, `request` or `require`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Self::Off),
            "request" => Ok(Self::Request),
            "require" => Ok(Self::Require),
            other => Err(format!(
                "unknown client authentication mode '{other}': expected off, request or require"
            )),
        }
    }
}

/// The TLS settings of the ReST listener.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    certificate: PathBuf,
    key: PathBuf,
    /// The client CA bundle and what is asked of clients.
    client_ca: Option<(PathBuf, ClientAuth)>,
    reload_interval: Duration,
}

impl TlsOptions {
    /// TLS with the certificate chain of `certificate` (PEM, the server's certificate first) and
    /// the private key of `key` (PEM: PKCS#8, PKCS#1 or SEC1); no client certificates; the files
    /// are checked for changes every 10 s.
    pub fn new(certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            certificate: certificate.into(),
            key: key.into(),
            client_ca: None,
            reload_interval: Duration::from_secs(10),
        }
    }

    /// Client certificates are verified against the CAs of `bundle` (PEM), asked for or
    /// required as `mode` says ([`ClientAuth::Off`] leaves the bundle unused).
    pub fn with_client_ca(mut self, bundle: impl Into<PathBuf>, mode: ClientAuth) -> Self {
        self.client_ca = Some((bundle.into(), mode));
        self
    }

    /// How often the certificate, key and CA files are checked for changes (their modification
    /// time and size). Default 10 s; zero turns the check off (`SIGHUP` still reloads).
    pub fn with_reload_interval(mut self, interval: Duration) -> Self {
        self.reload_interval = interval;
        self
    }

    fn files(&self) -> impl Iterator<Item = &Path> {
        let bundle = self.client_ca.as_ref().map(|(bundle, _)| bundle);
        [Some(&self.certificate), Some(&self.key), bundle]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
    }
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, the key or the CA bundle.
    #[error("{0}")]
    Rustls(String),
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no PEM certificate in the file"));
    }
    Ok(certificates)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error(path, e))
}

/// Builds the rustls configuration from the files.
fn load(options: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let rustls_error = |e: rustls::Error| TlsError::Rustls(e.to_string());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(rustls_error)?;
    let builder = match &options.client_ca {
        None | Some((_, ClientAuth::Off)) => builder.with_no_client_auth(),
        Some((bundle, mode)) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in read_certificates(bundle)? {
                roots.add(certificate).map_err(|e| file_error(bundle, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match mode {
                ClientAuth::Request => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let chain = read_certificates(&options.certificate)?;
    let key = read_key(&options.key)?;
    let mut config = builder.with_single_cert(chain, key).map_err(rustls_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// When and how big each watched file was.
type Stamps = Vec<Option<(SystemTime, u64)>>;

fn stamps(options: &TlsOptions) -> Stamps {
    options
        .files()
        .map(|path| {
            let metadata = std::fs::metadata(path).ok()?;
            Some((metadata.modified().ok()?, metadata.len()))
        })
        .collect()
}

/// The TLS configuration in use, replaced on reload; connections keep the one they started with.
pub(crate) struct TlsState {
    options: TlsOptions,
    config: RwLock<Arc<ServerConfig>>,
    stamps: Mutex<Stamps>,
}

impl TlsState {
    /// Loads the files, or says why they cannot be used.
    pub(crate) fn new(options: &TlsOptions) -> Result<Arc<Self>, TlsError> {
        let config = load(options)?;
        Ok(Arc::new(Self {
            options: options.clone(),
            config: RwLock::new(config),
            stamps: Mutex::new(stamps(options)),
        }))
    }

    fn current(&self) -> Option<Arc<ServerConfig>> {
        self.config.read().ok().map(|config| config.clone())
    }

    /// Loads the files again; a failure keeps the configuration in use and logs why.
    fn reload(&self, why: &'static str) {
        match load(&self.options) {
            Ok(config) => {
                if let Ok(mut current) = self.config.write() {
                    *current = config;
                }
                tracing::info!(why, "TLS certificate reloaded");
            }
            Err(error) => {
                tracing::warn!(why, %error, "TLS certificate not reloaded: the previous one stays in use");
            }
        }
    }

    /// True when a watched file changed since the last look.
    fn files_changed(&self) -> bool {
        let now = stamps(&self.options);
        let Ok(mut seen) = self.stamps.lock() else {
            return false;
        };
        if *seen == now {
            return false;
        }
        *seen = now;
        true
    }

    /// Reloads when the files change or on `SIGHUP`, until `stop` turns true.
    pub(crate) async fn watch(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut hangups = hangup_signals();
        let interval = self.options.reload_interval;
        loop {
            let tick = async {
                if interval.is_zero() {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(interval).await;
            };
            tokio::select! {
                () = tick => {
                    if self.files_changed() {
                        self.reload("the certificate files changed");
                    }
                }
                () = next_hangup(&mut hangups) => self.reload("SIGHUP"),
                _ = stop.wait_for(|stopping| *stopping) => return,
            }
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangup_signals() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangup_signals() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) {
    let received = match hangups {
        Some(signal) => signal.recv().await.is_some(),
        None => false,
    };
    if !received {
        std::future::pending::<()>().await;
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A connection after its TLS handshake.
pub(crate) struct Accepted {
    /// The decrypted stream.
    pub(crate) stream: Box<TlsStream<TcpStream>>,
    /// The verified client certificate, if the client sent one.
    pub(crate) certificate: Option<Arc<ClientCertificate>>,
    /// True when ALPN chose HTTP/2.
    pub(crate) http2: bool,
}

/// Runs the TLS handshake of a new connection, within `timeout`. A client that speaks plain
/// HTTP gets a 400 that says so; a failed handshake is counted and logged at debug level.
pub(crate) async fn accept(
    tls: &TlsState,
    stream: TcpStream,
    remote: SocketAddr,
    timeout: Duration,
    metrics: Option<&Metrics>,
) -> Option<Accepted> {
    let failed = |reason: &dyn std::fmt::Display| {
        tracing::debug!(%remote, %reason, "TLS handshake failed");
        if let Some(metrics) = metrics {
            metrics.tls_handshake_failed();
        }
    };
    let config = tls.current()?;
    let handshake = async {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 1 && first[0] != TLS_HANDSHAKE_RECORD {
            return Ok(Handshake::PlainHttp(stream));
        }
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        acceptor
            .accept(stream)
            .await
            .map(|stream| Handshake::Done(Box::new(stream)))
    };
    let stream = match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(Handshake::Done(stream))) => stream,
        Ok(Ok(Handshake::PlainHttp(stream))) => {
            failed(&"the client sent plain HTTP");
            answer_plain_http(stream).await;
            return None;
        }
        Ok(Err(error)) => {
            failed(&error);
            return None;
        }
        Err(_) => {
            failed(&"the handshake did not complete in time");
            return None;
        }
    };
    let session = stream.get_ref().1;
    let certificate = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|der| Arc::new(client_certificate(der.as_ref())));
    let http2 = session.alpn_protocol() == Some(b"h2");
    Some(Accepted {
        stream,
        certificate,
        http2,
    })
}

/// How a handshake ended.
enum Handshake {
    /// TLS is set up.
    Done(Box<TlsStream<TcpStream>>),
    /// The client spoke plain HTTP to the TLS port.
    PlainHttp(TcpStream),
}

/// Tells a plain HTTP client that the port speaks TLS, then closes.
async fn answer_plain_http(mut stream: TcpStream) {
    let answer = crate::connection::raw_error_response(
        400,
        "Bad Request",
        "The client sent an HTTP request to an HTTPS server",
    );
    let write = async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// What the server reads of a verified client certificate.
pub(crate) fn client_certificate(der: &[u8]) -> ClientCertificate {
    let fingerprint = hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
    let mut certificate = ClientCertificate {
        subject: String::new(),
        common_name: None,
        organizations: Vec::new(),
        organizational_units: Vec::new(),
        serial_number: String::new(),
        subject_alt_names: Vec::new(),
        fingerprint,
    };
    // rustls verified the certificate already: one that x509-parser cannot read keeps only its
    // fingerprint.
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(der) else {
        return certificate;
    };
    let subject = parsed.subject();
    let texts = |values: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
        values
            .filter_map(|value| value.as_str().ok().map(str::to_string))
            .collect::<Vec<_>>()
    };
    certificate.subject = subject.to_string();
    certificate.common_name = texts(&mut subject.iter_common_name()).into_iter().next();
    certificate.organizations = texts(&mut subject.iter_organization());
    certificate.organizational_units = texts(&mut subject.iter_organizational_unit());
    certificate.serial_number = hex(parsed.raw_serial());
    if let Ok(Some(names)) = parsed.subject_alternative_name() {
        certificate.subject_alt_names = names
            .value
            .general_names
            .iter()
            .filter_map(subject_alt_name)
            .collect();
    }
    certificate
}

fn subject_alt_name(name: &x509_parser::extensions::GeneralName<'_>) -> Option<SubjectAltName> {
    use x509_parser::extensions::GeneralName;
    match name {
        GeneralName::DNSName(name) => Some(SubjectAltName::Dns(name.to_string())),
        GeneralName::RFC822Name(address) => Some(SubjectAltName::Email(address.to_string())),
        GeneralName::URI(uri) => Some(SubjectAltName::Uri(uri.to_string())),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|b| SubjectAltName::Ip(b.into())),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|b| SubjectAltName::Ip(b.into())),
            _ => None,
        },
        _ => None,
    }
}

/// Authenticates requests that come with a verified client certificate, and leaves its identity
/// as claims: `@auth:realm=certificate`, `@auth:subject=...`, `@auth:commonname=...`, one
/// `@auth:organization=...` and `@auth:organizationalunit=...` per value,
/// `@auth:serialnumber=...`, `@auth:fingerprint=...` and one `@auth:san=dns:...` (or `email:`,
/// `uri:`, `ip:`) per subject alternative name. A request without a certificate is left to the
/// next authenticator ([`AuthAction::Continue`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateAuthenticator;

impl CertificateAuthenticator {
    /// The claims of a certificate, in the order the type's doc gives.
    pub fn claims(certificate: &ClientCertificate) -> Vec<String> {
        let mut claims = vec![
            "@auth:realm=certificate".to_string(),
            format!("@auth:subject={}", certificate.subject),
        ];
        claims.extend(
            certificate
                .common_name
                .iter()
                .map(|name| format!("@auth:commonname={name}")),
        );
        let each = |key: &str, values: &[String]| {
            values
                .iter()
                .map(|value| format!("@auth:{key}={value}"))
                .collect::<Vec<_>>()
        };
        claims.extend(each("organization", &certificate.organizations));
        claims.extend(each(
            "organizationalunit",
            &certificate.organizational_units,
        ));
        claims.push(format!("@auth:serialnumber={}", certificate.serial_number));
        claims.push(format!("@auth:fingerprint={}", certificate.fingerprint));
        claims.extend(
            certificate
                .subject_alt_names
                .iter()
                .map(|name| format!("@auth:san={name}")),
        );
        claims
    }
}

impl RequestAuthenticator for CertificateAuthenticator {
    fn authenticate<'a>(
        &'a self,
        ctx: &'a mut AuthContext<'_>,
    ) -> crate::BoxFuture<'a, Result<AuthAction, elemental::Error>> {
        Box::pin(async move {
            let Some(certificate) = &ctx.request.client_certificate else {
                return Ok(AuthAction::Continue);
            };
            ctx.claims.extend(Self::claims(certificate));
            Ok(AuthAction::Ok)
        })
    }
}
