//! The `todo` model: lists, tasks and users, generated at build time from `specs/` (the
//! regolithe test fixture, unchanged), and the demo server that serves it from memory the way
//! the reference Go session was recorded (`demo`, and the `todo` binary).
//!
//! ```
//! use todo::model::{List, manager};
//! use elemental::{Identifiable, ModelManager};
//!
//! let list = List { name: "groceries".into(), ..List::default() };
//! assert!(list.validate().is_ok());
//! assert_eq!(manager().identity_from_alias("lst").map(|i| i.name), Some("list"));
//! ```

#![forbid(unsafe_code)]

/// The generated model (see `specs/`).
#[allow(missing_docs)]
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

pub mod demo;
