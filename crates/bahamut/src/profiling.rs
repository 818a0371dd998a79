//! The profiling listener (feature `profiling`, off unless [`crate::Options::with_profiling_listen`]
//! gives it an address): CPU profiles of the whole process, on the paths of Go's `net/http/pprof`.
//!
//! | path | answer |
//! |---|---|
//! | `GET /debug/pprof/` | a short index of the paths below |
//! | `GET /debug/pprof/profile?seconds=N` | a CPU profile of `N` seconds (default 30, 1 to 300) as gzipped pprof protobuf, for `go tool pprof` or `pprof` |
//! | `GET /debug/pprof/profile?seconds=N&format=svg` | the same profile as a flamegraph SVG |
//! | `GET /debug/pprof/flamegraph?seconds=N` | the same as `format=svg` |
//!
//! One profile is taken at a time (a second request meanwhile gets a 409). The listener is plain
//! HTTP whatever TLS the ReST listener has: bind it to a private address.

use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pprof::protos::Message;
use tokio::net::TcpListener;

use crate::HttpResponse;
use crate::body::Body;
use crate::connection::AcceptBackoff;

/// Samples per second (Go's rate is 100; a prime keeps clear of periodic work).
const FREQUENCY: i32 = 99;
/// The default and the longest profile, in seconds.
const DEFAULT_SECONDS: u64 = 30;
const MAX_SECONDS: u64 = 300;

/// True while a profile is being taken.
static PROFILING: AtomicBool = AtomicBool::new(false);

/// What a profile request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Pprof,
    Svg,
}

/// Serves profiles until the task is aborted.
pub(crate) async fn serve(listener: TcpListener) {
    let mut backoff = AcceptBackoff::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff.succeeded();
                stream
            }
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let service = service_fn(|request: http::Request<Incoming>| async move {
                Ok::<_, Infallible>(handle(&request).await)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(request: &http::Request<Incoming>) -> HttpResponse {
    if request.method() != http::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n");
    }
    let query = request.uri().query().unwrap_or_default();
    let format = match (request.uri().path(), query_value(query, "format")) {
        ("/debug/pprof" | "/debug/pprof/", _) => return text(StatusCode::OK, INDEX),
        ("/debug/pprof/profile", None | Some("pprof" | "proto")) => Format::Pprof,
        ("/debug/pprof/profile", Some("svg")) | ("/debug/pprof/flamegraph", _) => Format::Svg,
        ("/debug/pprof/profile", Some(other)) => {
            let message = format!("format must be pprof or svg, not {other:?}\n");
            return text(StatusCode::BAD_REQUEST, &message);
        }
        _ => return text(StatusCode::NOT_FOUND, "not found: see /debug/pprof/\n"),
    };
    let seconds = match query_value(query, "seconds").map(str::parse::<u64>) {
        None => DEFAULT_SECONDS,
        Some(Ok(seconds)) if (1..=MAX_SECONDS).contains(&seconds) => seconds,
        Some(_) => {
            let message = format!("seconds must be a whole number from 1 to {MAX_SECONDS}\n");
            return text(StatusCode::BAD_REQUEST, &message);
        }
    };
    if PROFILING.swap(true, Ordering::SeqCst) {
        return text(
            StatusCode::CONFLICT,
            "a CPU profile is already being taken; try again when it is done\n",
        );
    }
    tracing::info!(seconds, ?format, "CPU profile started");
    let duration = Duration::from_secs(seconds);
    let taken = tokio::task::spawn_blocking(move || profile(duration, format)).await;
    PROFILING.store(false, Ordering::SeqCst);
    match taken {
        Ok(Ok(bytes)) => {
            let (content_type, disposition) = match format {
                Format::Pprof => (
                    "application/octet-stream",
                    "attachment; filename=\"profile\"",
                ),
                Format::Svg => ("image/svg+xml", "inline; filename=\"profile.svg\""),
            };
            let mut response = Response::new(Body::from(Bytes::from(bytes)));
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(content_type),
            );
            headers.insert(
                http::header::CONTENT_DISPOSITION,
                http::HeaderValue::from_static(disposition),
            );
            response
        }
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "CPU profile failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the profile failed: {reason}\n"),
            )
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the profile failed\n"),
    }
}

/// Samples the process for `duration`, then encodes the samples (on a blocking thread).
fn profile(duration: Duration, format: Format) -> Result<Vec<u8>, String> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(duration);
    let report = guard.report().build().map_err(|e| e.to_string())?;
    match format {
        Format::Svg => {
            let mut svg = Vec::new();
            report.flamegraph(&mut svg).map_err(|e| e.to_string())?;
            Ok(svg)
        }
        Format::Pprof => {
            let profile = report.pprof().map_err(|e| e.to_string())?;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(&profile.encode_to_vec())
                .map_err(|e| e.to_string())?;
            encoder.finish().map_err(|e| e.to_string())
        }
    }
}

/// The value of `name` in a query string, if present.
fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn text(status: StatusCode, message: &str) -> HttpResponse {
    let mut response = Response::new(Body::from(Bytes::copy_from_slice(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

const INDEX: &str = "CPU profiles of this process:\n\
/debug/pprof/profile?seconds=30             pprof protobuf (gzip): go tool pprof http://HOST/debug/pprof/profile?seconds=30\n\
/debug/pprof/profile?seconds=30&format=svg  flamegraph SVG\n\
/debug/pprof/flamegraph?seconds=30          flamegraph SVG\n";

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn query_values_are_found_by_name() {
        assert_eq!(query_value("seconds=2&format=svg", "format"), Some("svg"));
        assert_eq!(query_value("seconds=2&format=svg", "seconds"), Some("2"));
        assert_eq!(query_value("seconds", "seconds"), Some(""));
        assert_eq!(query_value("", "seconds"), None);
    }
}
