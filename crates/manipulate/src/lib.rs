//! # manipulate
//!
//! Storage of model objects behind one trait, [`Manipulator`], whatever the backend: the
//! in-memory one here, SQLite and PostgreSQL in `manipsql`. A [`StoreContext`] carries what a request
//! asks (namespace, filter, pagination, order, parent, idempotency key); errors map to HTTP
//! statuses; [`with_retry`] retries the transient ones.
//!
//! ```
//! use gaia::model::ExternalNetwork;
//! use manipulate::{StoreContext, MemoryManipulator};
//! use elemental::filter::Filter;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryManipulator::new();
//! let ctx = StoreContext::in_namespace("/acme");
//! let net = ExternalNetwork { id: "n1".into(), name: "web".into(), namespace: "/acme".into(), ..Default::default() };
//! manipulate::create(&store, net, &ctx).await.unwrap();
//! let ctx = ctx.with_filter(Filter::parse("name == web").unwrap());
//! let page = manipulate::retrieve_many::<ExternalNetwork>(&store, &ctx).await.unwrap();
//! assert_eq!((page.objects.len(), page.total), (1, 1));
//! # });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod context;
mod error;
mod fields;
mod manipulator;
mod memory;
pub mod query;
mod record;
mod retry;

pub use context::{ReadConsistency, StoreContext, WriteConsistency};
pub use error::ManipulateError;
pub use fields::{FieldSink, FieldValue, Fields};
pub use manipulator::{
    BoxFuture, Created, Document, Manipulator, Page, Updated, create, delete, from_document,
    retrieve, retrieve_many, update,
};
pub use memory::MemoryManipulator;
pub use record::{Record, Row};
pub use retry::{RetryPolicy, with_retry};
