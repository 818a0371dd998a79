//! Property tests: printing a parsed filter and parsing it again gives the same AST; random
//! input never panics the filter parser or the request builder.

mod common;

use bytes::Bytes;
use elemental::filter::{Comparator, Comparison, Filter, FilterValue};
use elemental::{GoDuration, Request, RequestContext};
use proptest::prelude::*;
use time::OffsetDateTime;

fn scalar() -> impl Strategy<Value = FilterValue> {
    prop_oneof![
        any::<String>().prop_map(FilterValue::String),
        any::<i64>().prop_map(FilterValue::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(FilterValue::Float),
        any::<bool>().prop_map(FilterValue::Bool),
        (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000).prop_map(|(s, n)| {
            let t = OffsetDateTime::from_unix_timestamp(s).unwrap();
            FilterValue::Date(t.replace_nanosecond(n).unwrap())
        }),
        (-1_000_000_000_000_000i64..1_000_000_000_000_000)
            .prop_map(|n| FilterValue::Now(GoDuration::from_nanos(n))),
    ]
}

fn value() -> impl Strategy<Value = FilterValue> {
    scalar().prop_recursive(2, 8, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(FilterValue::List)
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_.@:#/-]{0,8}",
        "[^$][^$]{0,6}",
        Just(String::new()),
        Just("and".to_string()),
    ]
}

fn comparison() -> impl Strategy<Value = Filter> {
    (
        key(),
        prop::sample::select(Comparator::ALL.to_vec()),
        value(),
    )
        .prop_map(|(key, comparator, v)| {
            Filter::Comparison(Comparison {
                key,
                comparator,
                value: (!comparator.takes_no_value()).then_some(v),
            })
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    comparison().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner, 2..4).prop_map(Filter::Or),
        ]
    })
}

/// Text made of filter-ish tokens, to reach deep into the parser.
fn filterish() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "a",
        "b",
        "1",
        "-2.5",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "=",
        "!",
        "and",
        "or",
        "not",
        "in",
        "contains",
        "matches",
        "exists",
        "notexists",
        "(",
        ")",
        "[",
        "]",
        ",",
        "\"",
        "'",
        "\\",
        "$x",
        "true",
        "false",
        "date(",
        "now(",
        "\"2020-01-01\"",
        "\"-1h\"",
        "é",
        "\t",
    ]);
    prop::collection::vec(tokens, 0..24).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_filters_parse_back_to_the_same_ast(f in filter()) {
        let printed = f.to_string();
        let parsed = Filter::parse(&printed);
        prop_assert_eq!(parsed.as_ref(), Ok(&f), "printed: {}", printed);
    }

    #[test]
    fn parse_print_parse_is_stable(input in prop_oneof![filterish(), any::<String>()]) {
        if let Ok(f) = Filter::parse(&input) {
            let printed = f.to_string();
            prop_assert_eq!(Filter::parse(&printed), Ok(f), "printed: {}", printed);
        }
    }

    #[test]
    fn request_builder_never_panics(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
        path in "(/[a-zA-Z0-9._~%-]{0,6}){0,5}",
        query in "[a-zA-Z0-9=&%+;_-]{0,30}",
        content_type in prop_oneof![Just(String::new()), "[ -~]{0,24}", Just("application/msgpack".to_string())],
        accept in prop_oneof![Just(String::new()), "[ -~]{0,24}"],
        namespace in "[ -~]{0,12}",
        body in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let uri = if uri.starts_with('/') { uri } else { format!("/{uri}") };
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (k, v) in [("content-type", &content_type), ("accept", &accept), ("x-namespace", &namespace)] {
            if !v.is_empty() {
                builder = builder.header(k, v.as_str());
            }
        }
        if let Ok(request) = builder.body(()) {
            let (parts, _) = request.into_parts();
            let manager = common::manager();
            for prefix in ["", "api"] {
                let context = RequestContext { api_prefix: prefix, ..RequestContext::default() };
                let _ = Request::from_http(&parts, Bytes::from(body.clone()), &manager, &context);
            }
        }
    }
}
