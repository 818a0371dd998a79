//! Any method, URI, headers and body: the request builder never panics.
#![no_main]

#[path = "../../crates/elemental/tests/common/mod.rs"]
mod common;

use bytes::Bytes;
use elemental::{Request, RequestContext};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"];

fuzz_target!(|data: &[u8]| {
    // Layout: method selector, then NUL-separated URI, Content-Type, Accept, X-Namespace, body.
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.splitn(5, |b| *b == 0);
    let uri = fields.next().unwrap_or_default();
    let mut builder = http::Request::builder()
        .method(METHODS[usize::from(selector) % METHODS.len()])
        .uri(uri);
    for name in ["content-type", "accept", "x-namespace"] {
        if let Some(value) = fields.next().filter(|v| !v.is_empty()) {
            builder = builder.header(name, value);
        }
    }
    let body = Bytes::copy_from_slice(fields.next().unwrap_or_default());
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, _) = request.into_parts();
    let manager = common::manager();
    let _ = Request::from_http(&parts, body, &manager, &RequestContext::default());
});
