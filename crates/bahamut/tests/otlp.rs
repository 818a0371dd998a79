//! OTLP export (feature `otlp`): a request with a W3C `traceparent` is exported, to a small
//! OTLP/HTTP receiver in the test, as a `request` span in the client's trace, with its
//! identity, operation and status, and a `processor` child span.
#![cfg(feature = "otlp")]

use bahamut::{Errors, Options, Processor, ProcessorContext, Server};
use serde_json::Value;
use testkit::otlp::{Collector, attribute};
use testkit::{request, send};
use todo::model::{List, manager};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

struct Lists;

#[bahamut::processor]
impl Processor<List> for Lists {
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        Ok(List {
            id: ctx.request().object_id.clone(),
            name: ctx
                .request()
                .trace
                .map(|t| t.to_string())
                .unwrap_or_default(),
            ..List::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_exported_in_the_clients_trace_with_its_children() {
    let collector = Collector::start().await;
    let endpoint = format!("http://{}", collector.addr);
    let (layer, exporter, flush) = bahamut::otlp::pipeline(&endpoint, "todo-test").unwrap();
    let targets =
        tracing_subscriber::filter::Targets::new().with_target("bahamut", tracing::Level::DEBUG);
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(layer, targets))
        .init();
    tokio::spawn(exporter.run());
    let s = testkit::start(|o: Options| {
        let mut server = Server::new(o.with_model(0, manager()));
        server.register_processor(Lists)?;
        Ok(server)
    })
    .await;

    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = send(
        s.addr,
        &request("GET", "/lists/l1", &[("traceparent", parent)], ""),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = testkit::json(&r)["name"].as_str().unwrap().to_string();
    let server_span = elemental::TraceContext::parse(&seen).unwrap();
    let r = send(s.addr, &request("GET", "/lists/l2/tasks", &[], "")).await;
    assert_eq!(r.status, 501, "{}", r.text());
    flush.flush().await;

    assert!(collector.paths().iter().all(|path| path == "/v1/traces"));
    assert_eq!(
        collector.documents()[0]["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "todo-test"
    );
    let spans = collector.spans();
    let request = spans
        .iter()
        .find(|s| s["name"] == "request" && s["traceId"] == "0af7651916cd43dd8448eb211c80319c")
        .unwrap_or_else(|| panic!("no request span in {spans:#?}"));
    assert_eq!(request["spanId"], server_span.span_id_hex().as_str());
    assert_eq!(request["parentSpanId"], "b7ad6b7169203331");
    assert_eq!(request["kind"], 2);
    assert_eq!(attribute(request, "identity")["stringValue"], "list");
    assert_eq!(attribute(request, "operation")["stringValue"], "retrieve");
    assert_eq!(attribute(request, "method")["stringValue"], "GET");
    assert_eq!(attribute(request, "status")["intValue"], "200");
    assert_eq!(attribute(request, "trace_id"), &Value::Null);
    let children: Vec<&str> = spans
        .iter()
        .filter(|s| s["parentSpanId"] == request["spanId"])
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    for child in ["authenticate", "authorize", "processor"] {
        assert!(children.contains(&child), "{child} not in {children:?}");
    }
    assert!(
        spans
            .iter()
            .filter(|s| s["parentSpanId"] == request["spanId"])
            .all(|s| s["traceId"] == request["traceId"] && s["kind"] == 1)
    );

    // Without traceparent: a trace of its own, with no parent.
    let own = spans
        .iter()
        .find(|s| s["name"] == "request" && attribute(s, "status")["intValue"] == "501")
        .expect("the second request's span");
    assert_ne!(own["traceId"], request["traceId"]);
    assert_eq!(own["parentSpanId"], Value::Null);
    assert_eq!(own["status"]["code"], 2);
    assert_eq!(request["status"], serde_json::json!({}));
    s.stop().await.unwrap();
}
