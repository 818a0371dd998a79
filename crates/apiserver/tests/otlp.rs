//! `--otlp-endpoint` (feature `otlp`): the apiserver exports its spans to a collector, the
//! request span in the client's W3C trace, with the storage call below the processor; the
//! spans still waiting at SIGTERM are exported before the process exits.
#![cfg(feature = "otlp")]

mod common;

use serde_json::Value;
use testkit::otlp::{Collector, attribute};

#[tokio::test(flavor = "multi_thread")]
async fn spans_reach_the_collector_in_the_clients_trace() {
    let collector = Collector::start().await;
    let endpoint = format!("http://{}", collector.addr);
    let server = common::Process::start_with("memory", &["--otlp-endpoint", &endpoint]);
    let headers = [
        ("X-Namespace", "/"),
        ("Content-Type", "application/json"),
        (
            "traceparent",
            "00-5bf92f3577b34da6a3ce929d0e0e4736-10f067aa0ba902b7-01",
        ),
    ];
    let create = testkit::request("POST", "/namespaces", &headers, r#"{"name":"traced"}"#);
    let created = testkit::send(server.addr, &create).await;
    assert_eq!(created.status, 200, "{}", created.text());
    // Stopped at once: the exporter flushes before the process exits.
    server.terminate();

    let spans = collector.spans();
    let in_trace: Vec<&Value> = spans
        .iter()
        .filter(|s| s["traceId"] == "5bf92f3577b34da6a3ce929d0e0e4736")
        .collect();
    let named = |name: &str| {
        in_trace
            .iter()
            .find(|s| s["name"] == name)
            .copied()
            .unwrap_or_else(|| panic!("no {name} span in {in_trace:#?}"))
    };
    let request = named("request");
    assert_eq!(request["parentSpanId"], "10f067aa0ba902b7");
    assert_eq!(attribute(request, "identity")["stringValue"], "namespace");
    assert_eq!(attribute(request, "operation")["stringValue"], "create");
    assert_eq!(attribute(request, "namespace")["stringValue"], "/");
    assert_eq!(attribute(request, "status")["intValue"], "200");
    let processor = named("processor");
    assert_eq!(processor["parentSpanId"], request["spanId"]);
    let storage: Vec<&&Value> = in_trace.iter().filter(|s| s["name"] == "storage").collect();
    assert!(!storage.is_empty());
    for span in &storage {
        assert_eq!(span["parentSpanId"], processor["spanId"], "{span}");
        assert_eq!(attribute(span, "backend")["stringValue"], "memory");
    }
    let operations: Vec<&Value> = storage
        .iter()
        .map(|s| &attribute(s, "operation")["stringValue"])
        .collect();
    assert!(
        operations.contains(&&Value::from("create")),
        "{operations:?}"
    );
    assert_eq!(
        collector.documents()[0]["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "apiserver"
    );
}
