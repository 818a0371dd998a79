//! TLS on the ReST listener, over real sockets with certificates made in the test (rcgen):
//! HTTP/1.1 and HTTP/2 (ALPN) answer the same bytes, plain HTTP to the TLS port is answered 400,
//! certificates reload without dropping open connections (a broken file keeps the old one),
//! mutual TLS refuses clients without a certificate and hands a valid one's identity to
//! authenticators as claims, and h2c serves HTTP/2 on a plain port.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bahamut::tls::{CertificateAuthenticator, ClientAuth, TlsOptions};
use bahamut::{Errors, Options, Processor, ProcessorContext, Server};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, DnType, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use testkit::pki::TestCa;
use todo::model::{List, manager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

struct Lists;

#[bahamut::processor]
impl Processor<List> for Lists {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        Ok(List {
            id: ctx.request().object_id.clone(),
            name: ctx.claims().join("|"),
            ..List::default()
        })
    }
}

/// A CA, and the files of the server's certificate and key signed by it.
struct Pki {
    ca: TestCa,
}

impl Pki {
    fn new() -> Self {
        let pki = Self {
            ca: TestCa::new("bahamut_tls"),
        };
        pki.write_server_certificate("server one");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.ca.path(name)
    }

    fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.ca_der()
    }

    /// Writes `server.pem` and `server-key.pem`: a certificate for localhost and 127.0.0.1
    /// whose organization is `organization`.
    fn write_server_certificate(&self, organization: &str) {
        let params =
            TestCa::server_params(&["localhost"], (DnType::OrganizationName, organization));
        self.ca.write("server", params);
    }

    /// A client certificate (CN, O, a DNS and a URI name) and its key.
    fn client_identity(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(vec!["alice.acme.test".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::URI("spiffe://acme/alice".try_into().unwrap()));
        params.distinguished_name.push(DnType::CommonName, "alice");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "acme");
        params.serial_number = Some(vec![0x2a].into());
        self.ca.identity(params)
    }

    fn options(&self) -> TlsOptions {
        TlsOptions::new(self.path("server.pem"), self.path("server-key.pem"))
            .with_reload_interval(Duration::from_millis(50))
    }
}

async fn start(options: impl FnOnce(Options) -> Options) -> testkit::Running {
    testkit::start(|o: Options| {
        let mut server = Server::new(options(o.with_model(0, manager())));
        server.register_processor(Lists)?;
        Ok(server)
    })
    .await
}

fn connector(
    ca: CertificateDer<'static>,
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    alpn: &[&[u8]],
) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((certificate, key)) => builder
            .with_client_auth_cert(vec![certificate], key)
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn connect(
    connector: &TlsConnector,
    addr: std::net::SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// Writes one HTTP/1.1 request on a kept-alive connection and reads its answer (by
/// Content-Length).
async fn http1_exchange(stream: &mut TlsStream<TcpStream>, path: &str) -> testkit::RawResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the connection closed before the answer");
        raw.extend_from_slice(&buffer[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = testkit::parse(&raw[..end + 4], true);
            let length: usize = head
                .header("Content-Length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                return testkit::parse(&raw, false);
            }
        }
    }
}

/// One HTTP/2 GET: status, content type and body.
async fn http2_get<S>(stream: S, uri: &str) -> (u16, String, Vec<u8>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body.to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn http1_and_http2_over_tls_answer_the_same_bytes() {
    let pki = Pki::new();
    let s = start(|o| o.with_tls(pki.options())).await;

    let mut h1 = connect(&connector(pki.ca_der(), None, &[b"http/1.1"]), s.addr)
        .await
        .unwrap();
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let one = http1_exchange(&mut h1, "/lists/a").await;
    assert_eq!(one.status, 200);
    assert_eq!(testkit::json(&one)["ID"], "a");

    let h2 = connect(
        &connector(pki.ca_der(), None, &[b"h2", b"http/1.1"]),
        s.addr,
    )
    .await
    .unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (status, content_type, body) = http2_get(h2, "https://localhost/lists/a").await;
    assert_eq!(status, 200);
    assert_eq!(Some(content_type.as_str()), one.header("Content-Type"));
    assert_eq!(body, one.body);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_the_tls_port_is_answered_400_and_counted() {
    let pki = Pki::new();
    let metrics = bahamut::Metrics::new();
    let s = start(|o| o.with_tls(pki.options()).with_metrics(metrics.clone())).await;
    let r = testkit::send(s.addr, &testkit::request("GET", "/lists/a", &[], "")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"[{"code":400,"description":"The client sent an HTTP request to an HTTPS server","subject":"bahamut","title":"Bad Request"}]"#
    );
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(
        metrics
            .encode()
            .contains("\ntls_handshake_errors_total 1\n"),
        "{}",
        metrics.encode()
    );
    // The server still serves TLS clients.
    let mut tls = connect(&connector(pki.ca_der(), None, &[]), s.addr)
        .await
        .unwrap();
    assert_eq!(http1_exchange(&mut tls, "/lists/b").await.status, 200);
    s.stop().await.unwrap();
}

/// The organization of the certificate a new connection sees.
async fn served_organization(pki: &Pki, addr: std::net::SocketAddr) -> String {
    let stream = connect(&connector(pki.ca_der(), None, &[]), addr)
        .await
        .unwrap();
    let der = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let organization = parsed.subject().iter_organization().next().unwrap();
    organization.as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_reload_when_their_files_change_and_open_connections_stay() {
    let pki = Pki::new();
    let s = start(|o| o.with_tls(pki.options())).await;
    let mut open = connect(&connector(pki.ca_der(), None, &[]), s.addr)
        .await
        .unwrap();
    assert_eq!(http1_exchange(&mut open, "/lists/a").await.status, 200);
    assert_eq!(served_organization(&pki, s.addr).await, "server one");

    pki.write_server_certificate("server two");
    let mut seen = String::new();
    for _ in 0..100 {
        seen = served_organization(&pki, s.addr).await;
        if seen == "server two" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "server two");
    // The connection opened before the reload still serves requests.
    assert_eq!(http1_exchange(&mut open, "/lists/b").await.status, 200);

    // A broken key file is not loaded: the last good certificate stays in use.
    std::fs::write(pki.path("server-key.pem"), "not a key").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served_organization(&pki, s.addr).await, "server two");
    s.stop().await.unwrap();
}

fn mutual(pki: &Pki, mode: ClientAuth) -> TlsOptions {
    pki.options().with_client_ca(pki.path("ca.pem"), mode)
}

#[tokio::test(flavor = "multi_thread")]
async fn required_client_certificates_refuse_clients_without_one() {
    let pki = Pki::new();
    let s = start(|o| o.with_tls(mutual(&pki, ClientAuth::Require))).await;
    // TLS 1.3: the client's handshake may complete before the server checks its (absent)
    // certificate; the server then closes with an alert and no answer is ever read.
    let refused = match connect(&connector(pki.ca_der(), None, &[]), s.addr).await {
        Err(_) => true,
        Ok(mut stream) => {
            let _ = stream
                .write_all(b"GET /lists/a HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await;
            let mut buffer = [0u8; 64];
            !matches!(stream.read(&mut buffer).await, Ok(n) if n > 0)
        }
    };
    assert!(refused, "a client without a certificate was served");
    let identity = pki.client_identity();
    let mut allowed = connect(&connector(pki.ca_der(), Some(identity), &[]), s.addr)
        .await
        .unwrap();
    assert_eq!(http1_exchange(&mut allowed, "/lists/a").await.status, 200);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_reaches_authenticators_as_claims() {
    let pki = Pki::new();
    let s = start(|o| {
        o.with_tls(mutual(&pki, ClientAuth::Request))
            .with_authenticator(Arc::new(CertificateAuthenticator))
    })
    .await;
    let (certificate, key) = pki.client_identity();
    let fingerprint: String = ring::digest::digest(&ring::digest::SHA256, certificate.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let connector = connector(pki.ca_der(), Some((certificate, key)), &[]);
    let mut stream = connect(&connector, s.addr).await.unwrap();
    let r = http1_exchange(&mut stream, "/lists/a").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let claims = testkit::json(&r)["name"].as_str().unwrap().to_string();
    assert_eq!(
        claims.split('|').collect::<Vec<_>>(),
        vec![
            "@auth:realm=certificate",
            "@auth:subject=CN=alice, O=acme",
            "@auth:commonname=alice",
            "@auth:organization=acme",
            "@auth:serialnumber=2a",
            &format!("@auth:fingerprint={fingerprint}"),
            "@auth:san=dns:alice.acme.test",
            "@auth:san=uri:spiffe://acme/alice",
        ]
    );
    // Asked for, not required: a client without one goes to the next authenticator; with none
    // left, it is refused.
    let mut anonymous = connect(&self::connector(pki.ca_der(), None, &[]), s.addr)
        .await
        .unwrap();
    assert_eq!(http1_exchange(&mut anonymous, "/lists/a").await.status, 401);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_serves_http2_with_prior_knowledge_beside_http1() {
    let s = start(|o| o.with_h2c(true)).await;
    let one = testkit::send(s.addr, &testkit::request("GET", "/lists/a", &[], "")).await;
    assert_eq!(one.status, 200);
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let uri = format!("http://{}/lists/a", s.addr);
    let (status, content_type, body) = http2_get(tcp, &uri).await;
    assert_eq!(status, 200);
    assert_eq!(Some(content_type.as_str()), one.header("Content-Type"));
    assert_eq!(body, one.body);
    s.stop().await.unwrap();
}

#[test]
fn unreadable_certificate_files_are_refused_at_start() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pki = Pki::new();
    let serve = |tls: TlsOptions| {
        let server = Server::new(Options::new().with_model(0, manager()).with_tls(tls));
        let (listener, _) = testkit::listener();
        runtime
            .block_on(server.serve(listener, None, async {}))
            .unwrap_err()
            .to_string()
    };
    let missing = TlsOptions::new(pki.path("missing.pem"), pki.path("server-key.pem"));
    let text = serve(missing);
    assert!(
        text.starts_with("cannot set up TLS: ") && text.contains("missing.pem"),
        "{text}"
    );
    std::fs::write(pki.path("empty.pem"), "").unwrap();
    let empty = TlsOptions::new(pki.path("empty.pem"), pki.path("server-key.pem"));
    assert_eq!(
        serve(empty),
        format!(
            "cannot set up TLS: {}: no PEM certificate in the file",
            pki.path("empty.pem").display()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn push_sessions_open_over_tls() {
    let pki = Pki::new();
    let push = bahamut::PushOptions::default();
    let s = start(|o| o.with_tls(pki.options()).with_push(push)).await;
    let stream = connect(&connector(pki.ca_der(), None, &[b"http/1.1"]), s.addr)
        .await
        .unwrap();
    let (_socket, response) =
        tokio_tungstenite::client_async("wss://localhost/events?namespace=/", stream)
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    s.stop().await.unwrap();
}
