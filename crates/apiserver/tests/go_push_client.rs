//! The Go push subscriber's frames (`shared/reference/go-push-client.md`) replayed against the
//! apiserver over a raw websocket, byte for byte as the Go client writes them: its handshake,
//! its push configs with `null`s, msgpack configs in TEXT frames, its CLOSE; and what it needs
//! back: events it can decode (in msgpack, a timestamp extension), an error state after a bad
//! config, its CLOSE echoed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;

/// A websocket client that writes and reads frames as raw bytes (the Go client writes msgpack in
/// TEXT frames, which websocket libraries refuse to send).
struct RawSocket {
    stream: TcpStream,
}

/// One frame from the server.
#[derive(Debug)]
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

impl RawSocket {
    /// The Go client's handshake on `/events?{query}`, with its `Accept` and `Content-Type`.
    async fn connect(addr: SocketAddr, query: &str, encoding: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "GET /events?{query} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Go-http-client/1.1\r\nAccept: {encoding}\r\nConnection: Upgrade\r\nContent-Type: {encoding}\r\nSec-WebSocket-Key: nfpFd7cdNhYVEKAnEtRDMw==\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.expect("read the answer");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self { stream }
    }

    /// Writes a masked client frame.
    async fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.expect("write a frame");
    }

    /// The next frame, skipping pings; `None` when none comes within the wait or the connection
    /// closes.
    async fn next(&mut self, wait: Duration) -> Option<Frame> {
        tokio::time::timeout(wait, async {
            loop {
                let mut head = [0u8; 2];
                self.stream.read_exact(&mut head).await.ok()?;
                let length = match head[1] & 0x7f {
                    126 => {
                        let mut n = [0u8; 2];
                        self.stream.read_exact(&mut n).await.ok()?;
                        u64::from(u16::from_be_bytes(n))
                    }
                    127 => {
                        let mut n = [0u8; 8];
                        self.stream.read_exact(&mut n).await.ok()?;
                        u64::from_be_bytes(n)
                    }
                    n => u64::from(n),
                };
                let mut payload = vec![0u8; length as usize];
                self.stream.read_exact(&mut payload).await.ok()?;
                let opcode = head[0] & 0x0f;
                if opcode != 0x9 {
                    return Some(Frame { opcode, payload });
                }
            }
        })
        .await
        .ok()
        .flatten()
    }
}

async fn server() -> testkit::Running {
    let store = Arc::new(manipulate::MemoryManipulator::new());
    let running = testkit::start(|options| apiserver::server(options, store)).await;
    let r = testkit::call(running.addr, "POST", "/namespaces", "/", r#"{"name":"pc"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    running
}

async fn create(addr: SocketAddr, name: &str) -> String {
    let body = format!(r#"{{"name":"{name}","entries":["10.0.0.0/8"]}}"#);
    let r = testkit::call(addr, "POST", "/externalnetworks", "/pc", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    testkit::json(&r)["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The names of the JSON events in the frames.
fn json_event(frame: &Frame) -> serde_json::Value {
    assert_eq!(frame.opcode, TEXT);
    serde_json::from_slice(&frame.payload).expect("a JSON event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_configs_with_nulls_select_events() {
    let s = server().await;
    let mut go = RawSocket::connect(s.addr, "namespace=%2Fpc&mode=all", "application/json").await;
    // Recorded: identity types, `"parameters":null`.
    go.send(
        TEXT,
        br#"{"filters":{},"identities":{"externalnetwork":["create","update"]},"parameters":null}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let id = create(s.addr, "pc-en-000").await;
    let event = json_event(&go.next(WAIT).await.expect("the create event"));
    assert_eq!(
        (event["type"].as_str(), event["entity"]["name"].as_str()),
        (Some("create"), Some("pc-en-000"))
    );
    let deleted = testkit::call(
        s.addr,
        "DELETE",
        &format!("/externalnetworks/{id}"),
        "/pc",
        "",
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert!(
        go.next(Duration::from_millis(300)).await.is_none(),
        "delete is not asked for"
    );
    // Recorded: an identity with no types (`null`: every type), a filter.
    go.send(
        TEXT,
        br#"{"filters":{"externalnetwork":"name matches \"^pc-keep-\""},"identities":{"externalnetwork":null},"parameters":null}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(s.addr, "pc-drop-1").await;
    create(s.addr, "pc-keep-1").await;
    let event = json_event(&go.next(WAIT).await.expect("the kept create"));
    assert_eq!(event["entity"]["name"], "pc-keep-1");
    s.stop().await.unwrap();
}

/// The msgpack config of the recorded session, for `externalnetwork` instead of `list`:
/// `{"filters":{},"identities":{"externalnetwork":["create","update"]},"parameters":nil}`.
fn msgpack_config() -> Vec<u8> {
    let mut config = hex("83a766696c7465727380aa6964656e746974696573");
    config.extend(hex("81af"));
    config.extend(b"externalnetwork");
    config.extend(hex(
        "92a6637265617465a6757064617465aa706172616d6574657273c0",
    ));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_configs_in_text_frames_and_events_with_timestamp_extensions() {
    let s = server().await;
    let mut go =
        RawSocket::connect(s.addr, "namespace=%2Fpc&mode=all", "application/msgpack").await;
    let config = msgpack_config();
    assert!(
        std::str::from_utf8(&config).is_err(),
        "not UTF-8, in a TEXT frame"
    );
    go.send(TEXT, &config).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(s.addr, "pc-mp-1").await;
    let frame = go.next(WAIT).await.expect("a msgpack event");
    assert_eq!(frame.opcode, BINARY);
    // Decoded as the Go client does: the timestamp only from the extension (type -1).
    let event: GoEvent = rmp_serde::from_slice(&frame.payload).expect("a Go-readable event");
    assert_eq!(event.identity, "externalnetwork");
    assert_eq!(event.event_type, "create");
    assert_eq!(event.encoding, "application/msgpack");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now - event.timestamp.seconds).abs() < 60,
        "{:?}",
        event.timestamp
    );
    let entity: serde_json::Value = rmp_serde::from_slice(&event.entity).expect("the entity");
    assert_eq!(entity["name"], "pc-mp-1");
    // The recorded config with `{"task": nil}` is accepted too (the session stays open).
    go.send(
        TEXT,
        &hex("83a766696c7465727380aa6964656e74697469657381a47461736bc0aa706172616d6574657273c0"),
    )
    .await;
    // The config is read by the session's task; give it the time to apply before the write.
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(s.addr, "pc-mp-2").await;
    assert!(
        go.next(Duration::from_millis(300)).await.is_none(),
        "only task events now"
    );
    s.stop().await.unwrap();
}

/// An event as the Go client reads it: `timestamp` must be the msgpack timestamp extension.
#[derive(serde::Deserialize)]
struct GoEvent {
    encoding: String,
    #[serde(with = "serde_bytes_like")]
    entity: Vec<u8>,
    identity: String,
    timestamp: ExtTimestamp,
    #[serde(rename = "type")]
    event_type: String,
}

/// A msgpack timestamp extension, and nothing else.
#[derive(Debug)]
struct ExtTimestamp {
    seconds: i64,
}

impl<'de> serde::Deserialize<'de> for ExtTimestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "_ExtStruct")]
        struct Ext((i8, serde_bytes_like::Buf));
        let Ext((kind, data)) = Ext::deserialize(d)?;
        let data = data.0;
        if kind != -1 {
            return Err(serde::de::Error::custom(format!("extension {kind}")));
        }
        let seconds = match data.len() {
            4 => i64::from(u32::from_be_bytes(data[..].try_into().unwrap())),
            8 => (u64::from_be_bytes(data[..].try_into().unwrap()) & 0x3_ffff_ffff) as i64,
            12 => i64::from_be_bytes(data[4..].try_into().unwrap()),
            n => {
                return Err(serde::de::Error::custom(format!(
                    "invalid length of bytes for decoding time - expecting 4 or 8 or 12, got {n}"
                )));
            }
        };
        Ok(Self { seconds })
    }
}

/// msgpack `bin` as bytes.
mod serde_bytes_like {
    pub struct Buf(pub Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Buf {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Buf;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Buf, E> {
                    Ok(Buf(v.to_vec()))
                }
            }
            d.deserialize_bytes(V)
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        <Buf as serde::Deserialize>::deserialize(d).map(|b| b.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_stops_delivery_until_a_valid_one_arrives() {
    let s = server().await;
    let mut go = RawSocket::connect(
        s.addr,
        "namespace=%2Fpc&mode=all&enableErrors=true",
        "application/json",
    )
    .await;
    go.send(
        TEXT,
        br#"{"filters":{"externalnetwork":"name == x"},"identities":{},"parameters":null}"#,
    )
    .await;
    go.send(TEXT, br#"{"filters":{"externalnetwork":"name > a"}}"#)
        .await;
    let error = json_event(&go.next(WAIT).await.expect("an error event"));
    assert_eq!(error["type"], "error");
    assert_eq!(error["entity"]["title"], "Bad request");
    // The previous valid config does not stay in force: nothing at all is delivered.
    create(s.addr, "x").await;
    create(s.addr, "y").await;
    assert!(
        go.next(Duration::from_millis(300)).await.is_none(),
        "error state"
    );
    go.send(
        TEXT,
        br#"{"filters":{},"identities":null,"parameters":null}"#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    create(s.addr, "z").await;
    let event = json_event(&go.next(WAIT).await.expect("delivery again"));
    assert_eq!(event["entity"]["name"], "z");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_close_is_echoed_and_unreadable_frames_get_a_close_code() {
    let s = server().await;
    let mut go = RawSocket::connect(s.addr, "namespace=%2Fpc", "application/json").await;
    go.send(CLOSE, &1001u16.to_be_bytes()).await;
    let echo = go.next(WAIT).await.expect("the echo");
    assert_eq!(
        (echo.opcode, &echo.payload[..2]),
        (CLOSE, &1001u16.to_be_bytes()[..])
    );
    // Invalid UTF-8 in a TEXT frame of a JSON session: close 1007, not a silent drop.
    let mut go = RawSocket::connect(s.addr, "namespace=%2Fpc", "application/json").await;
    go.send(TEXT, &msgpack_config()).await;
    let close = go.next(WAIT).await.expect("a close");
    assert_eq!(
        (close.opcode, &close.payload[..2]),
        (CLOSE, &1007u16.to_be_bytes()[..])
    );
    // An undecodable config without error events: close 1003.
    let mut go = RawSocket::connect(s.addr, "namespace=%2Fpc", "application/msgpack").await;
    go.send(TEXT, b"\xc1 not msgpack").await;
    let close = go.next(WAIT).await.expect("a close");
    assert_eq!(
        (close.opcode, &close.payload[..2]),
        (CLOSE, &1003u16.to_be_bytes()[..])
    );
    s.stop().await.unwrap();
}
