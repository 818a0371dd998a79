//! # bahamut
//!
//! The API server of the stack, wire-compatible with the Go `bahamut`: options, one processor
//! per identity, the ReST dispatch pipeline (relationships, authentication, authorization,
//! read-only mode, rate limits, validation, events, audit), meta routes, CORS, request ids
//! (`X-Request-ID`), TLS and mutual TLS with HTTP/2 (see [`tls`]), a `request` span per request
//! in the client's W3C trace with an optional access log, a cheaper formatter of log fields for
//! text logs ([`PlainFields`]), a subscriber wrapper that opens a request's span only when the
//! request logs ([`DeferredSpans`]) (and, with the `otlp` feature, export of the spans to an
//! OpenTelemetry collector), a health server with custom stats and Prometheus
//! metrics (see [`metrics`]),
//! a push server (websocket sessions on `/events`, in-process or NATS pub/sub, resume with
//! `since`; see [`push`]), and a graceful shutdown that drains in-flight requests.
//!
//! A processor gets its input as an argument and answers with its return value; the methods
//! written are the operations served:
//!
//! ```
//! use bahamut::{Errors, Options, Page, Processor, ProcessorContext, Server};
//! use todo::model::{List, manager};
//!
//! struct Lists;
//!
//! #[bahamut::processor]
//! impl Processor<List> for Lists {
//!     async fn retrieve_many(&self, _: &mut ProcessorContext<List>) -> Result<Page<List>, Errors> {
//!         Ok(Page::all(vec![List { name: "groceries".into(), ..List::default() }]))
//!     }
//! }
//!
//! let options = Options::new().with_model(0, manager()).with_model(1, manager());
//! let mut server = Server::new(options);
//! server.register_processor(Lists).unwrap();
//! assert_eq!(server.processors_count(), 1);
//! // Then: server.run(shutdown_signal).await
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod body;
mod connection;
mod cookie;
pub mod cors;
mod dispatch;
mod endpoint;
pub mod events;
mod health;
pub mod log_fields;
pub mod meta;
pub mod metrics;
mod observed_io;
pub mod options;
#[cfg(feature = "otlp")]
pub mod otlp;
mod processor;
#[cfg(feature = "profiling")]
pub mod profiling;
pub mod push;
pub mod ratelimit;
mod request_span;
mod response;
mod router;
mod server;
mod state;
pub mod tls;
mod typed;

use std::future::Future;
use std::pin::Pin;

pub use auth::{
    AuditRecord, Auditer, AuthAction, AuthContext, IdentifiableRetriever, RequestAuthenticator,
    RequestAuthorizer,
};
pub use bahamut_macros::processor;
pub use body::Body;
pub use cookie::{Cookie, SameSite};
pub use cors::CorsPolicy;
pub use elemental::{Encoded, Errors, Operation};
pub use events::EventPublisher;
pub use log_fields::PlainFields;
pub use meta::RouteInfo;
pub use metrics::Metrics;
pub use options::{ErrorTransformer, Marshal, Marshaller, Options, Unmarshaller};
pub use processor::{Items, NotImplemented, Page, Processor, ProcessorContext, Retrieved};
pub use push::{PushOptions, Pusher};
pub use ratelimit::RateLimit;
pub use request_span::DeferredSpans;
pub use server::{Server, ServerError};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// Any error a processor may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The responses the server writes.
pub type HttpResponse = http::Response<Body>;
