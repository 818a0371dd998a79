//! # regolithe
//!
//! regolithe spec sets for Rust: load a directory of `*.spec` files, abstracts and mappings,
//! check it (every problem at once, with its location), and generate typed Rust models for
//! `build.rs`, one OpenAPI 3.1 document, and Markdown documentation.
//!
//! In a model crate's `build.rs`:
//!
//! ```no_run
//! regolithe::build("specs", "model.rs");
//! ```
//!
//! and in its `lib.rs`:
//!
//! ```ignore
//! pub mod model {
//!     include!(concat!(env!("OUT_DIR"), "/model.rs"));
//! }
//! ```
//!
//! Checking a set from code:
//!
//! ```
//! let dir = std::env::temp_dir().join("regolithe-doc-example");
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("_api.info"), "prefix: api\nroot: root\nversion: 1\n").unwrap();
//! std::fs::write(dir.join("root.spec"), "model:\n  rest_name: root\n  resource_name: root\n  entity_name: Root\n  root: true\n").unwrap();
//! let set = regolithe::load_and_check(&dir).unwrap();
//! assert_eq!(set.info.version, 1);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod check;
mod ini;
mod load;
pub mod markdown;
mod naming;
pub mod openapi;
mod problem;
mod rust;
pub mod spec;

use std::path::Path;

pub use check::check;
pub use ini::{Ini, parse_ini};
pub use load::{Spec, SpecSet, load};
pub use naming::{field_name, snake_case};
pub use problem::{Problem, Problems};
pub use rust::generate_rust;

use openapi::generate_openapi;

/// Loads a spec set and checks it.
pub fn load_and_check(dir: impl AsRef<Path>) -> Result<SpecSet, Problems> {
    let set = load(dir)?;
    check(&set)?;
    Ok(set)
}

/// For `build.rs`: generates the Rust models of the spec set in `spec_dir` (relative to the
/// crate) into `$OUT_DIR/<file_name>`, and asks Cargo to rebuild when a spec changes.
///
/// Problems are printed one per line and the build stops.
pub fn build(spec_dir: impl AsRef<Path>, file_name: &str) {
    let spec_dir = spec_dir.as_ref();
    let code = generated(spec_dir, generate_rust);
    write_out(file_name, &code);
}

/// Like [`build`], for the OpenAPI 3.1 document (JSON) of the spec set, which
/// `bahamut::Options::with_openapi` serves: call it from the same build script and
/// `include_str!(concat!(env!("OUT_DIR"), "/<file_name>"))`.
pub fn build_openapi(spec_dir: impl AsRef<Path>, file_name: &str) {
    let document = generated(spec_dir.as_ref(), |set| Ok(generate_openapi(set)));
    write_out(file_name, &document);
}

/// Loads and checks the spec set and generates from it; a problem stops the build with located
/// messages.
fn generated(spec_dir: &Path, generate: impl Fn(&SpecSet) -> Result<String, Problems>) -> String {
    println!("cargo:rerun-if-changed={}", spec_dir.display());
    match load_and_check(spec_dir).and_then(|set| generate(&set)) {
        Ok(text) => text,
        Err(problems) => {
            eprintln!(
                "regolithe: the spec set {} has problems:",
                spec_dir.display()
            );
            for p in &problems.0 {
                eprintln!("  {p}");
            }
            std::process::exit(1);
        }
    }
}

/// Writes a generated file into the build script's `OUT_DIR`.
fn write_out(file_name: &str, contents: &str) {
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        eprintln!("regolithe::build must run from a build script (OUT_DIR is not set)");
        std::process::exit(1);
    };
    let path = Path::new(&out_dir).join(file_name);
    if let Err(e) = std::fs::write(&path, contents) {
        eprintln!("regolithe: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}
