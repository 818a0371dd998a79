//! The apiserver as a hostile client meets it: filters built to exhaust the stack or the CPU,
//! on ReST and in push configs, sessions with the most expensive accepted filters while writes go
//! on, and bodies shaped to cost the most memory per byte.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bahamut::PushOptions;
use elemental::EventType;
use testkit::push::PushClient;
use testkit::{call, json};

const WAIT: Duration = Duration::from_secs(10);

async fn server() -> testkit::Running {
    let store = Arc::new(manipulate::MemoryManipulator::new());
    testkit::start(|options| apiserver::server(options.with_push(PushOptions::default()), store))
        .await
}

/// `a==1 and a==1 or a==1 and ...` with `switches` changes between `and` and `or` (the
/// filter of the report: 3,000 switches fit a 25 KB filter).
fn alternating(switches: usize) -> String {
    let mut text = String::from("a==1");
    for i in 0..=switches {
        text.push_str(if i % 2 == 0 { " and a==1" } else { " or a==1" });
    }
    text
}

/// A query value with its spaces encoded (the rest of the filter language is URL-safe here).
fn encoded(value: &str) -> String {
    value.replace(' ', "%20")
}

async fn create(addr: std::net::SocketAddr, name: &str) {
    let body = format!(r#"{{"name":"{name}","entries":["10.0.0.0/8"]}}"#);
    let r = call(addr, "POST", "/externalnetworks", "/", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_of_3000_switches_is_a_clear_400_and_the_server_keeps_serving() {
    let s = server().await;
    let filter = alternating(3_000);
    assert!(filter.len() > 25_000);
    let path = format!("/externalnetworks?q={}", encoded(&filter));
    let r = call(s.addr, "GET", &path, "/", "").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        json(&r)[0]["description"],
        "invalid filter: expression too deeply nested (at most 32 levels)"
    );
    let many = vec!["name==x"; 1_001].join(" and ");
    let r = call(
        s.addr,
        "GET",
        &format!("/externalnetworks?q={}", encoded(&many)),
        "/",
        "",
    )
    .await;
    assert_eq!(
        (r.status, json(&r)[0]["description"].clone()),
        (
            400,
            serde_json::json!("invalid filter: filter too large: more than 1000 comparisons")
        )
    );
    // The largest accepted filter answers.
    create(s.addr, "x").await;
    let most = vec!["name==x"; 1_000].join(" and ");
    let r = call(
        s.addr,
        "GET",
        &format!("/externalnetworks?q={}", encoded(&most)),
        "/",
        "",
    )
    .await;
    assert_eq!((r.status, r.header("X-Count-Total")), (200, Some("1")));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_configs_past_the_filter_limits_are_bad_configs() {
    let s = server().await;
    for (filter, message) in [
        (
            alternating(3_000),
            "expression too deeply nested (at most 32 levels)",
        ),
        (
            vec!["name == x"; 1_001].join(" and "),
            "filter too large: more than 1000 comparisons",
        ),
    ] {
        let mut session = PushClient::connect(s.addr, "namespace=/&enableErrors=true")
            .await
            .expect("session");
        let config = serde_json::json!({"filters": {"externalnetwork": filter}}).to_string();
        session.configure(&config).await;
        let event = session.event(WAIT).await;
        assert_eq!(event.event_type, EventType::Error);
        let error: serde_json::Value = event.decode_entity().unwrap();
        assert_eq!(
            error["description"],
            format!("unable to parse identity filters: externalnetwork: {message}")
        );
    }
    // The server keeps serving writes.
    create(s.addr, "after").await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_with_the_most_expensive_filters_do_not_stop_writes_or_other_sessions() {
    let s = server().await;
    let expensive = serde_json::json!({
        "filters": {"externalnetwork": vec!["name matches ^z.*y$"; 1_000].join(" and ")}
    })
    .to_string();
    let mut costly = Vec::new();
    for _ in 0..10 {
        let mut session = PushClient::connect(s.addr, "namespace=/")
            .await
            .expect("session");
        session.configure(&expensive).await;
        costly.push(session);
    }
    let mut plain = PushClient::connect(s.addr, "namespace=/")
        .await
        .expect("session");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..50 {
        create(s.addr, &format!("n{i}")).await;
    }
    for i in 0..50 {
        let event = plain.event(WAIT).await;
        assert_eq!(event.event_type, EventType::Create);
        let entity: serde_json::Value = event.decode_entity().unwrap();
        assert_eq!(entity["name"], format!("n{i}"));
    }
    drop(costly);
    s.stop().await.unwrap();
}

/// A resident-memory figure of a process, in KiB (`VmRSS`, or `VmHWM` for the peak).
fn memory_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// POSTs a raw JSON body to /externalnetworks.
async fn post_body(addr: std::net::SocketAddr, body: &str) -> testkit::RawResponse {
    testkit::send(
        addr,
        &testkit::request(
            "POST",
            "/externalnetworks",
            &[("Content-Type", "application/json")],
            body,
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_millions_of_tiny_values_is_refused_before_it_is_decoded() {
    let dir = testkit::env::TempDir::new("apiserver_big_body");
    let store = format!("sqlite:{}", dir.path().join("big.db").display());
    let server = common::Process::start(&store);
    let pid = server.pid();
    // 16 MB of `"a",`: about 4 million values.
    let entries = vec!["\"a\""; 4_000_000].join(",");
    let body = format!(r#"{{"name":"x","entries":[{entries}]}}"#);
    let before = memory_kib(pid, "VmRSS");
    let r = post_body(server.addr, &body).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        json(&r)[0]["description"],
        format!(
            "The request body holds more than {} values: a body of {} bytes may hold at most 16384 values plus one per 64 bytes",
            16_384 + body.len() / 64,
            body.len()
        )
    );
    let peak_extra = memory_kib(pid, "VmHWM").saturating_sub(before) * 1024;
    // Before the budget, this body cost about 50 times its size; now reading it is the cost.
    assert!(
        peak_extra < 3 * body.len() as u64,
        "peak extra RSS {peak_extra} bytes for a body of {} bytes",
        body.len()
    );
    // The server keeps serving.
    let r = post_body(server.addr, r#"{"name":"ok","entries":["10.0.0.0/8"]}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    server.terminate();
}
