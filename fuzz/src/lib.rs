//! What each fuzz target checks, as plain functions: the targets in `fuzz_targets/` call them
//! with libFuzzer's inputs, and `tests/regressions.rs` replays the inputs kept in
//! `regressions/<target>/` through them with a plain `cargo test`.
//!
//! Every function takes any bytes and panics only on a real defect: a panic, a printed filter
//! that does not parse back, an event that does not survive a round trip.

#![forbid(unsafe_code)]

use bytes::Bytes;
use elemental::filter::{Filter, FilterLimits, Matcher, ParseOptions};
use elemental::{
    EncodingType, Errors, Event, EventType, ModelManager, PushConfig, Request, RequestContext,
    Model,
};
use gaia::model::{ExternalNetwork, HostService, Namespace, NetworkAccessPolicy, Service};

/// The targets, by name, as `regressions/<name>/` folders name them.
pub const TARGETS: [(&str, fn(&[u8])); 5] = [
    ("filter_parser", filter_parser),
    ("filter_consumers", filter_consumers),
    ("request_path", request_path),
    ("push_session", push_session),
    ("decoders", decoders),
];

/// Any text: the parser never panics, and what it accepts prints to a text that parses back to
/// the same filter (the length limit bounds what clients send; the canonical printing, with its
/// quotes and parentheses, may be longer, so it is read back without it).
pub fn filter_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = Filter::parse(text) {
        let printed = filter.to_string();
        let printing = ParseOptions {
            limits: FilterLimits {
                max_bytes: usize::MAX,
                ..FilterLimits::default()
            },
            ..ParseOptions::default()
        };
        assert_eq!(
            Filter::parse_with(&printed, &printing).as_ref(),
            Ok(&filter),
            "{printed}"
        );
    }
}

/// A stored external network with a value for most attribute kinds, to match filters against.
fn sample_network() -> ExternalNetwork {
    ExternalNetwork {
        id: "5f0000000000000000000001".into(),
        namespace: "/acme/prod".into(),
        name: "web".into(),
        description: "the \"front\" 100% web".into(),
        entries: vec!["10.0.0.0/8".into(), "example.com".into()],
        associated_tags: vec!["app=web".into(), "env=prod".into()],
        create_time: elemental::timefmt::parse_filter_date("2024-05-06T07:08:09.25+02:00"),
        ..ExternalNetwork::default()
    }
}

/// The SQL schema of gaia's tables, built once rather than for every input.
static GAIA_SCHEMA: std::sync::LazyLock<Option<manipsql::schema::Schema>> =
    std::sync::LazyLock::new(|| {
        manipsql::schema::Schema::from_manager(gaia::model::manager()).ok()
    });

/// Any text: an accepted filter is evaluated by the matcher against objects (typed and as a
/// JSON document) and compiled to SQL for SQLite and PostgreSQL, without panicking.
pub fn filter_consumers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    if let Ok(matcher) = Matcher::new(&filter) {
        let network = sample_network();
        let _ = matcher.matches(&network);
        let _ = matcher.matches(&ExternalNetwork::default());
        if let Ok(serde_json::Value::Object(document)) = serde_json::to_value(&network) {
            let _ = matcher.matches(&document);
        }
    }
    let Some(schema) = GAIA_SCHEMA.as_ref() else {
        return;
    };
    for table in schema.tables() {
        for dialect in [
            manipsql::sql::Dialect::Sqlite,
            manipsql::sql::Dialect::Postgres,
        ] {
            let mut sql = manipsql::sql::Sql::new(dialect);
            manipsql::filter::compile(&filter, table, &mut sql);
        }
    }
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
];

/// A method selector, then NUL-separated URI, Content-Type, Accept, X-Namespace and body: the
/// whole request path of the apiserver's model (gaia) short of storage: the request is read,
/// its namespace checked, its query turned into a storage context (filters included), its body
/// measured against the body budget, decoded into the identity's model and its sparse form,
/// validated, merged, and encoded back.
pub fn request_path(data: &[u8]) {
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
    let manager = gaia::model::manager();
    let Ok(request) = Request::from_http(&parts, body, manager, &RequestContext::default()) else {
        return;
    };
    let _ = request.validate_namespace();
    if let Ok(ctx) = manipulate::StoreContext::from_request(&request) {
        if let Some(filter) = &ctx.filter {
            let _ = Matcher::new(filter).map(|m| m.matches(&sample_network()));
        }
    }
    if elemental::body_budget::check_body_budget(request.content_type, &request.data).is_err() {
        return;
    }
    let _ = elemental::is_object_body(request.content_type, &request.data);
    let _ = manager
        .decode_identifiable(&request.identity, request.content_type, &request.data)
        .map(|object| object.validate());
    match request.identity.name {
        "externalnetwork" => body_as::<ExternalNetwork>(&request),
        "hostservice" => body_as::<HostService>(&request),
        "namespace" => body_as::<Namespace>(&request),
        "networkaccesspolicy" => body_as::<NetworkAccessPolicy>(&request),
        "service" => body_as::<Service>(&request),
        _ => {}
    }
}

/// The body as `T` and as its sparse form: validated, checked against a stored version,
/// patched, and encoded back in both encodings.
fn body_as<T: Model>(request: &Request) {
    if let Ok(object) = request.decode::<T>() {
        let _ = elemental::Identifiable::validate(&object);
        let stored = T::default();
        let _ = elemental::validate_advanced_specification(
            &object,
            Some(&stored),
            elemental::Operation::Update,
        );
        for encoding in [EncodingType::Json, EncodingType::Msgpack] {
            let encoded = elemental::encode(encoding, &object).expect("a decoded model encodes");
            let _: T = elemental::decode(encoding, &encoded).expect("an encoded model decodes");
        }
    }
    if let Ok(sparse) = request.decode::<T::Sparse>() {
        let mut merged = T::default();
        merged.patch(&sparse);
        let _ = elemental::Identifiable::validate(&merged);
        let _ = merged.to_sparse(&request.fields);
    }
}

/// A push session's query (before the first NUL) and its push configs (the rest, as JSON and
/// msgpack): namespaces are checked, configs decoded, their filters parsed, and events of every
/// type matched against them.
pub fn push_session(data: &[u8]) {
    let (query, config) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let query = String::from_utf8_lossy(query);
    let parameters = elemental::parse_query(&query);
    if let Some(namespace) = parameters.get("namespace").and_then(|v| v.first()) {
        let _ = elemental::namespace::validate_namespace(namespace);
    }
    if let Some(since) = parameters.get("since").and_then(|v| v.first()) {
        let _ = since.parse::<u64>();
    }
    let network = sample_network();
    for encoding in [EncodingType::Json, EncodingType::Msgpack] {
        let Ok(mut config) = elemental::decode::<PushConfig>(encoding, config) else {
            continue;
        };
        if config.parse_identity_filters().is_err() {
            continue;
        }
        for event_type in [EventType::Create, EventType::Update, EventType::Delete] {
            let _ = config.accepts("externalnetwork", event_type, &network);
        }
    }
}

/// Any bytes, as JSON and msgpack: errors and push configs decode or fail cleanly; an event
/// that decodes re-encodes in both encodings, and decodes again to the same event.
pub fn decoders(data: &[u8]) {
    for encoding in [EncodingType::Json, EncodingType::Msgpack] {
        let _ = elemental::decode::<Errors>(encoding, data);
        if let Ok(mut config) = elemental::decode::<PushConfig>(encoding, data) {
            let _ = config.parse_identity_filters();
        }
        let Ok(event) = Event::decode(encoding, data) else {
            continue;
        };
        for wire in [EncodingType::Json, EncodingType::Msgpack] {
            let Ok(encoded) = event.encode(wire) else {
                continue;
            };
            let again = Event::decode(wire, &encoded)
                .unwrap_or_else(|e| panic!("a re-encoded event decodes: {e}"));
            assert_eq!(again.identity, event.identity);
            assert_eq!(again.event_type, event.event_type);
            assert_eq!(again.timestamp, event.timestamp);
            assert_eq!(again.sequence, event.sequence);
            let first: Result<serde_json::Value, _> = event.decode_entity();
            let second: Result<serde_json::Value, _> = again.decode_entity();
            if let (Ok(first), Ok(second)) = (first, second) {
                assert_eq!(first, second, "the entity survives the round trip");
            }
        }
    }
}
