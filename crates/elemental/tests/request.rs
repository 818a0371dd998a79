//! Request parsing: every exact string of CONTRACT.md's request-parsing section.

mod common;

use bytes::Bytes;
use elemental::{EncodingType, Errors, Identity, Operation, Request, RequestContext};

fn parse_with(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
    context: &RequestContext<'_>,
) -> Result<Request, Errors> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    Request::from_http(
        &parts,
        Bytes::from(body.to_string()),
        &common::manager(),
        context,
    )
}

fn parse(method: &str, uri: &str, headers: &[(&str, &str)]) -> Result<Request, Errors> {
    parse_with(method, uri, headers, "", &RequestContext::default())
}

fn get(uri: &str) -> Request {
    parse("GET", uri, &[]).unwrap()
}

/// The single error of a failed parse: (code, title, description).
fn error(method: &str, uri: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let errors = parse(method, uri, headers).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    let e = errors.iter().next().unwrap();
    (e.code, e.title.clone(), e.description.clone())
}

fn bad(description: &str) -> (u16, String, String) {
    (400, "Bad Request".to_string(), description.to_string())
}

const LIST: Identity = <common::List as elemental::ModelIdentity>::IDENTITY;

#[test]
fn paths_map_to_identities_and_operations() {
    let r = get("/lists");
    assert_eq!(
        (r.operation, r.identity, r.parent_identity),
        (Operation::RetrieveMany, LIST, Identity::ROOT)
    );
    let r = get("/lists/abc");
    assert_eq!(
        (r.operation, r.object_id.as_str()),
        (Operation::Retrieve, "abc")
    );
    let r = get("/lists/abc/tasks");
    assert_eq!(r.operation, Operation::RetrieveMany);
    assert_eq!(r.identity.name, "task");
    assert_eq!((r.parent_identity, r.parent_id.as_str()), (LIST, "abc"));
    let cases = [
        ("POST", "/lists", Operation::Create),
        ("PUT", "/lists/a", Operation::Update),
        ("DELETE", "/lists/a", Operation::Delete),
        ("PATCH", "/lists/a", Operation::Patch),
        ("HEAD", "/lists", Operation::Info),
        ("POST", "/lists/a/tasks", Operation::Create),
    ];
    for (method, uri, op) in cases {
        assert_eq!(
            parse(method, uri, &[]).unwrap().operation,
            op,
            "{method} {uri}"
        );
    }
    // A trailing slash is ignored.
    assert_eq!(get("/lists/").operation, Operation::RetrieveMany);
}

#[test]
fn unknown_category_gives_the_empty_identity() {
    let r = get("/unknowns");
    assert_eq!(r.identity, Identity::EMPTY);
    assert_eq!(r.operation, Operation::RetrieveMany);
    let r = get("/users/123/lists");
    assert_eq!((r.identity, r.parent_identity.name), (LIST, "user"));
}

#[test]
fn body_is_kept_only_for_writes() {
    let ctx = RequestContext::default();
    let r = parse_with("POST", "/lists", &[], r#"{"name":"a"}"#, &ctx).unwrap();
    assert_eq!(&r.data[..], br#"{"name":"a"}"#);
    let list: common::List = r.decode().unwrap();
    assert_eq!(list.name, "a");
    let r = parse_with("GET", "/lists", &[], "ignored", &ctx).unwrap();
    assert!(r.data.is_empty());
}

#[test]
fn versions() {
    assert_eq!(get("/v/1/lists").version, 1);
    assert_eq!(get("/lists").version, 0);
    assert_eq!(
        error("GET", "/v/x/lists", &[]),
        bad("Invalid api version number 'x'")
    );
    // fix: a bare /v is a 400, not a crash.
    assert_eq!(
        error("GET", "/v", &[]),
        bad("Invalid api version number ''")
    );
    assert_eq!(
        error("GET", "/v/1", &[]),
        bad("/v/1 is not a valid elemental request path")
    );
    assert_eq!(
        error("GET", "/a/b/c/d", &[]),
        bad("/a/b/c/d is not a valid elemental request path")
    );
}

#[test]
fn api_prefix_is_stripped() {
    let ctx = RequestContext {
        api_prefix: "api",
        remote_addr: None,
        ..RequestContext::default()
    };
    let r = parse_with("GET", "/api/v/1/lists/x", &[], "", &ctx).unwrap();
    assert_eq!(
        (r.operation, r.version, r.object_id.as_str()),
        (Operation::Retrieve, 1, "x")
    );
}

#[test]
fn pagination_and_order() {
    let r = get("/lists?page=2&pagesize=10&order=name&order=date");
    assert_eq!((r.page, r.page_size), (2, 10));
    assert_eq!(r.order, vec!["name", "date"]);
    let r = get("/lists?after=abc&limit=5&order=name");
    assert_eq!((r.after.as_deref(), r.limit), (Some("abc"), 5));

    assert_eq!(
        error("GET", "/lists?page=x", &[]),
        bad("Parameter `page` must be an integer")
    );
    assert_eq!(
        error("GET", "/lists?page=%00", &[]),
        bad("Parameter `page` must be an integer")
    );
    assert_eq!(
        error("GET", "/lists?pagesize=x", &[]),
        bad("Parameter `pagesize` must be an integer")
    );
    assert_eq!(
        error("GET", "/lists?page=-1", &[]),
        bad("Parameter `page` must be a positive integer")
    );
    assert_eq!(
        error("GET", "/lists?limit=x", &[]),
        bad("Parameter `limit` must be an integer")
    );
    assert_eq!(
        error("GET", "/lists?pagesize=1&limit=2", &[]),
        bad("You cannot set 'limit' and 'pagesize' at the same time")
    );
    assert_eq!(
        error("GET", "/lists?page=1&after=x", &[]),
        bad("You cannot set 'after' and 'page' at the same time")
    );
    assert_eq!(
        error("GET", "/lists?after=x&order=a&order=b", &[]),
        bad("You can only order on a single field when using 'after'")
    );
    assert_eq!(
        error("GET", "/lists?after=", &[]),
        bad("Parameter `after` must be set when provided")
    );
    assert_eq!(
        error("GET", "/lists?order=", &[]),
        bad("Parameter `order` must be set when provided")
    );
    assert_eq!(
        error("GET", "/lists?order=%00", &[]),
        bad("Parameter `order` must be set when provided")
    );
}

#[test]
fn flags_recursive_override_propagated() {
    assert!(get("/lists?recursive=true").recursive);
    // fix: recursive=false means false (the reference treats any value as true).
    assert!(!get("/lists?recursive=false").recursive);
    assert!(!get("/lists?recursive=0").recursive);
    assert!(!get("/lists").recursive);
    assert!(get("/lists?override=1").override_protection);
    assert!(get("/lists?propagated=true").propagated);
    assert_eq!(
        error("GET", "/lists?recursive=maybe", &[]),
        bad("Parameter `recursive` must be a boolean, got 'maybe'")
    );
}

#[test]
fn declared_parameters_are_typed() {
    let r = get("/lists/x?lgp1=hello&lgp2=false&sAp1=a");
    assert_eq!(
        r.parameters.get("lgp1").unwrap().string_value(),
        Some("hello")
    );
    assert_eq!(r.parameters.get("lgp2").unwrap().bool_value(), Some(false));
    assert!(!r.parameters.contains("sBp1"));
    assert_eq!(
        error("GET", "/lists/x?lgp2=maybe", &[]),
        (
            400,
            "Invalid Parameter".into(),
            "Parameter 'lgp2' must be a boolean, got 'maybe'".into()
        )
    );
    let r = get("/lists?q=name%20%3D%3D%20a&q=name%20%3D%3D%20b");
    assert_eq!(
        r.parameters.get("q").unwrap().string_values(),
        vec!["name == a", "name == b"]
    );
    // Parameters are declared per operation and parent.
    assert_eq!(
        error("GET", "/lists/x?q=a", &[]),
        bad("Unknown parameter: `q`")
    );
}

#[test]
fn unknown_parameters_are_all_reported() {
    let errors = parse("GET", "/lists?zeta=1&alpha=2", &[]).unwrap_err();
    let descriptions: Vec<_> = errors.iter().map(|e| e.description.as_str()).collect();
    assert_eq!(
        descriptions,
        vec!["Unknown parameter: `alpha`", "Unknown parameter: `zeta`"]
    );
    assert!(
        errors
            .iter()
            .all(|e| e.code == 400 && e.subject == "elemental")
    );
}

#[test]
fn required_parameters() {
    assert_eq!(
        error("DELETE", "/users/1", &[]),
        bad("Missing Required parameters: `(confirm)`")
    );
    let r = parse("DELETE", "/users/1?confirm=true", &[]).unwrap();
    assert_eq!(
        r.parameters.get("confirm").unwrap().bool_value(),
        Some(true)
    );
}

#[test]
fn defaults_apply_with_or_without_a_query() {
    fn view(r: &Request) -> Vec<&str> {
        r.parameters.get("view").unwrap().string_values()
    }
    let r = get("/tasks/1");
    assert_eq!(view(&r), vec!["summary"]);
    assert!(r.parameters.get("other").is_none());
    let r = get("/tasks/1?other=x");
    assert_eq!(view(&r), vec!["summary"]);
    assert_eq!(
        r.parameters.get("other").unwrap().string_values(),
        vec!["x"]
    );
    assert_eq!(view(&get("/tasks/1?view=full")), vec!["full"]);
}

#[test]
fn encodings() {
    let r = parse(
        "GET",
        "/lists",
        &[
            ("Accept", "application/msgpack"),
            ("Content-Type", "application/json"),
        ],
    )
    .unwrap();
    assert_eq!(
        (r.content_type, r.accept),
        (EncodingType::Json, EncodingType::Msgpack)
    );
    assert_eq!(
        error("POST", "/lists", &[("Content-Type", "application/x-www-form-urlencoded")]),
        (
            415,
            "Unsupported Media Type".into(),
            "Cannot find any acceptable Content-Type media type in provided header: application/x-www-form-urlencoded".into()
        )
    );
    assert_eq!(
        error("GET", "/lists", &[("Accept", "text/html")]).2,
        "Cannot find any acceptable Accept media type in provided header: text/html"
    );
}

#[test]
fn headers() {
    let ctx = RequestContext {
        api_prefix: "",
        remote_addr: Some("10.0.0.9:4444".parse().unwrap()),
        ..RequestContext::default()
    };
    let r = parse_with(
        "POST",
        "/lists",
        &[
            ("X-Namespace", "/acme/prod"),
            ("Authorization", "Bearer tok"),
            ("X-Forwarded-For", "1.2.3.4, 5.6.7.8"),
            ("X-Real-IP", "9.9.9.9"),
            ("X-External-Tracking-ID", "tid"),
            ("X-External-Tracking-Type", "ttype"),
            ("X-Fields", "name, description"),
            ("X-Fields", "ID"),
            ("X-Read-Consistency", "strong"),
            ("X-Write-Consistency", "none"),
            ("Idempotency-Key", "k1"),
        ],
        "{}",
        &ctx,
    )
    .unwrap();
    assert_eq!(r.namespace, "/acme/prod");
    assert_eq!(
        (r.auth_scheme.as_str(), r.auth_token.as_str()),
        ("Bearer", "tok")
    );
    assert_eq!(r.client_ip, "1.2.3.4");
    assert_eq!(
        (
            r.external_tracking_id.as_str(),
            r.external_tracking_type.as_str()
        ),
        ("tid", "ttype")
    );
    assert_eq!(r.fields, vec!["name", "description", "ID"]);
    assert_eq!(r.read_consistency.as_deref(), Some("strong"));
    assert_eq!(r.write_consistency.as_deref(), Some("none"));
    assert_eq!(r.idempotency_key.as_deref(), Some("k1"));

    let r = parse_with("GET", "/lists", &[("X-Real-IP", "9.9.9.9")], "", &ctx).unwrap();
    assert_eq!(r.client_ip, "9.9.9.9");
    // A header sent twice: its first value is read; values are trimmed.
    let repeated = [
        ("X-Namespace", "/first"),
        ("x-namespace", "/second"),
        ("Idempotency-Key", " k2 "),
        ("X-Forwarded-For", ""),
        ("X-Forwarded-For", "7.7.7.7"),
        ("X-Real-IP", "8.8.8.8"),
    ];
    let r = parse_with("GET", "/lists", &repeated, "", &ctx).unwrap();
    assert_eq!(r.namespace, "/first");
    assert_eq!(r.idempotency_key.as_deref(), Some("k2"));
    assert_eq!(r.client_ip, "8.8.8.8");
    let r = parse_with("GET", "/lists", &[("Authorization", "a b c")], "", &ctx).unwrap();
    assert_eq!(
        (r.client_ip.as_str(), r.auth_scheme.as_str()),
        ("10.0.0.9", "")
    );
}

#[test]
fn request_ids_are_fresh_uuids() {
    let (a, b) = (get("/lists"), get("/lists"));
    assert_eq!(a.request_id.len(), 36);
    assert_ne!(a.request_id, b.request_id);
}

#[test]
fn a_sane_client_request_id_is_kept_and_others_are_replaced() {
    let id = |value: &str| {
        parse_with(
            "GET",
            "/lists",
            &[("X-Request-ID", value)],
            "",
            &RequestContext::default(),
        )
        .unwrap()
        .request_id
    };
    assert_eq!(id("client-7:a/b"), "client-7:a/b");
    let longest = "r".repeat(128);
    assert_eq!(id(&longest), longest);
    for insane in ["two words", &"r".repeat(129), "tab\there"] {
        let replaced = id(insane);
        assert_eq!(
            (replaced.len(), replaced.as_bytes()[8]),
            (36, b'-'),
            "{insane:?}"
        );
    }
    let chosen = RequestContext {
        request_id: Some("server-chosen"),
        ..RequestContext::default()
    };
    let r = parse_with("GET", "/lists", &[("X-Request-ID", "client")], "", &chosen).unwrap();
    assert_eq!(r.request_id, "server-chosen");
}

#[test]
fn other_methods_are_refused() {
    assert_eq!(
        error("OPTIONS", "/lists", &[]),
        (
            405,
            "Not allowed".into(),
            "Method OPTIONS is not allowed".into()
        )
    );
}
