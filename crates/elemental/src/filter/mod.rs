//! The filter language of the `q` parameter and of push filters.
//!
//! ```
//! use elemental::filter::Filter;
//! let f = Filter::parse("name == hello and count >= 2").unwrap();
//! assert_eq!(f.to_string(), r#"((name == "hello") and (count >= 2))"#);
//! ```

mod ast;
mod lexer;
mod matcher;
mod parser;

pub use ast::{Comparator, Comparison, Filter, FilterValue};
pub use matcher::Matcher;
pub use parser::{FilterError, FilterLimits, MAX_DEPTH, MAX_PARENTHESES, ParseOptions};
