//! The apiserver binary with `--tls-cert` and `--tls-key`: the ReST API over TLS, plain HTTP to
//! its port answered 400, and the TLS flags checked before anything starts.

mod common;

use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use testkit::env::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A self-signed certificate for localhost, written to `dir` as `cert.pem` and `key.pem`.
fn self_signed(dir: &TempDir) -> CertificateDer<'static> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        certified.signing_key.serialize_pem(),
    )
    .unwrap();
    certified.cert.der().clone()
}

/// Sends one request over TLS (trusting `certificate`) and reads the answer until the server
/// closes.
async fn send_tls(
    addr: std::net::SocketAddr,
    certificate: CertificateDer<'static>,
    request: &str,
) -> testkit::RawResponse {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // The server ends TLS with close_notify; a reset afterwards is not an error here.
    let _ = stream.read_to_end(&mut raw).await;
    testkit::parse(&raw, false)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_is_served_over_tls_and_plain_http_is_refused() {
    let dir = TempDir::new("apiserver-tls");
    let certificate = self_signed(&dir);
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let server = common::Process::start_with(
        "memory",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let headers = [
        ("X-Namespace", "/"),
        ("Content-Type", "application/json"),
        ("Connection", "close"),
    ];
    let create = testkit::request("POST", "/namespaces", &headers, r#"{"name":"secure"}"#);
    let created = send_tls(server.addr, certificate.clone(), &create).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let list = testkit::request("GET", "/namespaces", &headers, "");
    let listed = send_tls(server.addr, certificate, &list).await;
    assert_eq!(common::fields(&listed, "name"), ["/secure"]);

    let plain = testkit::send(server.addr, &list).await;
    assert_eq!(plain.status, 400);
    assert_eq!(
        testkit::json(&plain)[0]["description"],
        "The client sent an HTTP request to an HTTPS server"
    );
    server.terminate();
}

#[test]
fn tls_flags_are_checked_before_the_server_starts() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_apiserver"))
            .args(["--listen", "127.0.0.1:0", "--health", "127.0.0.1:0"])
            .args(["--store", "memory"])
            .args(args)
            .output()
            .expect("run the apiserver binary");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        )
    };
    assert_eq!(
        run(&["--tls-client-auth", "require"]),
        (
            Some(2),
            "apiserver: --tls-client-auth needs --tls-cert, --tls-key and --tls-client-ca"
                .to_string()
        )
    );
    let (code, text) = run(&[
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        text.starts_with("apiserver: cannot set up TLS: /nonexistent/cert.pem: "),
        "{text}"
    );
}
