//! `--profiling-listen` (feature `profiling`): a CPU profile of 2 s taken during load decodes
//! as gzipped pprof protobuf, the flamegraph is an SVG, and bad or concurrent requests are
//! refused with a clear answer.
#![cfg(feature = "profiling")]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The profiling address the server logged.
fn profiling_address(server: &common::Process) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server.logs().iter().find_map(|line| {
            line.contains("profiling server listening")
                .then(|| line.split("address=").nth(1))
                .flatten()
                .and_then(|a| a.trim().parse().ok())
        });
        match found {
            Some(addr) => return addr,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => panic!("no profiling address in {:?}", server.logs()),
        }
    }
}

/// One protobuf varint at `at`, and the position after it.
fn varint(bytes: &[u8], mut at: usize) -> (u64, usize) {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = bytes[at];
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (value, at);
        }
    }
    panic!("varint longer than 10 bytes");
}

/// The top-level fields of a protobuf message: (field number, bytes of length-delimited ones).
/// Panics if the message is not well-formed protobuf.
fn fields(bytes: &[u8]) -> Vec<(u64, Option<&[u8]>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (key, next) = varint(bytes, at);
        at = next;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => at = varint(bytes, at).1,
            1 => at += 8,
            2 => {
                let (len, next) = varint(bytes, at);
                let end = next + usize::try_from(len).unwrap();
                out.push((number, Some(&bytes[next..end])));
                at = end;
                continue;
            }
            5 => at += 4,
            other => panic!("wire type {other} in a pprof profile"),
        }
        out.push((number, None));
    }
    assert_eq!(at, bytes.len(), "the last field runs past the end");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cpu_profile_taken_during_load_decodes_as_pprof_and_as_svg() {
    let server = common::Process::start_with("memory", &["--profiling-listen", "127.0.0.1:0"]);
    let profiling = profiling_address(&server);
    let loading = Arc::new(AtomicBool::new(true));
    let load = {
        let (loading, addr) = (loading.clone(), server.addr);
        tokio::spawn(async move {
            let list = testkit::request("GET", "/namespaces", &[("X-Namespace", "/")], "");
            while loading.load(Ordering::Relaxed) {
                assert_eq!(testkit::send(addr, &list).await.status, 200);
            }
        })
    };

    let profile = testkit::request("GET", "/debug/pprof/profile?seconds=2", &[], "");
    let started = Instant::now();
    let (answer, refused) = tokio::join!(testkit::send(profiling, &profile), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        testkit::send(profiling, &profile).await
    });
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(refused.status, 409);
    assert_eq!(
        refused.text(),
        "a CPU profile is already being taken; try again when it is done\n"
    );
    assert_eq!(&answer.body[..2], &[0x1f, 0x8b], "gzip");
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&answer.body[..])
        .read_to_end(&mut decoded)
        .unwrap();
    let top = fields(&decoded);
    // Profile: 1 sample_type, 2 sample, 4 location, 5 function, 6 string_table.
    let strings: Vec<String> = top
        .iter()
        .filter(|(n, _)| *n == 6)
        .map(|(_, b)| String::from_utf8_lossy(b.unwrap_or_default()).into_owned())
        .collect();
    for expected in ["", "cpu", "nanoseconds"] {
        assert!(
            strings.iter().any(|s| s == expected),
            "{expected:?} not in {strings:?}"
        );
    }
    for field in [1, 2, 4, 5] {
        assert!(top.iter().any(|(n, _)| *n == field), "no field {field}");
    }
    for (_, sample) in top.iter().filter(|(n, _)| *n == 2) {
        fields(sample.unwrap_or_default());
    }

    let svg = testkit::request("GET", "/debug/pprof/flamegraph?seconds=1", &[], "");
    let answer = testkit::send(profiling, &svg).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("image/svg+xml"));
    let text = answer.text();
    assert!(
        text.starts_with("<?xml"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(text.contains("<svg") && text.trim_end().ends_with("</svg>"));

    for (path, status, body) in [
        (
            "/debug/pprof/profile?seconds=0",
            400,
            "seconds must be a whole number from 1 to 300\n",
        ),
        (
            "/debug/pprof/profile?seconds=x",
            400,
            "seconds must be a whole number from 1 to 300\n",
        ),
        (
            "/debug/pprof/profile?format=png",
            400,
            "format must be pprof or svg, not \"png\"\n",
        ),
        ("/debug/pprof/heap", 404, "not found: see /debug/pprof/\n"),
    ] {
        let answer = testkit::send(profiling, &testkit::request("GET", path, &[], "")).await;
        assert_eq!(
            (answer.status, answer.text().as_str()),
            (status, body),
            "{path}"
        );
    }
    let index = testkit::send(
        profiling,
        &testkit::request("GET", "/debug/pprof/", &[], ""),
    )
    .await;
    assert!(index.text().contains("/debug/pprof/profile?seconds=30"));
    loading.store(false, Ordering::Relaxed);
    load.await.unwrap();
    server.terminate();
}
