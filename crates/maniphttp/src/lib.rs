//! # maniphttp
//!
//! The client side of a bahamut server, over HTTP:
//!
//! - [`Client`] implements [`manipulate::Manipulator`], so code written against storage (crud's
//!   processors included) runs unchanged against a remote server;
//! - typed helpers over generated models ([`Client::create`], [`Client::retrieve_many`],
//!   [`Client::count`], ...), with every option of a [`manipulate::StoreContext`] sent as the
//!   server reads it (namespace, recursion, filter, pages and cursors, order, fields,
//!   parameters, override, idempotency key, consistency, tracking id), in JSON or msgpack;
//! - errors decoded from the server's error array into typed [`Error`]s;
//! - retries with exponential backoff and jitter on connection errors, 429, 502, 503 and 504
//!   ([`RetryPolicy`], `Retry-After` honoured), only for requests that are safe to send twice;
//!   creates and updates get an `Idempotency-Key` so that they are;
//! - a static token or a [`RefreshingToken`]; TLS with rustls ([`TlsSettings`]: custom CAs,
//!   client certificates, an `insecure` switch for development); timeouts per attempt and per
//!   call;
//! - a push [`Subscriber`] ([`Client::subscriber`]): a stream of events and a stream of
//!   [`Status`] changes, reconnecting with backoff and resuming with `since`, so that a
//!   reconnection neither loses nor repeats an event.
//!
//! ```no_run
//! use gaia::model::ExternalNetwork;
//! use manipulate::StoreContext;
//! use elemental::filter::Filter;
//!
//! # async fn example() -> Result<(), maniphttp::Error> {
//! let client = maniphttp::Client::builder("http://127.0.0.1:8080")
//!     .with_token("secret")
//!     .build()?;
//! let ctx = StoreContext::in_namespace("/");
//! let web = ExternalNetwork { name: "web".into(), entries: vec!["10.0.0.0/8".into()], ..Default::default() };
//! let created = client.create(&web, &ctx).await?;
//! let ctx = ctx.with_filter(Filter::parse("name == web").expect("a valid filter"));
//! let page = client.retrieve_many::<ExternalNetwork>(&ctx).await?;
//! assert_eq!(page.objects[0].id, created.id);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;
mod manipulator;
mod retry;
mod subscriber;
mod tls;
mod token;
mod typed;
mod wire;

pub use client::{Client, ClientBuilder};
pub use error::{ApiError, Error};
pub use manipulate::Page;
pub use retry::{RetryPolicy, parse_retry_after};
pub use subscriber::{Events, Status, Statuses, Subscriber, SubscriberBuilder};
pub use tls::TlsSettings;
pub use token::{RefreshingToken, TokenManager};
