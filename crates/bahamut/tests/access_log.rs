//! The access log (one `bahamut::access` line per request, with the path template, status,
//! bytes and request id), the `request` span's fields on a processor's log lines, and the W3C
//! `traceparent` of the client reaching the processor.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bahamut::{Errors, Options, Processor, ProcessorContext, Server};
use testkit::{request, send};
use todo::model::{List, manager};

/// Log lines written by the test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = self
            .0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        text.lines()
            .filter(|line| line.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

/// One subscriber for the whole test binary (info level, no colours, no timestamps).
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_env_filter("info")
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

struct Lists;

#[bahamut::processor]
impl Processor<List> for Lists {
    /// Answers with the request's trace context as the name, after one log line.
    async fn retrieve(&self, ctx: &mut ProcessorContext<List>) -> Result<List, Errors> {
        tracing::info!("retrieving a list");
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

async fn start(access_log: bool) -> testkit::Running {
    testkit::start(|o: Options| {
        let mut server = Server::new(o.with_model(0, manager()).with_access_log(access_log));
        server.register_processor(Lists)?;
        Ok(server)
    })
    .await
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread")]
async fn every_request_gets_one_access_line_with_its_template_status_bytes_and_id() {
    let logs = logs();
    let s = start(true).await;
    let cases = [
        ("GET", "/lists/l1", "acc-1", 200, "/lists/:id"),
        ("GET", "/lists/l1/tasks", "acc-2", 501, "/lists/:id/tasks"),
        ("DELETE", "/lists", "acc-3", 405, "\"/lists\""),
        ("GET", "/a/b/c/d/e?x=1", "acc-4", 404, "\"/a/b/c/d/e\""),
    ];
    for (method, path, id, status, route) in cases {
        let r = send(s.addr, &request(method, path, &[("X-Request-ID", id)], "")).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        let lines = logs.lines_with(&format!("id={id}"));
        let access: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("bahamut::access"))
            .collect();
        assert_eq!(access.len(), 1, "{lines:?}");
        let line = access[0];
        let expected = [
            " INFO bahamut::access: request ".to_string(),
            format!("method={method} route={route} status={status} duration_ms="),
            format!(" bytes={} id={id}", r.body.len()),
        ];
        for part in expected {
            assert!(line.contains(&part), "{part:?} not in {line:?}");
        }
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_is_off_by_default() {
    let logs = logs();
    let s = start(false).await;
    let r = send(
        s.addr,
        &request("GET", "/lists/l1", &[("X-Request-ID", "quiet-1")], ""),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        logs.lines_with("id=quiet-1")
            .iter()
            .filter(|l| l.contains("bahamut::access"))
            .count(),
        0
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clients_trace_reaches_the_processor_and_the_request_span() {
    let logs = logs();
    let s = start(false).await;
    let headers = [("X-Request-ID", "span-1"), ("traceparent", PARENT)];
    let r = send(s.addr, &request("GET", "/lists/l1", &headers, "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let name = testkit::json(&r)["name"].as_str().unwrap().to_string();
    let trace = elemental::TraceContext::parse(&name).expect("a traceparent");
    assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(trace.span_id_hex(), "00f067aa0ba902b7");
    assert!(trace.sampled);

    let lines = logs.lines_with("retrieving a list");
    let line = lines
        .iter()
        .find(|l| l.contains("id=span-1"))
        .expect("the processor's line");
    let span = format!(
        "request{{id=span-1 method=GET trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id={} \
         parent_span_id=00f067aa0ba902b7 identity=list operation=retrieve namespace=}}",
        trace.span_id_hex()
    );
    assert!(line.contains(&span), "{span:?} not in {line:?}");

    // Without (or with an invalid) traceparent, the request starts a trace of its own.
    let headers = [("traceparent", "00-zz-00f067aa0ba902b7-01")];
    let r = send(s.addr, &request("GET", "/lists/l1", &headers, "")).await;
    let name = testkit::json(&r)["name"].as_str().unwrap().to_string();
    let trace = elemental::TraceContext::parse(&name).expect("a traceparent");
    assert_ne!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    s.stop().await.unwrap();
}
