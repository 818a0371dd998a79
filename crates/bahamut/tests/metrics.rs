//! `/metrics` on the health listener, scraped after a known sequence of requests and push
//! sessions, and read with a Prometheus text parser: exact counter values, a push session, a
//! slow consumer; custom health stats.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bahamut::push::{PushOptions, Pusher};
use bahamut::{Errors, Metrics, Options, Page, Processor, ProcessorContext, RateLimit, Server};
use elemental::{EncodingType, Event, EventType, ModelIdentity};
use prometheus_parse::{Scrape, Value};
use testkit::push::{PushClient, Received};
use testkit::{request, send};
use todo::model::{List, Task, manager};

struct Lists;

#[bahamut::processor]
impl Processor<List> for Lists {
    async fn retrieve_many(&self, _: &mut ProcessorContext<List>) -> Result<Page<List>, Errors> {
        Ok(Page::all(Vec::new()))
    }

    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        Ok(List {
            id: ctx.request().object_id.clone(),
            name: "found".into(),
            ..List::default()
        })
    }
}

struct Tasks;

#[bahamut::processor]
impl Processor<Task> for Tasks {
    async fn create(&self, _: &mut ProcessorContext<Task>, task: Task) -> Result<Task, Errors> {
        Ok(task)
    }
}

const WAIT: Duration = Duration::from_secs(5);

async fn start(options: impl FnOnce(Options) -> Options) -> (testkit::Running, Option<Pusher>) {
    let mut pusher = None;
    let running = testkit::start(|o| {
        let mut server = Server::new(options(o.with_model(0, manager())));
        server.register_processor(Lists)?;
        server.register_processor(Tasks)?;
        pusher = server.pusher();
        Ok(server)
    })
    .await;
    (running, pusher)
}

async fn scrape(health: SocketAddr) -> Scrape {
    let r = send(health, &request("GET", "/metrics", &[], "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = r.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

/// The value of the one sample named `name` with exactly these labels (0 when there is none).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && s.labels.len() == labels.len())
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name}: not a single value: {other:?}"),
        })
        .collect();
    assert!(matching.len() <= 1, "{name} {labels:?}: {matching:?}");
    matching.first().copied().unwrap_or(0.0)
}

/// Scrapes until `name{labels}` equals `expected` (gauges read at scrape time, counters of
/// sessions that run in their own tasks), failing after a few seconds.
async fn eventually(health: SocketAddr, name: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = value(&scrape(health).await, name, labels);
        if seen == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} {labels:?}: {seen}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn labels<'a>(method: &'a str, identity: &'a str, operation: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("method", method),
        ("identity", identity),
        ("operation", operation),
    ]
}

fn with_code<'a>(mut labels: Vec<(&'a str, &'a str)>, code: &'a str) -> Vec<(&'a str, &'a str)> {
    labels.push(("code", code));
    labels
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_sequence_of_requests_gives_exact_counters() {
    let (s, _) = start(|o| {
        o.with_metrics(Metrics::new()).with_identity_rate_limit(
            Task::IDENTITY,
            RateLimit::new(0.001, 1),
            None,
        )
    })
    .await;
    let sequence = [
        ("GET", "/lists/a", "", 200),
        ("GET", "/lists/b", "", 200),
        ("GET", "/lists/c", "", 200),
        ("GET", "/lists", "", 200),
        ("GET", "/a/b/c/d/e", "", 404),
        ("GET", "/x/y/z/w", "", 404),
        ("DELETE", "/lists", "", 405),
        ("GET", "/_meta/version", "", 200),
        ("POST", "/lists/a/tasks", r#"{"name":"one"}"#, 200),
        ("POST", "/lists/a/tasks", r#"{"name":"two"}"#, 429),
    ];
    for (method, path, body, status) in sequence {
        let r = send(s.addr, &request(method, path, &[], body)).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
    }
    let m = scrape(s.health).await;
    let requests = "http_requests_total";
    let retrieve = labels("GET", "list", "retrieve");
    assert_eq!(
        value(&m, requests, &with_code(retrieve.clone(), "200")),
        3.0
    );
    let many = labels("GET", "list", "retrieve-many");
    assert_eq!(value(&m, requests, &with_code(many, "200")), 1.0);
    let not_found = labels("GET", "", "not-found");
    assert_eq!(value(&m, requests, &with_code(not_found, "404")), 2.0);
    let not_allowed = labels("DELETE", "", "method-not-allowed");
    assert_eq!(value(&m, requests, &with_code(not_allowed, "405")), 1.0);
    let meta = labels("GET", "", "meta");
    assert_eq!(value(&m, requests, &with_code(meta, "200")), 1.0);
    let create = labels("POST", "task", "create");
    assert_eq!(value(&m, requests, &with_code(create.clone(), "200")), 1.0);
    assert_eq!(value(&m, requests, &with_code(create.clone(), "429")), 1.0);
    let durations = "http_request_duration_seconds_count";
    assert_eq!(value(&m, durations, &retrieve), 3.0);
    assert_eq!(value(&m, durations, &create), 2.0);
    assert_eq!(value(&m, "http_rate_limited_requests_total", &[]), 1.0);
    assert_eq!(value(&m, "http_requests_in_flight", &[]), 0.0);
    assert_eq!(value(&m, "tcp_connections_accepted_total", &[]), 10.0);
    assert!(value(&m, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(value(&m, "process_open_fds", &[]) > 3.0);
    // Every connection was closed by its client: none stays open.
    eventually(s.health, "tcp_connections_open", &[], 0.0).await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_metrics_there_is_no_metrics_path() {
    let (s, _) = start(|o| o).await;
    let r = send(s.health, &request("GET", "/metrics", &[], "")).await;
    assert_eq!(r.status, 404);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_sessions_events_and_a_slow_consumer_are_counted() {
    const EVENTS: usize = 200;
    let push = PushOptions {
        session_queue_size: 16,
        ..PushOptions::default()
    };
    let (s, pusher) = start(|o| o.with_metrics(Metrics::new()).with_push(push)).await;
    let pusher = pusher.expect("push is on");
    let mut stalled = PushClient::connect(s.addr, "namespace=/")
        .await
        .expect("session");
    let mut reader = PushClient::connect(s.addr, "namespace=/")
        .await
        .expect("session");
    eventually(s.health, "push_sessions_open", &[], 2.0).await;
    let reading = tokio::spawn(async move {
        for count in 0..EVENTS {
            match reader.receive(WAIT).await {
                Received::Event(_) => {}
                other => panic!("reader after {count}: {other:?}"),
            }
        }
        reader
    });
    // Large events, so that the stalled session's socket buffers fill quickly.
    let padding = "x".repeat(64 * 1024);
    for batch in 0..EVENTS / 4 {
        let events = (0..4)
            .map(|n| {
                let entity = serde_json::json!({"name": format!("e{}", batch * 4 + n), "namespace": "/", "description": padding});
                Event::new(EventType::Create, "list", &entity, EncodingType::Json).expect("event")
            })
            .collect();
        pusher.push(events);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reader = reading.await.expect("reader");
    let mut stalled_received = 0;
    loop {
        match stalled.receive(WAIT).await {
            Received::Event(_) => stalled_received += 1,
            Received::Closed(code, _) => {
                assert_eq!(code, 1013);
                break;
            }
            Received::Nothing => panic!("the stalled session was not closed"),
        }
    }
    let delivered = (EVENTS + stalled_received) as f64;
    eventually(s.health, "push_events_delivered_total", &[], delivered).await;
    let m = scrape(s.health).await;
    assert_eq!(value(&m, "push_events_published_total", &[]), EVENTS as f64);
    assert_eq!(value(&m, "push_slow_consumer_disconnects_total", &[]), 1.0);
    let slow = [("reason", "slow_consumer")];
    assert_eq!(value(&m, "push_events_dropped_total", &slow), 1.0);
    eventually(s.health, "push_sessions_open", &[], 1.0).await;
    reader.close().await;
    eventually(s.health, "push_sessions_open", &[], 0.0).await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_health_stats_are_served_by_name_and_bad_names_are_refused() {
    let stat: bahamut::options::HealthStat =
        Arc::new(|| Box::pin(async { serde_json::json!({"queue": 3}) }));
    let (s, _) = start(|o| o.with_health_stat("queues", stat.clone())).await;
    let r = send(s.health, &request("GET", "/queues", &[], "")).await;
    assert_eq!(
        (r.status, r.header("Content-Type"), r.text().as_str()),
        (
            200,
            Some("application/json; charset=UTF-8"),
            r#"{"queue":3}"#
        )
    );
    let r = send(s.health, &request("GET", "/nothing", &[], "")).await;
    assert_eq!(r.status, 404);
    s.stop().await.unwrap();
    for bad in ["", "_internal", "a/b", "metrics"] {
        let mut server = Server::new(
            Options::new()
                .with_model(0, manager())
                .with_health_stat(bad, stat.clone()),
        );
        server.register_processor(Lists).unwrap();
        let (rest, _) = testkit::listener();
        let error = server.serve(rest, None, async {}).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "health stat name '{bad}' is invalid: it must not be empty, start with '_', contain '/' or be 'metrics'"
            )
        );
    }
}
