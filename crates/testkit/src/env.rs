//! Test environments: scratch folders, and the services a test needs from the environment.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A unique name for this test run: `{prefix}_{pid}_{counter}_{nanos}` (letters, digits, `_`).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A scratch folder under the system's temporary folder, removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new, empty folder.
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self { path }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The URL in the environment variable `name`, or `None` after printing one line saying the
/// test named `test` is skipped.
pub fn service_url(name: &str, test: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: {test} needs {name} (not set)");
            None
        }
    }
}

/// `APISERVER_TEST_POSTGRES_URL`, or `None` after printing that `test` is skipped.
pub fn postgres_url(test: &str) -> Option<String> {
    service_url("APISERVER_TEST_POSTGRES_URL", test)
}

/// `APISERVER_TEST_NATS_URL`, or `None` after printing that `test` is skipped.
pub fn nats_url(test: &str) -> Option<String> {
    service_url("APISERVER_TEST_NATS_URL", test)
}
