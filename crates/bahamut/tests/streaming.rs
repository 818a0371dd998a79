//! A processor that takes over the response with a streamed body sends 100 MB with flat memory:
//! the process's peak resident memory grows by far less than the body. Alone in its test
//! binary, so that no other test moves the peak.

use std::convert::Infallible;

use bahamut::{Body, Errors, Processor, ProcessorContext, Server};
use bytes::Bytes;
use todo::model::{List, manager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK_SIZE: usize = 64 * 1024;
const CHUNKS: usize = 1600;
static CHUNK: [u8; CHUNK_SIZE] = [b'x'; CHUNK_SIZE];

struct Export;

#[bahamut::processor]
impl Processor<List> for Export {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        let chunks = futures_util::stream::iter(
            (0..CHUNKS).map(|_| Ok::<_, Infallible>(Bytes::from_static(&CHUNK))),
        );
        ctx.set_response(http::Response::new(Body::from_stream(chunks)));
        Ok(List::default())
    }
}

/// A `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_body_of_100_mb_keeps_memory_flat() {
    let s = testkit::start(|o| {
        let mut server = Server::new(o.with_model(0, manager()));
        server.register_processor(Export)?;
        Ok(server)
    })
    .await;
    // Warm up (the first request allocates the server's buffers), then reset the peak.
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"GET /lists/warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut sink = vec![0u8; CHUNK_SIZE];
    while stream.read(&mut sink).await.unwrap() > 0 {}
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = status_kib("VmRSS:");

    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"GET /lists/export HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut received = 0usize;
    let mut head = Vec::new();
    loop {
        let n = stream.read(&mut sink).await.unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 512 {
            head.extend_from_slice(&sink[..n.min(512)]);
        }
        received += n;
    }
    let peak = status_kib("VmHWM:");
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked\r\n"),
        "{head}"
    );
    let body = CHUNK_SIZE * CHUNKS;
    assert!(received > body, "{received} bytes received for {body}");
    let growth_kib = peak.saturating_sub(before);
    assert!(
        growth_kib < 16 * 1024,
        "peak RSS grew by {growth_kib} KiB while streaming {body} bytes"
    );
    s.stop().await.unwrap();
}
