//! The health server: `GET /` answers 204 when healthy, 500 when the health check fails, and 503
//! from the moment shutdown starts or while the ReST server holds its maximum of connections.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Method, StatusCode};

use crate::HttpResponse;
use crate::response::bare;
use crate::state::ServerState;

pub(crate) async fn handle(inner: Arc<ServerState>, method: &Method, path: &str) -> HttpResponse {
    if path != "/" || !(method == Method::GET || method == Method::HEAD) {
        return bare(StatusCode::NOT_FOUND);
    }
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
