//! The health server: `GET /` answers 204 when healthy, 500 when the health check fails, and 503
//! from the moment shutdown starts or while the ReST server holds its maximum of connections.
//! `GET /metrics` serves the metrics when they are on, and `GET /<name>` each custom health stat.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Method, StatusCode};

use crate::HttpResponse;
use crate::response::bare;
use crate::state::ServerState;

/// Whether a custom health stat may be served as `/<name>`.
pub(crate) fn is_valid_stat_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('_') && !name.contains('/') && name != "metrics"
}

pub(crate) async fn handle(inner: Arc<ServerState>, method: &Method, path: &str) -> HttpResponse {
    if !(method == Method::GET || method == Method::HEAD) {
        return bare(StatusCode::NOT_FOUND);
    }
    match path {
        "/" => health(inner).await,
        "/metrics" => metrics(&inner),
        _ => stat(&inner, &path[1..]).await,
    }
}

fn metrics(inner: &ServerState) -> HttpResponse {
    let Some(metrics) = &inner.options.metrics else {
        return bare(StatusCode::NOT_FOUND);
    };
    let sessions = inner.push.as_ref().map_or(0, |push| push.hub.sessions());
    metrics.set_current(inner.limits.open(), sessions);
    text(crate::metrics::CONTENT_TYPE, metrics.encode().into_bytes())
}

async fn stat(inner: &ServerState, name: &str) -> HttpResponse {
    let Some(stat) = inner.options.health_stats.get(name) else {
        return bare(StatusCode::NOT_FOUND);
    };
    let document = stat().await;
    text(
        elemental::EncodingType::Json.content_type_header(),
        serde_json::to_vec(&document).unwrap_or_default(),
    )
}

fn text(content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    let mut response = bare(StatusCode::OK);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    *response.body_mut() = crate::Body::from(body);
    response
}

async fn health(inner: Arc<ServerState>) -> HttpResponse {
    if !inner.healthy.load(Ordering::SeqCst) {
        return bare(StatusCode::SERVICE_UNAVAILABLE);
    }
    if inner.limits.saturated() {
        let mut response = bare(StatusCode::SERVICE_UNAVAILABLE);
        let message = format!(
            "connection limit reached: {} of {} connections open",
            inner.limits.open(),
            inner.limits.max_total()
        );
        *response.body_mut() = crate::Body::from(message);
        return response;
    }
    match &inner.options.health_handler {
        None => bare(StatusCode::NO_CONTENT),
        Some(check) => match check().await {
            Ok(()) => bare(StatusCode::NO_CONTENT),
            Err(message) => {
                tracing::warn!(%message, "health check failed");
                let mut response = bare(StatusCode::INTERNAL_SERVER_ERROR);
                *response.body_mut() = crate::Body::from(message);
                response
            }
        },
    }
}
