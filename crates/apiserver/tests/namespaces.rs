//! Namespace rules of the apiserver, in process, on every backend the machine offers:
//! names are made full paths, duplicates and bad names are refused, non-empty namespaces are
//! not deleted, and an emptied one is.

mod common;

use std::sync::Arc;

use manipulate::Manipulator;
use testkit::env::{TempDir, postgres_url, unique_name};
use testkit::{call, json};

/// 16 concurrent creates of the namespace `/race`, spread over `addrs`: exactly one succeeds,
/// every other one is a 409 `Namespace '/race' already exists`, and one is stored.
async fn race(addrs: &[std::net::SocketAddr]) {
    let mut creates = Vec::new();
    for i in 0..16 {
        let addr = addrs[i % addrs.len()];
        creates.push(tokio::spawn(async move {
            call(addr, "POST", "/namespaces", "/", r#"{"name":"race"}"#).await
        }));
    }
    let mut created = 0;
    for create in creates {
        let r = create.await.expect("create task");
        match r.status {
            200 => created += 1,
            409 => assert_eq!(
                json(&r)[0]["description"],
                "Namespace '/race' already exists"
            ),
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    assert_eq!(created, 1, "exactly one create wins");
    let listed = call(
        addrs[0],
        "GET",
        "/namespaces?q=name%20%3D%3D%20%2Frace",
        "/",
        "",
    )
    .await;
    assert_eq!(
        listed.header("X-Count-Total"),
        Some("1"),
        "{}",
        listed.text()
    );
}

async fn check_race(store: Arc<dyn Manipulator>) {
    let running = testkit::start(|options| apiserver::server(options, store)).await;
    race(&[running.addr]).await;
    running.stop().await.expect("clean stop");
}

/// The apiserver's SQLite store in `dir`, as `--store sqlite:...` opens it.
async fn sqlite_store(dir: &TempDir) -> Arc<dyn Manipulator> {
    let spec = format!("sqlite:{}", dir.path().join("store.db").display());
    apiserver::open_store(&spec.parse().expect("store flag"), None)
        .await
        .expect("open SQLite")
}

/// Drops a PostgreSQL schema a test made.
async fn drop_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .expect("drop schema");
}

async fn check_rules(store: Arc<dyn Manipulator>) {
    let running = testkit::start(|options| apiserver::server(options, store)).await;
    let addr = running.addr;

    let created = call(addr, "POST", "/namespaces", "/", r#"{"name":"acme"}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let acme_id = json(&created)["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let duplicate = call(addr, "POST", "/namespaces", "/", r#"{"name":"acme"}"#).await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(
        json(&duplicate)[0]["description"],
        "Namespace '/acme' already exists"
    );

    let nested = call(addr, "POST", "/namespaces", "/", r#"{"name":"a/b"}"#).await;
    assert_eq!(nested.status, 422);
    assert_eq!(
        json(&nested)[0]["description"],
        "Data 'a/b' of attribute 'name' must be a single name, created in the namespace of the request (/)"
    );

    let child = call(addr, "POST", "/namespaces", "/acme", r#"{"name":"prod"}"#).await;
    assert_eq!(json(&child)["name"], "/acme/prod");
    let child_id = json(&child)["ID"].as_str().unwrap_or_default().to_string();

    let missing = call(
        addr,
        "POST",
        "/externalnetworks",
        "/acme/staging",
        r#"{"name":"web","entries":["10.0.0.0/8"]}"#,
    )
    .await;
    assert_eq!(
        (missing.status, missing.text()),
        (
            404,
            r#"[{"code":404,"description":"Namespace '/acme/staging' does not exist","subject":"apiserver","title":"Not Found","trace":"TRACE"}]"#
                .replace("TRACE", json(&missing)[0]["trace"].as_str().unwrap_or_default())
        )
    );
    let orphan = call(addr, "POST", "/namespaces", "/nowhere", r#"{"name":"x"}"#).await;
    assert_eq!(orphan.status, 404);
    assert_eq!(
        json(&orphan)[0]["description"],
        "Namespace '/nowhere' does not exist"
    );
    let inside = call(
        addr,
        "POST",
        "/externalnetworks",
        "/acme/prod",
        r#"{"name":"web","entries":["10.0.0.0/8"]}"#,
    )
    .await;
    assert_eq!(inside.status, 200, "{}", inside.text());
    let inside_id = json(&inside)["ID"].as_str().unwrap_or_default().to_string();
    let removed = call(
        addr,
        "DELETE",
        &format!("/externalnetworks/{inside_id}"),
        "/acme/prod",
        "",
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.text());

    let refused = call(addr, "DELETE", &format!("/namespaces/{acme_id}"), "/", "").await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        json(&refused)[0]["description"],
        "Namespace '/acme' is not empty: it still holds 1 object(s); delete them first"
    );

    let deleted = call(
        addr,
        "DELETE",
        &format!("/namespaces/{child_id}"),
        "/acme",
        "",
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let deleted = call(addr, "DELETE", &format!("/namespaces/{acme_id}"), "/", "").await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let listed = call(addr, "GET", "/namespaces?recursive=true", "/", "").await;
    assert_eq!(listed.header("X-Count-Total"), Some("0"));
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_rules_in_memory() {
    check_rules(Arc::new(manipulate::MemoryManipulator::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_rules_on_sqlite() {
    let dir = TempDir::new("apiserver_namespaces");
    check_rules(sqlite_store(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_namespace_on_sqlite() {
    let dir = TempDir::new("apiserver_namespace_race");
    check_race(sqlite_store(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_namespace_from_two_processes_on_postgres() {
    let Some(url) =
        postgres_url("concurrent_creates_of_one_namespace_from_two_processes_on_postgres")
    else {
        return;
    };
    let schema = unique_name("apiserver_race");
    let args = ["--postgres-schema", schema.as_str()];
    let first = common::Process::start_with(&url, &args);
    let second = common::Process::start_with(&url, &args);
    race(&[first.addr, second.addr]).await;
    first.terminate();
    second.terminate();
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_rules_on_postgres() {
    let Some(url) = postgres_url("namespace_rules_on_postgres") else {
        return;
    };
    let mut options = manipsql::PostgresOptions::new(&url);
    let schema = unique_name("apiserver_ns");
    options.schema = Some(schema.clone());
    let store = manipsql::open_postgres(options, gaia::model::manager())
        .await
        .expect("open PostgreSQL");
    check_rules(Arc::new(store)).await;
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_namespaces_are_400s_everywhere() {
    let store = Arc::new(manipulate::MemoryManipulator::new());
    let running = testkit::start(|options| apiserver::server(options, store)).await;
    let addr = running.addr;
    for (namespace, reason) in [
        ("../..", "it must start with '/'"),
        ("probe", "it must start with '/'"),
        ("//", "it must not have an empty segment"),
        ("/a/", "it must not have an empty segment"),
        ("/b/../a", "it must not have a '..' segment"),
        ("/./a", "it must not have a '.' segment"),
    ] {
        for (method, body) in [("GET", ""), ("POST", r#"{"name":"web"}"#)] {
            let r = call(addr, method, "/externalnetworks", namespace, body).await;
            let trace = json(&r)[0]["trace"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let expected = format!(
                r#"[{{"code":400,"description":"Invalid namespace '{namespace}': {reason}","subject":"elemental","title":"Bad Request","trace":"{trace}"}}]"#
            );
            assert_eq!(
                (r.status, r.text()),
                (400, expected),
                "{method} {namespace}"
            );
            assert_eq!(trace.len(), 36, "the request id");
        }
        let upgrade = testkit::request(
            "GET",
            &format!("/events?namespace={namespace}"),
            &[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            "",
        );
        let r = testkit::send(addr, &upgrade).await;
        assert_eq!(r.status, 400, "push {namespace}");
        assert_eq!(
            json(&r)[0]["description"],
            format!("Invalid namespace '{namespace}': {reason}")
        );
    }
    let too_long = format!("/{}", "n".repeat(1100));
    let r = call(addr, "GET", "/externalnetworks", &too_long, "").await;
    assert_eq!(r.status, 400);
    assert!(
        json(&r)[0]["description"]
            .as_str()
            .unwrap_or_default()
            .ends_with("...': it is longer than 1024 bytes")
    );
    // A session on a namespace that does not exist is refused before the upgrade.
    let upgrade = testkit::request(
        "GET",
        "/events?namespace=/ghost",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "",
    );
    let r = testkit::send(addr, &upgrade).await;
    assert_eq!(
        (r.status, json(&r)[0]["description"].clone()),
        (404, serde_json::json!("Namespace '/ghost' does not exist"))
    );
    running.stop().await.expect("clean stop");
}
