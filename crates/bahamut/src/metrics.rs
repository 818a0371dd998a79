//! Prometheus metrics, served as OpenMetrics text on the health listener's `/metrics`
//! ([`crate::Options::with_metrics`]).
//!
//! Every label takes its values from a small, fixed set (methods, identities of the model,
//! operations, status codes, backends), never from ids or raw paths, so that the number of
//! series stays bounded whatever clients send.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::endpoint::Endpoint;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    ];
    KNOWN
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("OTHER")
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    identity: &'static str,
    operation: &'static str,
    code: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DurationLabels {
    method: &'static str,
    identity: &'static str,
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StorageLabels {
    backend: &'static str,
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DropLabels {
    reason: &'static str,
}

/// Why a push event was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// The push publish handler refused it.
    PublishHandler,
    /// A session's queue was full: the session is cut off (a slow consumer).
    SlowConsumer,
}

fn histogram_of_seconds() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The metrics of one server. Cheap to clone: clones share the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    rate_limited: Counter,
    connections_open: Gauge,
    connections_accepted: Counter,
    tls_handshake_errors: Counter,
    push_sessions: Gauge,
    push_published: Counter,
    push_delivered: Counter,
    push_dropped: Family<DropLabels, Counter>,
    push_slow_consumers: Counter,
    storage: Family<StorageLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The server's metrics, with the process metrics (Linux), and no series yet.
    pub fn new() -> Self {
        let inner = Inner {
            registry: Mutex::new(Registry::default()),
            requests: Family::default(),
            durations: Family::new_with_constructor(histogram_of_seconds),
            in_flight: Gauge::default(),
            rate_limited: Counter::default(),
            connections_open: Gauge::default(),
            connections_accepted: Counter::default(),
            tls_handshake_errors: Counter::default(),
            push_sessions: Gauge::default(),
            push_published: Counter::default(),
            push_delivered: Counter::default(),
            push_dropped: Family::default(),
            push_slow_consumers: Counter::default(),
            storage: Family::new_with_constructor(histogram_of_seconds),
        };
        if let Ok(mut registry) = inner.registry.lock() {
            inner.register(&mut registry);
        }
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Registers an application metric (a counter, gauge, histogram or family of them), served
    /// with the server's.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut registry) = self.inner.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// Records the duration of one storage call (`backend`: `sqlite`, `postgres`, ...;
    /// `operation`: `retrieve-many`, `create`, ...).
    pub fn observe_storage_call(
        &self,
        backend: &'static str,
        operation: &'static str,
        took: Duration,
    ) {
        self.inner
            .storage
            .get_or_create(&StorageLabels { backend, operation })
            .observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of every metric, as `/metrics` serves it.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.inner.registry.lock() {
            if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
                tracing::warn!("metrics could not be encoded");
            }
        }
        text
    }

    pub(crate) fn request_started(&self) {
        self.inner.in_flight.inc();
    }

    pub(crate) fn request_finished(
        &self,
        method: &http::Method,
        endpoint: Endpoint,
        code: u16,
        took: Duration,
    ) {
        let method = method_label(method);
        let Endpoint {
            identity,
            operation,
            ..
        } = endpoint;
        self.inner.in_flight.dec();
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                method,
                identity,
                operation,
                code,
            })
            .inc();
        self.inner
            .durations
            .get_or_create(&DurationLabels {
                method,
                identity,
                operation,
            })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn rate_limited(&self) {
        self.inner.rate_limited.inc();
    }

    pub(crate) fn connection_accepted(&self) {
        self.inner.connections_accepted.inc();
    }

    pub(crate) fn tls_handshake_failed(&self) {
        self.inner.tls_handshake_errors.inc();
    }

    /// Sets the gauges that are read from the server's state at scrape time.
    pub(crate) fn set_current(&self, connections: usize, push_sessions: usize) {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.inner.connections_open.set(as_i64(connections));
        self.inner.push_sessions.set(as_i64(push_sessions));
    }

    pub(crate) fn push_published(&self, events: usize) {
        self.inner.push_published.inc_by(events as u64);
    }

    pub(crate) fn push_delivered(&self) {
        self.inner.push_delivered.inc();
    }

    pub(crate) fn push_dropped(&self, reason: Dropped, events: usize) {
        let reason = match reason {
            Dropped::PublishHandler => "publish_handler",
            Dropped::SlowConsumer => "slow_consumer",
        };
        self.inner
            .push_dropped
            .get_or_create(&DropLabels { reason })
            .inc_by(events as u64);
        if reason == "slow_consumer" {
            self.inner.push_slow_consumers.inc();
        }
    }
}

impl Inner {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "Requests answered, by method, identity, operation and status code",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from the request head to the answer, by method, identity and operation",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being served",
            self.in_flight.clone(),
        );
        registry.register(
            "http_rate_limited_requests",
            "Requests refused by a rate limit (429)",
            self.rate_limited.clone(),
        );
        registry.register(
            "tcp_connections_open",
            "TCP connections open on the ReST listener",
            self.connections_open.clone(),
        );
        registry.register(
            "tcp_connections_accepted",
            "TCP connections accepted on the ReST listener (those over the caps included)",
            self.connections_accepted.clone(),
        );
        registry.register(
            "tls_handshake_errors",
            "TLS handshakes on the ReST listener that failed or timed out (plain HTTP included)",
            self.tls_handshake_errors.clone(),
        );
        registry.register(
            "push_sessions_open",
            "Push (websocket) sessions open",
            self.push_sessions.clone(),
        );
        registry.register(
            "push_events_published",
            "Events this server handed to the pub/sub",
            self.push_published.clone(),
        );
        registry.register(
            "push_events_delivered",
            "Events written to push sessions (one per session that receives it)",
            self.push_delivered.clone(),
        );
        registry.register(
            "push_events_dropped",
            "Events not delivered, by reason (publish_handler, slow_consumer)",
            self.push_dropped.clone(),
        );
        registry.register(
            "push_slow_consumer_disconnects",
            "Push sessions cut off because their queue was full",
            self.push_slow_consumers.clone(),
        );
        registry.register_with_unit(
            "storage_call_duration",
            "Time of storage calls, by backend and operation",
            Unit::Seconds,
            self.storage.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
    }
}

/// The process metrics, read from `/proc/self` at scrape time (Linux; nothing elsewhere).
#[derive(Debug)]
struct ProcessCollector;

/// The unit of CPU times in `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(seconds) = cpu_seconds() {
            let counter = ConstCounter::new(seconds);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time of the process",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory of the process",
                resident_bytes(),
            ),
            (
                "process_open_fds",
                "File descriptors open in the process",
                open_fds(),
            ),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / CLOCK_TICKS_PER_SECOND)
}

fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn open_fds() -> Option<i64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    i64::try_from(entries.count()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        let custom = http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(
            (method_label(&http::Method::PATCH), method_label(&custom)),
            ("PATCH", "OTHER")
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_metrics_are_read_from_proc() {
        let text = Metrics::new().encode();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
        ] {
            assert!(text.contains(name), "{name} in:\n{text}");
        }
    }
}
