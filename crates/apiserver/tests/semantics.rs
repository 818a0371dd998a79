//! ReST semantics of the apiserver over real sockets: PUT with the user's attributes only,
//! `null` for lists, maps and nested lists, child routes under missing or foreign parents, `q`
//! as a precondition on retrieve, update, patch and delete, and `Allow` on 405s.

use std::sync::Arc;

use testkit::{RawResponse, call, json};

async fn start() -> testkit::Running {
    let store = Arc::new(manipulate::MemoryManipulator::new());
    testkit::start(|options| apiserver::server(options, store)).await
}

fn id(r: &RawResponse) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    json(r)["ID"].as_str().unwrap_or_default().to_string()
}

/// Creates the network access policy `p` in `namespace`; its id.
async fn create_policy(addr: std::net::SocketAddr, namespace: &str) -> String {
    id(&call(
        addr,
        "POST",
        "/networkaccesspolicies",
        namespace,
        r#"{"name":"p"}"#,
    )
    .await)
}

fn first_error(r: &RawResponse) -> (u16, String, String) {
    let body = json(r);
    (
        r.status,
        body[0]["title"].as_str().unwrap_or_default().to_string(),
        body[0]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_keeps_the_read_only_attributes_it_omits() {
    let s = start().await;
    let created = call(
        s.addr,
        "POST",
        "/externalnetworks",
        "/",
        r#"{"name":"web","entries":["10.0.0.0/8"]}"#,
    )
    .await;
    let network = id(&created);
    let stored = json(&created);
    let path = format!("/externalnetworks/{network}");
    let updated = call(
        s.addr,
        "PUT",
        &path,
        "/",
        r#"{"name":"web2","entries":["10.1.0.0/16"]}"#,
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let updated = json(&updated);
    assert_eq!(updated["name"], "web2");
    assert_eq!(updated["entries"], serde_json::json!(["10.1.0.0/16"]));
    assert_eq!(updated["createTime"], stored["createTime"]);
    assert_eq!(updated["namespace"], "/");
    // Sending a different read-only value is still refused.
    let refused = call(
        s.addr,
        "PUT",
        &path,
        "/",
        r#"{"name":"web3","entries":["10.1.0.0/16"],"createTime":"2020-01-01T00:00:00Z"}"#,
    )
    .await;
    assert_eq!(
        first_error(&refused),
        (
            422,
            "Read Only Error".into(),
            "Field createTime is read only. You cannot modify its value.".into()
        )
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_reads_as_empty_for_lists_maps_and_nested_lists() {
    let s = start().await;
    let created = call(
        s.addr,
        "POST",
        "/networkaccesspolicies",
        "/",
        r#"{"name":"p","subject":null,"object":null,"ports":null,"metadata":null,"annotations":null}"#,
    )
    .await;
    let policy = id(&created);
    let body = json(&created);
    assert_eq!(body["subject"], serde_json::json!([]));
    assert_eq!(body["object"], serde_json::json!([]));
    let namespace = call(
        s.addr,
        "POST",
        "/namespaces",
        "/",
        r#"{"name":"n","JWTCertificates":null,"tagPrefixes":null}"#,
    )
    .await;
    assert_eq!(namespace.status, 200, "{}", namespace.text());
    assert_eq!(json(&namespace)["JWTCertificates"], serde_json::json!({}));
    let updated = call(
        s.addr,
        "PUT",
        &format!("/networkaccesspolicies/{policy}"),
        "/",
        r#"{"name":"p","subject":null,"object":[["app=db"]]}"#,
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(json(&updated)["object"], serde_json::json!([["app=db"]]));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_routes_need_a_visible_parent() {
    let s = start().await;
    for (parent, name) in [("/", "a"), ("/", "b")] {
        let r = call(
            s.addr,
            "POST",
            "/namespaces",
            parent,
            &format!(r#"{{"name":"{name}"}}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let policy = create_policy(s.addr, "/a").await;
    let children = format!("/networkaccesspolicies/{policy}/services");
    let own = call(s.addr, "GET", &children, "/a", "").await;
    assert_eq!((own.status, own.text()), (200, "[]".to_string()));
    let foreign = call(s.addr, "GET", &children, "/b", "").await;
    assert_eq!(
        first_error(&foreign),
        (
            404,
            "Not Found".into(),
            format!("Parent networkaccesspolicy with ID '{policy}' not found")
        )
    );
    let missing = call(
        s.addr,
        "GET",
        "/networkaccesspolicies/5f0000000000000000000000/externalnetworks",
        "/a",
        "",
    )
    .await;
    assert_eq!(
        first_error(&missing),
        (
            404,
            "Not Found".into(),
            "Parent networkaccesspolicy with ID '5f0000000000000000000000' not found".into()
        )
    );
    let deleted = call(
        s.addr,
        "DELETE",
        &format!("/networkaccesspolicies/{policy}"),
        "/a",
        "",
    )
    .await;
    assert_eq!(deleted.status, 200);
    let gone = call(s.addr, "GET", &children, "/a", "").await;
    assert_eq!(gone.status, 404);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_is_a_precondition_on_single_object_operations() {
    let s = start().await;
    let service = id(&call(
        s.addr,
        "POST",
        "/services",
        "/",
        r#"{"name":"api","hosts":["api.acme.com"],"exposedPort":443,"port":8443}"#,
    )
    .await);
    let path = format!("/services/{service}");
    let no_match = "q=name%20%3D%3D%20other";
    let not_found = (
        404,
        "Not Found".to_string(),
        format!("Object with ID '{service}' not found"),
    );
    for (method, body) in [
        ("GET", ""),
        (
            "PUT",
            r#"{"name":"changed","hosts":["api.acme.com"],"exposedPort":443,"port":8443}"#,
        ),
        ("PATCH", r#"{"name":"changed"}"#),
        ("DELETE", ""),
    ] {
        let r = call(s.addr, method, &format!("{path}?{no_match}"), "/", body).await;
        assert_eq!(first_error(&r), not_found, "{method}");
    }
    let still = call(s.addr, "GET", &path, "/", "").await;
    assert_eq!(json(&still)["name"], "api", "nothing changed");
    let matching = "q=name%20%3D%3D%20api";
    let deleted = call(s.addr, "DELETE", &format!("{path}?{matching}"), "/", "").await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(call(s.addr, "GET", &path, "/", "").await.status, 404);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_names_the_allowed_methods() {
    let s = start().await;
    let r = call(s.addr, "DELETE", "/services", "/", "").await;
    let trace = r.header("X-Request-ID").unwrap_or_default();
    assert_eq!(trace.len(), 36, "a request id");
    assert_eq!(
        (r.status, r.header("Allow"), r.text()),
        (
            405,
            Some("GET, POST, HEAD"),
            format!(
                r#"[{{"code":405,"description":"Method DELETE is not allowed on this path","subject":"bahamut","title":"Not allowed","trace":"{trace}"}}]"#
            )
        )
    );
    let r = call(s.addr, "POST", "/services/x", "/", "{}").await;
    assert_eq!(
        (r.status, r.header("Allow")),
        (405, Some("GET, PUT, PATCH, DELETE"))
    );
    // A relationship the model does not have: the methods it does allow there.
    let r = call(
        s.addr,
        "POST",
        "/networkaccesspolicies/x/services",
        "/",
        "{}",
    )
    .await;
    assert_eq!(
        (r.status, r.header("Allow"), first_error(&r).2),
        (
            405,
            Some("GET, HEAD"),
            "Create operation not allowed on service".to_string()
        )
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_openapi_document_says_is_what_the_server_does() {
    let s = start().await;
    // An empty integer parameter is refused, an empty filter is no filter.
    let r = call(s.addr, "GET", "/services?page=", "/", "").await;
    assert_eq!(
        first_error(&r),
        (
            400,
            "Bad Request".into(),
            "Parameter `page` must be an integer".into()
        )
    );
    let r = call(s.addr, "GET", "/services?q=", "/", "").await;
    assert_eq!((r.status, r.text()), (200, "[]".to_string()));
    // Bodies are objects.
    let r = call(s.addr, "POST", "/services", "/", "[null, null]").await;
    assert_eq!(
        first_error(&r),
        (
            400,
            "Bad Request".into(),
            "unable to decode application/json: the body must be an object".into()
        )
    );
    let policy = create_policy(s.addr, "/").await;
    let path = format!("/networkaccesspolicies/{policy}");
    for method in ["PUT", "PATCH"] {
        let r = call(s.addr, method, &path, "/", "[]").await;
        assert_eq!(r.status, 400, "{method}: {}", r.text());
        // A body naming another object is refused, the same id is fine.
        let r = call(
            s.addr,
            method,
            &path,
            "/",
            r#"{"name":"p","ID":"5f0000000000000000000000"}"#,
        )
        .await;
        assert_eq!(
            first_error(&r),
            (
                422,
                "Read Only Error".into(),
                "Field ID is read only. You cannot modify its value.".into()
            ),
            "{method}"
        );
        let same = format!(r#"{{"name":"p","ID":"{policy}"}}"#);
        assert_eq!(
            call(s.addr, method, &path, "/", &same).await.status,
            200,
            "{method}"
        );
    }
    // Times in bodies are RFC 3339.
    let r = call(
        s.addr,
        "PATCH",
        &path,
        "/",
        r#"{"expirationTime":"2030-01-01 10:00"}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // An operation the model does not have is a 405 whatever its query, with the methods the
    // relationships allow.
    let children = format!("{path}/services?mode=subject");
    let r = call(s.addr, "POST", &children, "/", "{}").await;
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
    let r = call(s.addr, "OPTIONS", &children, "/", "").await;
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
    // A namespace's whole path is its name, so the name's length limit applies to the path.
    let mut parent = "/".to_string();
    let segment = "n".repeat(100);
    for _ in 0..2 {
        let r = call(
            s.addr,
            "POST",
            "/namespaces",
            &parent,
            &format!(r#"{{"name":"{segment}"}}"#),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        parent = json(&r)["name"].as_str().unwrap_or_default().to_string();
    }
    let r = call(
        s.addr,
        "POST",
        "/namespaces",
        &parent,
        &format!(r#"{{"name":"{segment}"}}"#),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        json(&r)[0]["description"],
        format!("Data '{parent}/{segment}' of attribute 'name' should be less than 256 chars long")
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answers_times_as_sent_and_reads_give_them_in_utc() {
    let dir = testkit::env::TempDir::new("apiserver_semantics_times");
    let store = manipsql::open_sqlite(
        manipsql::SqliteOptions::new(dir.path().join("times.db")),
        gaia::model::manager(),
    )
    .await
    .expect("open sqlite");
    let s = testkit::start(|options| apiserver::server(options, Arc::new(store))).await;
    let body = r#"{"name":"p","expirationTime":"2030-01-01T10:00:00.5+02:00"}"#;
    let created = call(s.addr, "POST", "/networkaccesspolicies", "/", body).await;
    let policy = id(&created);
    assert_eq!(
        json(&created)["expirationTime"],
        "2030-01-01T10:00:00.5+02:00"
    );
    let path = format!("/networkaccesspolicies/{policy}");
    let read = call(s.addr, "GET", &path, "/", "").await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(json(&read)["expirationTime"], "2030-01-01T08:00:00.5Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_is_the_models_for_every_registered_operation() {
    let s = start().await;
    let r = call(s.addr, "GET", "/_meta/openapi", "/", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=UTF-8")
    );
    let generated: serde_json::Value =
        serde_json::from_str(gaia::OPENAPI_DOCUMENT).expect("the generated document");
    assert_eq!(json(&r), generated);
    assert_eq!(json(&r)["paths"].as_object().map(|p| p.len()), Some(12));
}

/// `X-Count-Mode`: answered only to a client that sends it, with the mode used; a small set is
/// counted exactly even when an estimate is asked, a count (HEAD) is exact, and an unknown
/// mode is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_count_mode_is_answered_to_a_client_that_asks() {
    let s = start().await;
    for name in ["a", "b", "c"] {
        let body = format!(r#"{{"name":"{name}","entries":["10.0.0.0/8"]}}"#);
        id(&call(s.addr, "POST", "/externalnetworks", "/", &body).await);
    }
    let list = |method: &str, mode: Option<&str>| {
        let mut headers = vec![("X-Namespace", "/")];
        headers.extend(mode.map(|mode| ("X-Count-Mode", mode)));
        testkit::request(method, "/externalnetworks?page=1&pagesize=2", &headers, "")
    };
    let plain = testkit::send(s.addr, &list("GET", None)).await;
    assert_eq!(
        (plain.header("X-Count-Total"), plain.header("X-Count-Mode")),
        (Some("3"), None)
    );
    for (method, mode) in [
        ("GET", "estimated"),
        ("GET", "exact"),
        ("HEAD", "Estimated"),
    ] {
        let answer = testkit::send(s.addr, &list(method, Some(mode))).await;
        assert_eq!(
            (
                answer.status,
                answer.header("X-Count-Total"),
                answer.header("X-Count-Mode")
            ),
            (
                if method == "GET" { 200 } else { 204 },
                Some("3"),
                Some("exact")
            ),
            "{method} with {mode}"
        );
    }
    let refused = testkit::send(s.addr, &list("GET", Some("planned"))).await;
    assert_eq!(
        first_error(&refused),
        (
            400,
            "Bad Request".to_string(),
            "Header `X-Count-Mode` must be `exact` or `estimated`, not `planned`".to_string()
        )
    );
}

/// Over SQLite, a list of more than 1,000 matching objects answers an estimated total when
/// asked, and the exact total otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimated_count_over_sqlite_says_so() {
    use gaia::model::ExternalNetwork;

    let dir = testkit::env::TempDir::new("apiserver_estimates");
    let spec = format!("sqlite:{}", dir.path().join("store.db").display());
    let store = apiserver::open_store(&spec.parse().expect("store flag"), None)
        .await
        .expect("open SQLite");
    let ctx = manipulate::StoreContext::in_namespace("/");
    for i in 0..1_200 {
        let network = ExternalNetwork {
            id: format!("{i:024x}"),
            namespace: "/".into(),
            name: format!("network-{i}"),
            ..ExternalNetwork::default()
        };
        manipulate::create(store.as_ref(), network, &ctx)
            .await
            .expect("create");
    }
    let s = testkit::start(|options| apiserver::server(options, store)).await;
    let headers = [("X-Namespace", "/"), ("X-Count-Mode", "estimated")];
    let path = "/externalnetworks?page=1&pagesize=5";
    let estimated = testkit::send(s.addr, &testkit::request("GET", path, &headers, "")).await;
    assert_eq!(estimated.status, 200, "{}", estimated.text());
    assert_eq!(json(&estimated).as_array().map(Vec::len), Some(5));
    assert_eq!(estimated.header("X-Count-Mode"), Some("estimated"));
    let total: u64 = estimated
        .header("X-Count-Total")
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    // Every probe lands on a row here (the sequence has no gap), so the estimate is exact.
    assert_eq!(total, 1_200);
    let exact = testkit::send(s.addr, &testkit::request("GET", path, &headers[..1], "")).await;
    assert_eq!(
        (exact.header("X-Count-Total"), exact.header("X-Count-Mode")),
        (Some("1200"), None)
    );
}
