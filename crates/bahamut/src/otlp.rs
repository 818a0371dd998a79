//! OpenTelemetry export of the server's spans, over OTLP/HTTP with JSON bodies (feature `otlp`).
//!
//! [`OtlpLayer`] is a `tracing-subscriber` layer: each span it sees (the `request` span of every
//! request, and its `authenticate`, `authorize`, `processor`, `storage` and `push_publish`
//! children) is sent, once closed, to an [`OtlpExporter`] task that posts them in batches to
//! `<endpoint>/v1/traces`. The `request` span carries the W3C trace of the client's
//! `traceparent` (see [`elemental::TraceContext`]), so the exported spans join the client's
//! trace. Spans wait in a bounded queue: when the collector is slow or down, spans past it are
//! dropped and counted, never the requests slowed.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! # async fn start() -> Result<(), bahamut::otlp::OtlpError> {
//! let (layer, exporter, flush) = bahamut::otlp::pipeline("http://127.0.0.1:4318", "apiserver")?;
//! tracing_subscriber::registry().with(layer).init();
//! tokio::spawn(exporter.run());
//! // ... serve, then at shutdown, so that the last spans are not lost:
//! flush.flush().await;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use elemental::{TraceContext, hex};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::span;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Spans waiting for export; past it, spans are dropped (and counted).
const QUEUE: usize = 8192;
/// Most spans in one export request.
const BATCH: usize = 512;
/// How often waiting spans are exported.
const INTERVAL: Duration = Duration::from_secs(1);
/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the export cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The endpoint is not an `http://host:port` URL.
    #[error(
        "OTLP endpoint {0:?} is not an http://host:port URL (OTLP/HTTP, usually port 4318; https is not supported)"
    )]
    Endpoint(String),
}

/// A closed span, as exported.
#[derive(Debug, Clone)]
struct SpanRecord {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span_id: Option<[u8; 8]>,
    name: &'static str,
    /// `SERVER` (2) for a span that has a remote parent or none, `INTERNAL` (1) below another.
    kind: u8,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<(&'static str, Attribute)>,
}

/// The value of a span field.
#[derive(Debug, Clone)]
enum Attribute {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// The tracing layer that hands closed spans to the exporter. Made by [`pipeline`].
pub struct OtlpLayer {
    queue: mpsc::Sender<SpanRecord>,
    dropped: Arc<AtomicU64>,
}

/// The task that posts spans to the collector: run it with `tokio::spawn(exporter.run())`.
/// Made by [`pipeline`].
pub struct OtlpExporter {
    spans: mpsc::Receiver<SpanRecord>,
    flushes: mpsc::Receiver<oneshot::Sender<()>>,
    target: Target,
    service_name: String,
    dropped: Arc<AtomicU64>,
}

/// Asks a running [`OtlpExporter`] to export what waits, and waits for it (at shutdown).
#[derive(Clone)]
pub struct OtlpFlush {
    flushes: mpsc::Sender<oneshot::Sender<()>>,
}

/// Where spans go.
#[derive(Debug, Clone)]
struct Target {
    authority: String,
    path: String,
}

/// The layer, the exporter and its flush handle, for spans sent to `endpoint`
/// (`http://collector:4318`; `/v1/traces` is added unless the endpoint has a path) under the
/// resource `service.name` of `service_name`.
pub fn pipeline(
    endpoint: &str,
    service_name: &str,
) -> Result<(OtlpLayer, OtlpExporter, OtlpFlush), OtlpError> {
    let target = Target::parse(endpoint)?;
    let (queue, spans) = mpsc::channel(QUEUE);
    let (flush_tx, flushes) = mpsc::channel(4);
    let dropped = Arc::new(AtomicU64::new(0));
    let layer = OtlpLayer {
        queue,
        dropped: dropped.clone(),
    };
    let exporter = OtlpExporter {
        spans,
        flushes,
        target,
        service_name: service_name.to_string(),
        dropped,
    };
    Ok((layer, exporter, OtlpFlush { flushes: flush_tx }))
}

impl Target {
    fn parse(endpoint: &str) -> Result<Self, OtlpError> {
        let invalid = || OtlpError::Endpoint(endpoint.to_string());
        let uri: http::Uri = endpoint.parse().map_err(|_| invalid())?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid());
        }
        let authority = uri.authority().ok_or_else(invalid)?;
        let host_port = match authority.port_u16() {
            Some(_) => authority.as_str().to_string(),
            None => format!("{}:80", authority.as_str()),
        };
        let path = match uri.path() {
            "" | "/" => "/v1/traces".to_string(),
            path => path.to_string(),
        };
        Ok(Self {
            authority: host_port,
            path,
        })
    }
}

impl OtlpFlush {
    /// Exports the spans closed so far; returns once the collector answered (or the export
    /// failed, or the exporter is gone).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }
}

impl OtlpExporter {
    /// Exports spans every second or every 512 spans, and on each flush, until the layer is
    /// gone.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(INTERVAL);
        let mut flushable = true;
        loop {
            tokio::select! {
                span = self.spans.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() >= BATCH {
                            self.export(&mut batch).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.export(&mut batch).await,
                flush = self.flushes.recv(), if flushable => {
                    let Some(done) = flush else {
                        flushable = false;
                        continue;
                    };
                    while let Ok(span) = self.spans.try_recv() {
                        batch.push(span);
                    }
                    self.export(&mut batch).await;
                    let _ = done.send(());
                }
            }
        }
        self.export(&mut batch).await;
    }

    async fn export(&self, batch: &mut Vec<SpanRecord>) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                target: "bahamut::otlp",
                dropped,
                "OTLP export queue full: spans dropped"
            );
        }
        if batch.is_empty() {
            return;
        }
        let body = export_request(&self.service_name, batch);
        let count = batch.len();
        batch.clear();
        let sent = tokio::time::timeout(EXPORT_TIMEOUT, post(&self.target, body)).await;
        match sent {
            Ok(Ok(status)) if status.is_success() => {}
            Ok(Ok(status)) => tracing::warn!(
                target: "bahamut::otlp",
                %status,
                spans = count,
                "OTLP collector refused spans"
            ),
            Ok(Err(reason)) => tracing::warn!(
                target: "bahamut::otlp",
                %reason,
                spans = count,
                "OTLP export failed"
            ),
            Err(_) => tracing::warn!(
                target: "bahamut::otlp",
                spans = count,
                "OTLP export timed out"
            ),
        }
    }
}

/// Posts one export request on a fresh connection.
async fn post(target: &Target, body: Vec<u8>) -> Result<http::StatusCode, String> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("connect {}: {e}", target.authority))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = http::Request::post(&target.path)
        .header(http::header::HOST, &target.authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    Ok(status)
}

/// The OTLP/JSON `ExportTraceServiceRequest` of `spans`: ids in hex, times as strings of
/// nanoseconds since the epoch.
fn export_request(service_name: &str, spans: &[SpanRecord]) -> Vec<u8> {
    let spans: Vec<Value> = spans.iter().map(span_json).collect();
    let document = json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": service_name}}
            ]},
            "scopeSpans": [{
                "scope": {"name": "bahamut", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans,
            }],
        }]
    });
    serde_json::to_vec(&document).unwrap_or_default()
}

fn span_json(span: &SpanRecord) -> Value {
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .to_string()
    };
    let attributes: Vec<Value> = span
        .attributes
        .iter()
        .map(|(key, value)| json!({"key": key, "value": attribute_json(value)}))
        .collect();
    let failed = span.attributes.iter().any(|(key, value)| {
        *key == "status" && matches!(value, Attribute::Int(code) if *code >= 500)
    });
    let mut document = json!({
        "traceId": hex(&span.trace_id),
        "spanId": hex(&span.span_id),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": nanos(span.start),
        "endTimeUnixNano": nanos(span.end),
        "attributes": attributes,
        "status": if failed { json!({"code": 2}) } else { json!({}) },
    });
    if let (Some(parent), Some(object)) = (span.parent_span_id, document.as_object_mut()) {
        object.insert("parentSpanId".into(), Value::String(hex(&parent)));
    }
    document
}

fn attribute_json(value: &Attribute) -> Value {
    match value {
        Attribute::Text(text) => json!({"stringValue": text}),
        Attribute::Int(int) => json!({"intValue": int.to_string()}),
        Attribute::Float(float) => json!({"doubleValue": float}),
        Attribute::Bool(bool) => json!({"boolValue": bool}),
    }
}

/// `N` bytes from `2 * N` hex digits.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// What the layer keeps on an open span.
struct OpenSpan {
    context: TraceContext,
    parent_span_id: Option<[u8; 8]>,
    kind: u8,
    start: SystemTime,
    attributes: Vec<(&'static str, Attribute)>,
}

/// Collects span fields; `trace_id`, `span_id` and `parent_span_id` (hex) set the span's
/// place in its trace instead of being attributes.
#[derive(Default)]
struct Fields {
    attributes: Vec<(&'static str, Attribute)>,
    trace_id: Option<[u8; 16]>,
    span_id: Option<[u8; 8]>,
    parent_span_id: Option<[u8; 8]>,
}

impl Fields {
    fn set(&mut self, field: &Field, value: Attribute) {
        let name = field.name();
        if let Attribute::Text(text) = &value {
            match name {
                "trace_id" => return self.trace_id = unhex(text),
                "span_id" => return self.span_id = unhex(text),
                "parent_span_id" => return self.parent_span_id = unhex(text),
                _ => {}
            }
        }
        match self.attributes.iter_mut().find(|(key, _)| *key == name) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, Attribute::Text(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Attribute::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(
            field,
            i64::try_from(value)
                .map_or_else(|_| Attribute::Text(value.to_string()), Attribute::Int),
        );
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Attribute::Float(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Attribute::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, Attribute::Text(format!("{value:?}")));
    }
}

impl<S> tracing_subscriber::Layer<S> for OtlpLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let local_parent = span.parent().and_then(|parent| {
            parent
                .extensions()
                .get::<OpenSpan>()
                .map(|open| open.context)
        });
        // A span that names its own trace (the request span, from `traceparent`) keeps it;
        // another joins its parent's trace, or starts one.
        let (context, parent_span_id, kind) = match (fields.trace_id, local_parent) {
            (Some(trace_id), _) => {
                let mut context = TraceContext::child_of(None);
                context.trace_id = trace_id;
                if let Some(span_id) = fields.span_id {
                    context.span_id = span_id;
                }
                let parent = fields.parent_span_id.or(local_parent.map(|p| p.span_id));
                (context, parent, 2)
            }
            (None, Some(parent)) => (
                TraceContext::child_of(Some(&parent)),
                Some(parent.span_id),
                1,
            ),
            (None, None) => (TraceContext::child_of(None), None, 2),
        };
        span.extensions_mut().insert(OpenSpan {
            context,
            parent_span_id,
            kind,
            start: SystemTime::now(),
            attributes: fields.attributes,
        });
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(open) = extensions.get_mut::<OpenSpan>() else {
            return;
        };
        let mut fields = Fields {
            attributes: std::mem::take(&mut open.attributes),
            ..Fields::default()
        };
        values.record(&mut fields);
        open.attributes = fields.attributes;
        if let Some(parent) = fields.parent_span_id {
            open.parent_span_id = Some(parent);
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let record = SpanRecord {
            trace_id: open.context.trace_id,
            span_id: open.context.span_id,
            parent_span_id: open.parent_span_id,
            name: span.name(),
            kind: open.kind,
            start: open.start,
            end: SystemTime::now(),
            attributes: open.attributes,
        };
        if self.queue.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_http_urls() {
        let target = Target::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(target.authority, "127.0.0.1:4318");
        assert_eq!(target.path, "/v1/traces");
        let target = Target::parse("http://collector/custom/traces").unwrap();
        assert_eq!(target.authority, "collector:80");
        assert_eq!(target.path, "/custom/traces");
        for bad in ["https://collector:4318", "collector:4318", "", "http://"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_encode_as_otlp_json() {
        let start = UNIX_EPOCH + Duration::from_nanos(1_000);
        let span = SpanRecord {
            trace_id: [0xab; 16],
            span_id: [0x01; 8],
            parent_span_id: Some([0x02; 8]),
            name: "request",
            kind: 2,
            start,
            end: start + Duration::from_nanos(500),
            attributes: vec![
                ("identity", Attribute::Text("list".into())),
                ("status", Attribute::Int(503)),
            ],
        };
        let document: Value = serde_json::from_slice(&export_request("svc", &[span])).unwrap();
        let span = &document["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "abababababababababababababababab");
        assert_eq!(span["spanId"], "0101010101010101");
        assert_eq!(span["parentSpanId"], "0202020202020202");
        assert_eq!(span["startTimeUnixNano"], "1000");
        assert_eq!(span["endTimeUnixNano"], "1500");
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["attributes"][1]["value"]["intValue"], "503");
        assert_eq!(
            document["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
