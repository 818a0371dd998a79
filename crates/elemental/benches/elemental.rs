//! Benchmarks: parsing a 5-clause filter, matching it against an object, and building a
//! Request from a typical GET with a query. Run with `cargo bench -p elemental`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use elemental::filter::{Filter, Matcher};
use elemental::{Request, RequestContext};

const FILTER: &str = r#"name == "groceries" and count >= 2 and slice contains a and description matches "^week" and date > date("2020-01-01")"#;

fn object() -> common::List {
    common::List {
        id: "6b04eb4daab2dd015af7b8a5".into(),
        name: "groceries".into(),
        description: "weekly".into(),
        count: 3,
        slice: vec!["a".into(), "b".into()],
        date: Some(time::macros::datetime!(2020-06-01 12:00 UTC)),
        ..common::List::default()
    }
}

fn benches(c: &mut Criterion) {
    c.bench_function("filter_parse_5_clauses", |b| {
        b.iter(|| Filter::parse(black_box(FILTER)))
    });

    let filter = Filter::parse(FILTER).expect("valid filter");
    let matcher = Matcher::new(&filter).expect("valid regexes");
    let list = object();
    assert!(matcher.matches(&list));
    c.bench_function("filter_match_5_clauses", |b| {
        b.iter(|| matcher.matches(black_box(&list)))
    });

    let manager = common::manager();
    let (parts, _) = http::Request::get(
        "/v/1/lists?q=name%20%3D%3D%20groceries&page=2&pagesize=50&order=name&recursive=true",
    )
    .header("Accept", "application/json")
    .header("X-Namespace", "/acme/prod")
    .header("Authorization", "Bearer eyJhbGciOi")
    .header("X-Forwarded-For", "10.1.2.3")
    .body(())
    .expect("valid request")
    .into_parts();
    let context = RequestContext::default();
    c.bench_function("request_from_typical_get", |b| {
        b.iter(|| Request::from_http(black_box(&parts), Bytes::new(), &manager, &context))
    });
}

criterion_group!(elemental_benches, benches);
criterion_main!(elemental_benches);
