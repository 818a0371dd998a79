//! The apiserver's logs: `--log-format json` writes one JSON object per line, the access log
//! (on by default, `--access-log false` turns it off) has one line per request, and the
//! telemetry flags are checked before anything starts.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The JSON log lines of `server` that satisfy `keep`, waiting up to 5 s for one.
fn json_lines(server: &common::Process, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<Value> = server
            .logs()
            .iter()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .filter(|line| keep(line))
            .collect();
        if !lines.is_empty() || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_with_the_access_line() {
    let server = common::Process::start_with("memory", &["--log-format", "json"]);
    let headers = [
        ("X-Namespace", "/"),
        ("Content-Type", "application/json"),
        ("X-Request-ID", "json-1"),
    ];
    let create = testkit::request("POST", "/namespaces", &headers, r#"{"name":"logged"}"#);
    let created = testkit::send(server.addr, &create).await;
    assert_eq!(created.status, 200, "{}", created.text());

    let access = json_lines(&server, |l| l["target"] == "bahamut::access");
    assert_eq!(access.len(), 1, "{access:?}");
    let line = &access[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "request");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/namespaces");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes"], created.body.len());
    assert_eq!(line["id"], "json-1");
    assert!(line["duration_ms"].as_f64().is_some(), "{line}");

    // Every line, the start-up ones included, is a JSON object with a time and a level.
    let every = json_lines(&server, |_| true);
    assert!(every.len() > 5, "{every:?}");
    assert!(
        every
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string())
    );
    server.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_can_be_turned_off() {
    let server = common::Process::start_with("memory", &["--access-log", "false"]);
    let list = testkit::request(
        "GET",
        "/namespaces",
        &[("X-Namespace", "/"), ("X-Request-ID", "off-1")],
        "",
    );
    assert_eq!(testkit::send(server.addr, &list).await.status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let lines = server.logs();
    assert!(
        !lines.iter().any(|l| l.contains("bahamut::access")),
        "{lines:?}"
    );
    server.terminate();
}

#[tokio::test(flavor = "multi_thread")]
async fn text_access_lines_name_the_template_not_the_ids() {
    let server = common::Process::start("memory");
    let headers = [("X-Namespace", "/"), ("X-Request-ID", "text-1")];
    let get = testkit::request("GET", "/namespaces/abc", &headers, "");
    assert_eq!(testkit::send(server.addr, &get).await.status, 404);
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let found = server
            .logs()
            .into_iter()
            .find(|l| l.contains("bahamut::access") && l.contains("id=text-1"));
        match found {
            Some(line) => break line,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => panic!("no access line in {:?}", server.logs()),
        }
    };
    assert!(
        line.contains("method=GET route=/namespaces/:id status=404 duration_ms="),
        "{line}"
    );
    server.terminate();
}

fn run(args: &[&str]) -> (Option<i32>, String) {
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
}

#[test]
fn telemetry_flags_are_checked_before_the_server_starts() {
    let (code, text) = run(&["--log-level", "info,=="]);
    assert_eq!(code, Some(2));
    assert!(
        text.starts_with(
            "apiserver: --log-level \"info,==\" is not a level nor a tracing filter: "
        ),
        "{text}"
    );
    let (code, text) = run(&["--log-format", "xml"]);
    assert_eq!(code, Some(2));
    assert!(
        text.contains("invalid value 'xml' for '--log-format <LOG_FORMAT>'"),
        "{text}"
    );
    #[cfg(not(feature = "otlp"))]
    assert_eq!(
        run(&["--otlp-endpoint", "http://127.0.0.1:4318"]),
        (
            Some(2),
            "apiserver: --otlp-endpoint: this apiserver was built without OTLP export; build it with `cargo build --release -p apiserver --features otlp`"
                .to_string()
        )
    );
    #[cfg(not(feature = "profiling"))]
    assert_eq!(
        run(&["--profiling-listen", "127.0.0.1:0"]),
        (
            Some(2),
            "apiserver: --profiling-listen: this apiserver was built without profiling; build it with `cargo build --release -p apiserver --features profiling`"
                .to_string()
        )
    );
    #[cfg(feature = "otlp")]
    assert_eq!(
        run(&["--otlp-endpoint", "https://collector:4318"]),
        (
            Some(2),
            "apiserver: --otlp-endpoint: OTLP endpoint \"https://collector:4318\" is not an http://host:port URL (OTLP/HTTP, usually port 4318; https is not supported)"
                .to_string()
        )
    );
}
