//! Test support shared by the integration tests of the workspace:
//!
//! - [`send`]: a raw HTTP/1.1 client over a real socket, so that tests see the exact status
//!   line, header names and values, and body the server wrote;
//! - [`start`]: a server started on `127.0.0.1:0` (ReST and health), stopped on demand;
//! - [`conformance`]: the storage backend conformance suite, the same for every backend;
//! - [`env`](mod@env): scratch folders, and the PostgreSQL / NATS URLs tests read from the environment;
//! - [`pki`]: a certificate authority made in the test, and the certificates it signs;
//! - [`push`]: a websocket client of push sessions.
//!
//! ```no_run
//! # async fn example() {
//! let running = testkit::start(|options| Ok(bahamut::Server::new(options))).await;
//! let response = testkit::send(running.addr, &testkit::request("GET", "/", &[], "")).await;
//! assert_eq!(response.status, 200);
//! running.stop().await.unwrap();
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod conformance;
pub mod env;
pub mod otlp;
pub mod pki;
pub mod push;

use std::net::SocketAddr;

use bahamut::{Options, Server, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A response as read from the socket.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names as written on the wire, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of a header (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The headers but `Date` and `Connection` (the client always asks to close), as
    /// `Name: value` lines.
    pub fn header_lines(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| {
                !n.eq_ignore_ascii_case("date") && !n.eq_ignore_ascii_case("connection")
            })
            .map(|(n, v)| format!("{n}: {v}"))
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request text with `Host`, `Connection: close` and, when there is a body, its length.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

/// Sends a request text and reads the whole response (the connection is closed by the server).
pub async fn send(addr: SocketAddr, request: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    parse(&raw, request.starts_with("HEAD "))
}

/// Sends `method path` in `namespace` (`X-Namespace`), with a JSON body when `body` is not
/// empty.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    namespace: &str,
    body: &str,
) -> RawResponse {
    let mut headers = vec![("X-Namespace", namespace)];
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    send(addr, &request(method, path, &headers, body)).await
}

/// The JSON body of a response (panics, with the body, when it is not JSON).
pub fn json(response: &RawResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.text()))
}

/// Like [`send`], but a failure to connect, write or read a complete response is an error
/// instead of a panic (for tests that kill servers).
pub async fn try_send(addr: SocketAddr, request: &str) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the connection closed before a complete response",
        ));
    }
    Ok(parse(&raw, request.starts_with("HEAD ")))
}

/// Parses a raw response.
pub fn parse(raw: &[u8], head: bool) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head_text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    let body = if head {
        Vec::new()
    } else if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// A listener on `127.0.0.1:0` and its address.
pub fn listener() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// A server running in the background.
pub struct Running {
    /// The ReST address.
    pub addr: SocketAddr,
    /// The health address.
    pub health: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    /// Starts the shutdown without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// True once `run` has returned.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Stops the server and waits for `run` to return.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        self.begin_stop();
        self.handle.await.expect("server task")
    }
}

/// Builds a server with options listening on `127.0.0.1:0` (ReST and health) and runs it.
pub async fn start(build: impl FnOnce(Options) -> Result<Server, ServerError>) -> Running {
    let (rest, addr) = listener();
    let (health, health_addr) = listener();
    let server = build(Options::new()).expect("server builds");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.serve(rest, Some(health), async {
        let _ = stop_rx.await;
    }));
    Running {
        addr,
        health: health_addr,
        stop: Some(stop_tx),
        handle,
    }
}
