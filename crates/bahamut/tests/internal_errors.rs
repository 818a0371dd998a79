//! A 500 reaches the client with a generic description and the request's trace id; the detail
//! is logged at error level with the same id, which is also the `X-Request-ID` of the response
//! and a field of every log line written while the request is served.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bahamut::{Errors, Processor, ProcessorContext, Server};
use testkit::{request, send};
use todo::model::{List, manager};
use tracing_subscriber::util::SubscriberInitExt;

struct Failing;

#[bahamut::processor]
impl Processor<List> for Failing {
    async fn retrieve(&self, _: &mut ProcessorContext<List>) -> Result<List, Errors> {
        tracing::warn!("the processor looks for the list");
        Err(elemental::Error::new(
            "Internal Server Error",
            "SQLITE_CORRUPT: database disk image is malformed (table secret_things)",
            "elemental",
            500,
        )
        .into())
    }
}

/// The log lines written by the test binary's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_hides_its_detail_from_the_client_and_logs_it_with_the_trace() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The request spans deferred, as the apiserver has them: the lines must carry them all
    // the same.
    let logs = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    bahamut::DeferredSpans::new(logs).init();
    let s = testkit::start(|o| {
        let mut server = Server::new(o.with_model(0, manager()));
        server.register_processor(Failing)?;
        Ok(server)
    })
    .await;
    let r = send(s.addr, &request("GET", "/lists/x", &[], "")).await;
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let trace = body[0]["trace"].as_str().unwrap_or_default().to_string();
    assert_eq!(r.status, 500);
    assert_eq!(r.header("X-Request-ID"), Some(trace.as_str()));
    assert_eq!(
        r.text(),
        format!(
            r#"[{{"code":500,"description":"The server could not process the request; its logs have the details under trace {trace}","subject":"elemental","title":"Internal Server Error","trace":"{trace}"}}]"#
        )
    );
    assert!(!r.text().contains("SQLITE"));
    s.stop().await.unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("internal error") && l.contains(&format!("trace=\"{trace}\"")))
        .unwrap_or_else(|| panic!("no internal error line with the trace {trace}:\n{logs}"));
    assert!(line.contains("ERROR"), "{line}");
    let processor_line = logs
        .lines()
        .find(|l| l.contains("the processor looks for the list"))
        .unwrap_or_else(|| panic!("no log line of the processor:\n{logs}"));
    assert!(
        processor_line.contains(&format!("request{{id={trace} method=GET trace_id=")),
        "{processor_line}"
    );
    assert!(
        line.contains("SQLITE_CORRUPT: database disk image is malformed (table secret_things)"),
        "{line}"
    );
}
