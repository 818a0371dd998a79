//! # manipsql
//!
//! SQL backends of [`manipulate::Manipulator`]: SQLite (embedded, the default of the apiserver:
//! one file, WAL, foreign keys, busy timeout, reads on a pool of read-only connections, writes
//! on one connection with group commit) and PostgreSQL (`tokio-postgres` + a pool).
//!
//! - The table of each identity is derived from its attribute specs: one typed column per
//!   stored attribute (JSON for lists and objects), an insertion sequence, a unique index on
//!   `ID` and indexes on `namespace` and the identifier, filterable and orderable attributes.
//! - New attributes are added on start (additive migrations, recorded in `_apiserver_schema`).
//! - Filters compile to parameterised SQL for all 13 operators, with the same semantics as the
//!   in-memory backend; namespaces and `recursive` compile to an indexed range condition;
//!   ordering, page/pagesize and the after/limit cursor; counts.
//! - A unique constraint refusing a write is a constraint violation (409).
//!
//! ```
//! use manipsql::{SqliteOptions, open_sqlite};
//! use gaia::model::ExternalNetwork;
//! use manipulate::StoreContext;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = std::env::temp_dir().join(format!("manipsql-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let store = open_sqlite(SqliteOptions::new(dir.join("doc.db")), gaia::model::manager())
//!     .await
//!     .unwrap();
//! let ctx = StoreContext::in_namespace("/acme");
//! let net = ExternalNetwork { id: "n1".into(), name: "web".into(), namespace: "/acme".into(), ..Default::default() };
//! manipulate::create(&store, net, &ctx).await.unwrap();
//! let found: ExternalNetwork = manipulate::retrieve(&store, "n1", &ctx).await.unwrap();
//! assert_eq!(found.name, "web");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod filter;
mod manipulator;
pub mod migrate;
mod postgres;
pub mod schema;
pub mod sql;
mod sqlite;
pub mod statements;

pub use manipulator::{COUNT_SAMPLES, EXACT_COUNT_UP_TO, SqlManipulator};
pub use postgres::{PostgresOptions, open_postgres};
pub use sqlite::{SqliteOptions, open_sqlite};

/// What can go wrong opening a SQL store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SqlError {
    /// The model cannot be mapped to tables.
    #[error("schema: {0}")]
    Schema(String),
    /// The database cannot be opened or reached.
    #[error("cannot open the store: {0}")]
    Open(String),
    /// The tables cannot be brought up to date.
    #[error("migration failed: {0}")]
    Migration(String),
}
