//! # bahamut
//!
//! The API server of the stack, wire-compatible with the Go `bahamut`: options, one processor
//! per identity, the ReST dispatch pipeline (relationships, authentication, authorization,
//! read-only mode, rate limits, validation, events, audit), meta routes, CORS, a health server,
//! a push server (websocket sessions on `/events`, in-process or NATS pub/sub, resume with
//! `since`; see [`push`]), and a graceful shutdown that drains in-flight requests.
//!
//! ```
//! use bahamut::{Context, Options, ProcessorResult, ProcessorSet, RetrieveManyProcessor, Server};
//! use todo::model::{List, manager};
//!
//! struct Lists;
//!
//! impl RetrieveManyProcessor<List> for Lists {
//!     async fn process_retrieve_many(&self, ctx: &mut Context<List>) -> ProcessorResult {
//!         ctx.set_output_many(vec![List { name: "groceries".into(), ..List::default() }]);
//!         Ok(())
//!     }
//! }
//!
//! let options = Options::new()
//!     .with_listen("127.0.0.1:8080".parse().unwrap())
//!     .with_model(0, manager())
//!     .with_model(1, manager());
//! let mut server = Server::new(options);
//! server.register_processor(ProcessorSet::new(Lists).retrieve_many()).unwrap();
//! assert_eq!(server.processors_count(), 1);
//! // Then: server.run(shutdown_signal).await
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod connection;
pub mod cors;
mod dispatch;
pub mod events;
mod health;
pub mod meta;
mod observed_io;
pub mod options;
mod processor;
pub mod push;
pub mod ratelimit;
mod response;
mod router;
mod server;

use std::future::Future;
use std::pin::Pin;

pub use auth::{
    AuditRecord, Auditer, AuthAction, AuthContext, IdentifiableRetriever, RequestAuthenticator,
    RequestAuthorizer,
};
pub use cors::CorsPolicy;
pub use events::EventPublisher;
pub use meta::RouteInfo;
pub use options::Options;
pub use processor::{
    Context, CreateProcessor, DeleteProcessor, InfoProcessor, Output, PatchProcessor,
    ProcessorResult, ProcessorSet, RetrieveManyProcessor, RetrieveProcessor, UpdateProcessor,
};
pub use push::{PushOptions, Pusher};
pub use ratelimit::RateLimit;
pub use server::{Server, ServerError};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// Any error a processor may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The responses the server writes.
pub type HttpResponse = http::Response<http_body_util::Full<bytes::Bytes>>;
