//! glibc's allocator, tuned before the server starts.
//!
//! By default glibc raises its mmap threshold each time a large block is freed, so that after
//! one big request the next ones are served from the heap, which is not given back: a 16 MB
//! body left the process 87 MiB bigger and peaked at 5.3 times its size. With a fixed threshold
//! (`glibc.malloc.mmap_threshold`), blocks from 128 KiB up are mapped on their own and returned
//! when freed: the same body peaks at 4.0 times its size and leaves 49 MiB
//! (`bench/body_memory.py`, docs/benchmarks.md). Tunables are read when a process starts, so the
//! binary re-executes itself once with the tunable set; an operator's own mmap threshold in
//! `GLIBC_TUNABLES` is kept as given, and `APISERVER_MALLOC_DEFAULTS=1` keeps glibc's defaults.

/// The tunable set when the environment names no mmap threshold.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub const MMAP_THRESHOLD: &str = "glibc.malloc.mmap_threshold=131072";

/// The environment variable glibc reads its tunables from.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TUNABLES: &str = "GLIBC_TUNABLES";

/// Set to `1`, the allocator keeps glibc's defaults.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEEP_DEFAULTS: &str = "APISERVER_MALLOC_DEFAULTS";

/// Re-executes the binary with [`MMAP_THRESHOLD`] added to `GLIBC_TUNABLES`, unless the
/// variable already sets an mmap threshold or `APISERVER_MALLOC_DEFAULTS` is `1`. Returns only when nothing was re-executed, or when
/// re-executing failed (the server then runs with glibc's defaults, and says so on stderr).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    use std::os::unix::process::CommandExt;

    if std::env::var_os(KEEP_DEFAULTS).is_some_and(|v| v == "1") {
        return;
    }
    let current = std::env::var_os(TUNABLES).unwrap_or_default();
    if current
        .to_string_lossy()
        .contains("glibc.malloc.mmap_threshold")
    {
        return;
    }
    let mut tunables = current;
    if !tunables.is_empty() {
        tunables.push(":");
    }
    tunables.push(MMAP_THRESHOLD);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return untuned(&e),
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    let error = command.args(args).env(TUNABLES, tunables).exec();
    untuned(&error);
}

/// Other platforms keep their allocator's behaviour.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn untuned(error: &std::io::Error) {
    eprintln!(
        "apiserver: running with glibc's default allocator settings (cannot re-execute with {TUNABLES}={MMAP_THRESHOLD}: {error})"
    );
}
