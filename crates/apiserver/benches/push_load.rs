//! Push load: N push sessions on one apiserver process (memory store), W writes per second
//! for D seconds. Prints how many events were delivered (expected: sessions x writes), the
//! p50 / p99 delivery latency (event timestamp to receipt by the client), and the server's
//! resident memory idle, with the sessions open, and at the end, and the server's CPU time per
//! delivered event (user and system, from the first write to the last delivery). A first run
//! with one session is the baseline.
//!
//! ```sh
//! cargo bench -p apiserver --bench push_load            # 1,000 sessions, 100 writes/s, 30 s
//! PUSH_SESSIONS=100 PUSH_SECONDS=5 cargo bench -p apiserver --bench push_load
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::Process;
use testkit::push::PushClient;
use time::OffsetDateTime;
use tokio::sync::Mutex;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time the process has used (user and system), from `/proc` (zero if unreadable).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name (which ends at the last ')'): utime and stime are
    // the 12th and 13th, in clock ticks.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    // The kernel's USER_HZ, 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// What the bench reads of an event: its time of publication (the rest is skipped unread, so
/// that the thousand clients measure the server rather than their own decoding).
#[derive(serde::Deserialize)]
struct Stamp {
    #[serde(with = "time::serde::rfc3339")]
    timestamp: OffsetDateTime,
}

struct Outcome {
    delivered: u64,
    expected: u64,
    p50_ms: f64,
    p99_ms: f64,
    rss_idle_mib: f64,
    rss_sessions_mib: f64,
    rss_end_mib: f64,
    /// The server's CPU time from the first write to the last delivery, per delivered event.
    cpu_per_event_us: f64,
}

async fn run(sessions: u64, writes_per_second: u64, seconds: u64) -> Outcome {
    let server = Process::start("memory");
    let addr = server.addr;
    let pid = server.pid();
    let rss_idle = rss_kib(pid);
    let writes = writes_per_second * seconds;
    let delivered = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity((sessions * writes) as usize)));
    let mut readers = Vec::new();
    for _ in 0..sessions {
        let mut client = PushClient::connect(addr, "namespace=/&mode=all")
            .await
            .unwrap_or_else(|e| panic!("session: {e}"));
        let (delivered, latencies) = (delivered.clone(), latencies.clone());
        readers.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(writes as usize);
            let read_all = async {
                for _ in 0..writes {
                    let Some(text) = client.next_text().await else {
                        break;
                    };
                    let stamp: Stamp = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("not an event ({e}): {}", text.as_str()));
                    let late = OffsetDateTime::now_utc() - stamp.timestamp;
                    mine.push(late.whole_microseconds().max(0) as u64);
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            };
            // One deadline for the whole run rather than a timer per event.
            let deadline = Duration::from_secs(seconds + 15);
            let _ = tokio::time::timeout(deadline, read_all).await;
            latencies.lock().await.extend(mine);
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_sessions = rss_kib(pid);
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let interval = Duration::from_secs(1) / writes_per_second as u32;
    let mut ticker = tokio::time::interval(interval);
    for n in 0..writes {
        ticker.tick().await;
        let body = format!(r#"{{"name":"load-{n}","entries":["10.0.0.0/8"]}}"#);
        let request = testkit::request(
            "POST",
            "/externalnetworks",
            &[("Content-Type", "application/json"), ("X-Namespace", "/")],
            &body,
        );
        let response = testkit::send(addr, &request).await;
        assert_eq!(response.status, 200, "{}", response.text());
    }
    let writing = started.elapsed();
    for reader in readers {
        let _ = reader.await;
    }
    let rss_end = rss_kib(pid);
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    server.terminate();
    let mut all = std::mem::take(&mut *latencies.lock().await);
    all.sort_unstable();
    let at = |p: f64| {
        all.get(((all.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    println!(
        "  {writes} writes in {:.1} s ({:.0}/s)",
        writing.as_secs_f64(),
        writes as f64 / writing.as_secs_f64()
    );
    Outcome {
        delivered: delivered.load(Ordering::Relaxed),
        expected: sessions * writes,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        rss_idle_mib: rss_idle as f64 / 1024.0,
        rss_sessions_mib: rss_sessions as f64 / 1024.0,
        rss_end_mib: rss_end as f64 / 1024.0,
        cpu_per_event_us: cpu.as_secs_f64() * 1e6 / delivered.load(Ordering::Relaxed).max(1) as f64,
    }
}

fn report(name: &str, sessions: u64, o: &Outcome) {
    println!(
        "{name:<9} sessions {sessions:>5}  delivered {}/{}  latency p50 {:.2} ms  p99 {:.2} ms  RSS idle {:.1} MiB, with sessions {:.1} MiB, end {:.1} MiB  server CPU {:.2} µs per delivered event",
        o.delivered,
        o.expected,
        o.p50_ms,
        o.p99_ms,
        o.rss_idle_mib,
        o.rss_sessions_mib,
        o.rss_end_mib,
        o.cpu_per_event_us
    );
}

fn main() {
    let sessions = setting("PUSH_SESSIONS", 1000);
    let rate = setting("PUSH_WRITES_PER_SECOND", 100);
    let seconds = setting("PUSH_SECONDS", 30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let baseline = run(1, rate, seconds.min(10)).await;
        report("baseline", 1, &baseline);
        let load = run(sessions, rate, seconds).await;
        report("load", sessions, &load);
        let per_session_kib =
            (load.rss_sessions_mib - load.rss_idle_mib) * 1024.0 / sessions as f64;
        println!(
            "p50 ratio {:.2}, p99 ratio {:.2} (load / baseline); {:.1} KiB of server memory per idle session",
            load.p50_ms / baseline.p50_ms,
            load.p99_ms / baseline.p99_ms,
            per_session_kib
        );
        assert_eq!(load.delivered, load.expected, "every event to every session");
    });
}
