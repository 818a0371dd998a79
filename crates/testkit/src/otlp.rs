//! A small OpenTelemetry collector for tests: an OTLP/HTTP receiver on 127.0.0.1 port 0 that
//! keeps the JSON body of every request and answers 200.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The receiver: its address and what it has received.
pub struct Collector {
    /// Where it listens (`http://{addr}` is the OTLP endpoint).
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Collector {
    /// Starts one in the current runtime.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let keep = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let request = read_request(&mut stream).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                if let (Some((path, body)), Ok(mut kept)) = (request, keep.lock()) {
                    kept.push((path, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                }
            }
        });
        Self { addr, received }
    }

    /// The paths of the requests received so far.
    pub fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|(path, _)| path).collect()
    }

    /// The bodies received so far.
    pub fn documents(&self) -> Vec<Value> {
        self.requests().into_iter().map(|(_, body)| body).collect()
    }

    /// Every span received so far, from every resource and scope.
    pub fn spans(&self) -> Vec<Value> {
        let mut spans = Vec::new();
        for document in self.documents() {
            for resource in document["resourceSpans"].as_array().into_iter().flatten() {
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
                }
            }
        }
        spans
    }

    fn requests(&self) -> Vec<(String, Value)> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// The value of attribute `key` of an OTLP/JSON span (`Null` when absent).
pub fn attribute<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map_or(&Value::Null, |kv| &kv["value"])
}

/// The path and body of one HTTP/1.1 request with a `Content-Length`.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut chunk = [0; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if raw.len() >= end + 4 + length {
            let path = head.split(' ').nth(1).unwrap_or_default().to_string();
            return Some((path, raw[end + 4..end + 4 + length].to_vec()));
        }
    }
}
