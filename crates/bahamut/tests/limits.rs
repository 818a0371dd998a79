//! Connection and request limits over real sockets, as a hostile client would meet them: a body
//! sent one byte at a time, a header slowloris, connections past the global and per-IP caps,
//! idle keep-alive connections, and kept-alive connections (idle, sending a request, or sending a
//! head slowly) during shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bahamut::{Errors, Options, Processor, ProcessorContext, Server};
use testkit::{RawResponse, request, send};
use todo::model::{List, manager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

struct Echo;

#[bahamut::processor]
impl Processor<List> for Echo {
    async fn create(&self, _: &mut ProcessorContext<List>, list: List) -> Result<List, Errors> {
        Ok(list)
    }
}

async fn start(options: impl FnOnce(Options) -> Options + Send + 'static) -> testkit::Running {
    testkit::start(move |o| {
        let mut server = Server::new(options(o.with_model(0, manager())));
        server.register_processor(Echo)?;
        Ok(server)
    })
    .await
}

fn create(name: &str) -> String {
    request(
        "POST",
        "/lists",
        &[("Content-Type", "application/json")],
        &format!(r#"{{"name":"{name}"}}"#),
    )
}

/// A connection from `source` (a loopback address such as 127.0.0.2) to `addr`.
async fn connect_from(source: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind a loopback source");
    socket.connect(addr).await.expect("connect")
}

/// A create of list `name` without `Connection: close`: the connection stays open after it.
fn kept_alive_create(name: &str) -> String {
    create(name).replace("Connection: close\r\n", "")
}

/// A connection to `addr` that has had one kept-alive create (`request`) answered 200.
async fn connection_after_one_create(addr: SocketAddr, request: &str) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK"));
    conn
}

/// Reads until the server closes the connection (or `limit` passes); the bytes read.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut raw))
        .await
        .ok()
        .map(|_| raw)
}

/// Asserts that the server closes `conn` without writing anything, `at_least` from now and
/// within 3 s.
async fn assert_closed_silently_after(conn: &mut TcpStream, at_least: Duration) {
    let started = Instant::now();
    let rest = read_until_closed(conn, Duration::from_secs(5))
        .await
        .expect("closed by the server");
    assert!(
        rest.is_empty(),
        "no answer: {}",
        String::from_utf8_lossy(&rest)
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= at_least && elapsed < Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
}

fn only_error(r: &RawResponse) -> (u16, String, String) {
    let errors: serde_json::Value = testkit::json(r);
    (
        r.status,
        errors[0]["title"].as_str().unwrap_or_default().to_string(),
        errors[0]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_sent_in_two_parts_within_the_body_timeout_is_answered() {
    let s = start(|o| o.with_body_timeout(Duration::from_secs(5))).await;
    let mut conn = TcpStream::connect(s.addr).await.unwrap();
    let body = r#"{"name":"in two parts"}"#;
    let head = format!(
        "POST /lists HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(format!("{head}{}", &body[..10]).as_bytes())
        .await
        .unwrap();
    // The server has read the head and part of the body: it waits for the rest.
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let raw = read_until_closed(&mut conn, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    let r = testkit::parse(&raw, false);
    assert_eq!(r.status, 200);
    let answered: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(answered["name"], "in two parts");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_body_is_cut_off_while_other_requests_are_served() {
    let s = start(|o| o.with_body_timeout(Duration::from_millis(800))).await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(
        b"POST /lists HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let dripping = tokio::spawn(async move {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // One byte every 100 ms, until the server answers and closes.
            let _ = slow.write_all(b" ").await;
            match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return raw,
                Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if started.elapsed() > Duration::from_secs(10) {
                return raw;
            }
        }
    });
    // Meanwhile a normal client is served.
    let r = send(s.addr, &create("fast")).await;
    assert_eq!(r.status, 200);
    let raw = dripping.await.unwrap();
    let elapsed = started.elapsed();
    let r = testkit::parse(&raw, false);
    assert_eq!(
        only_error(&r),
        (
            408,
            "Request Timeout".into(),
            "The request body was not received within 0.8 s".into()
        )
    );
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(5),
        "cut off after {elapsed:?}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_request_head_is_closed_after_the_header_timeout() {
    let s = start(|o| o.with_header_timeout(Duration::from_millis(500))).await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /lists HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_closed_silently_after(&mut slow, Duration::from_millis(500)).await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let s = start(|o| o.with_idle_timeout(Duration::from_millis(600))).await;
    let mut conn = connection_after_one_create(s.addr, &kept_alive_create("kept")).await;
    assert_closed_silently_after(&mut conn, Duration::from_millis(500)).await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_slowloris_from_one_address_does_not_starve_other_clients() {
    let s = start(|o| o.with_max_connections_per_ip(20)).await;
    // 40 connections from 127.0.0.2, each sending half a head.
    let mut attackers = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut conn = connect_from([127, 0, 0, 2], s.addr).await;
        let _ = conn.write_all(b"GET /lists HTTP/1.1\r\nHost: x\r\n").await;
        attackers.push(conn);
    }
    for conn in attackers.iter_mut().skip(20) {
        let raw = read_until_closed(conn, Duration::from_secs(3))
            .await
            .expect("refused at once");
        let r = testkit::parse(&raw, false);
        assert_eq!(
            only_error(&r),
            (
                503,
                "Service Unavailable".into(),
                "Too many connections from this client address".into()
            )
        );
        refused += 1;
    }
    assert_eq!(refused, 20);
    // A client from another address is served at once.
    let started = Instant::now();
    let r = send(s.addr, &create("normal")).await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(attackers);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_connection_cap_clients_get_a_fast_503_and_health_says_so() {
    let s = start(|o| o.with_max_connections(3)).await;
    assert_eq!(
        send(s.health, &request("GET", "/", &[], "")).await.status,
        204
    );
    let mut held = Vec::new();
    for source in [[127, 0, 0, 3], [127, 0, 0, 4], [127, 0, 0, 5]] {
        held.push(connect_from(source, s.addr).await);
    }
    // Let the server account for them.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let r = send(s.addr, &create("over")).await;
    assert_eq!(
        only_error(&r),
        (
            503,
            "Service Unavailable".into(),
            "The server holds its maximum number of connections".into()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let health = send(s.health, &request("GET", "/", &[], "")).await;
    assert_eq!(
        (health.status, health.text()),
        (
            503,
            "connection limit reached: 3 of 3 connections open".into()
        )
    );
    drop(held);
    let mut served = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if send(s.addr, &create("after")).await.status == 200 {
            served = true;
            break;
        }
    }
    assert!(served, "served again once connections closed");
    assert_eq!(
        send(s.health, &request("GET", "/", &[], "")).await.status,
        204
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_on_kept_alive_connections_during_shutdown_are_answered() {
    let mut s = start(|o| o.with_drain_timeout(Duration::from_secs(5))).await;
    let mut conns = Vec::new();
    let keep_alive = kept_alive_create("drain");
    for _ in 0..5 {
        conns.push(connection_after_one_create(s.addr, &keep_alive).await);
    }
    // Each connection starts a request, then shutdown starts while the heads are arriving.
    for conn in &mut conns {
        conn.write_all(&keep_alive.as_bytes()[..10]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.begin_stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for conn in &mut conns {
        conn.write_all(&keep_alive.as_bytes()[10..]).await.unwrap();
        let raw = read_until_closed(conn, Duration::from_secs(5))
            .await
            .expect("closed after the answer");
        let r = testkit::parse(&raw, false);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&raw));
        assert_eq!(r.header("Connection"), Some("close"));
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_kept_alive_connections_close_at_once_when_shutdown_starts() {
    let mut s = start(|o| o.with_drain_timeout(Duration::from_secs(10))).await;
    let mut conn = connection_after_one_create(s.addr, &kept_alive_create("idle")).await;
    let started = Instant::now();
    s.begin_stop();
    assert_closed_silently_after(&mut conn, Duration::ZERO).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "closed after {:?}, not at once",
        started.elapsed()
    );
    tokio::time::timeout(Duration::from_secs(2), s.stop())
        .await
        .expect("the server stops without waiting for its drain timeout")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_request_head_during_shutdown_is_still_closed_after_the_header_timeout() {
    let mut s = start(|o| {
        o.with_header_timeout(Duration::from_millis(500))
            .with_drain_timeout(Duration::from_secs(10))
    })
    .await;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /lists HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.begin_stop();
    assert_closed_silently_after(&mut slow, Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(2), s.stop())
        .await
        .expect("the server stops once the slow head is cut off")
        .unwrap();
}
