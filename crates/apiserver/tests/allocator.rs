//! The apiserver binary runs with glibc's mmap threshold fixed (memory of big requests is given
//! back), unless the operator set one or asked for glibc's defaults.

mod common;

use common::Process;
use testkit::call;

/// The `GLIBC_TUNABLES` the running process started with. (glibc cuts the variable at its
/// first `:` in place while reading it, so only single tunables read back whole.)
fn tunables(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the process environment");
    environ
        .split(|b| *b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix("GLIBC_TUNABLES="))
        .map(str::to_string)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_with_a_fixed_mmap_threshold_or_the_operators_own() {
    let tuned = Process::start("memory");
    assert_eq!(
        tunables(tuned.pid()).as_deref(),
        Some("glibc.malloc.mmap_threshold=131072")
    );
    assert_eq!(
        call(tuned.addr, "GET", "/namespaces", "/", "").await.status,
        200
    );

    let own = Process::start_with_env(
        "memory",
        &[],
        &[("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")],
    );
    assert_eq!(
        tunables(own.pid()).as_deref(),
        Some("glibc.malloc.mmap_threshold=65536")
    );
    assert_eq!(
        call(own.addr, "GET", "/namespaces", "/", "").await.status,
        200
    );
}
