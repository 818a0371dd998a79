//! The apiserver's logs (text or JSON, on stdout) and, with the `otlp` feature, the export of
//! its spans to an OpenTelemetry collector.

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (colours on a terminal).
    Text,
    /// One JSON object per line, with the fields of the event and of its request span.
    Json,
}

/// What is left to do at shutdown: export the spans not yet exported.
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    flush: Option<bahamut::otlp::OtlpFlush>,
}

impl Telemetry {
    /// Exports the spans that wait, for at most five seconds.
    pub async fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(flush) = self.flush {
            let wait = std::time::Duration::from_secs(5);
            let _ = tokio::time::timeout(wait, flush.flush()).await;
        }
    }
}

/// Installs the global subscriber: logs at `level` (a level or a tracing filter) in `format`,
/// and spans exported to `otlp_endpoint` when given. Call it inside the runtime.
pub fn init(
    level: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<Telemetry, String> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| format!("--log-level {level:?} is not a level nor a tracing filter: {e}"))?;
    let logs = match format {
        LogFormat::Text => {
            let colours = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let layer = tracing_subscriber::fmt::layer().with_ansi(colours);
            match colours {
                true => layer.boxed(),
                // The same text for less work per request.
                false => layer.fmt_fields(bahamut::PlainFields).boxed(),
            }
        }
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    }
    .with_filter(filter);
    let registry = tracing_subscriber::registry().with(logs);
    #[cfg(feature = "otlp")]
    if let Some(endpoint) = otlp_endpoint {
        let (layer, exporter, flush) = bahamut::otlp::pipeline(endpoint, "apiserver")
            .map_err(|e| format!("--otlp-endpoint: {e}"))?;
        tokio::spawn(exporter.run());
        // Exported, each request's span opens with the request.
        registry.with(layer.with_filter(traced_targets())).init();
        return Ok(Telemetry { flush: Some(flush) });
    }
    #[cfg(not(feature = "otlp"))]
    if otlp_endpoint.is_some() {
        return Err(
            "--otlp-endpoint: this apiserver was built without OTLP export; build it with `cargo build --release -p apiserver --features otlp`"
                .into(),
        );
    }
    // Logs only: a request's span opens with its first line, if it writes one.
    bahamut::DeferredSpans::new(registry).init();
    Ok(Telemetry {
        #[cfg(feature = "otlp")]
        flush: None,
    })
}

/// The spans exported: the server's and the stack's, down to debug level (where the
/// `authenticate`, `authorize`, `processor`, `storage` and `push_publish` spans are).
#[cfg(feature = "otlp")]
fn traced_targets() -> tracing_subscriber::filter::Targets {
    use tracing::Level;
    tracing_subscriber::filter::Targets::new()
        .with_target("bahamut", Level::DEBUG)
        .with_target("apiserver", Level::DEBUG)
        .with_target("crud", Level::DEBUG)
        .with_target("manipsql", Level::DEBUG)
}
