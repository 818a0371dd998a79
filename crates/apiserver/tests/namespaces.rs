//! Namespace rules of the apiserver, in process, on every backend the machine offers:
//! names are made full paths, duplicates and bad names are refused, non-empty namespaces are
//! not deleted, and an emptied one is.

mod common;

use std::sync::Arc;

use manipulate::Manipulator;
use testkit::env::{TempDir, postgres_url, unique_name};
use testkit::{call, json};

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
    let spec = format!("sqlite:{}", dir.path().join("a.db").display());
    let store = apiserver::open_store(&spec.parse().expect("store flag"), None)
        .await
        .expect("open SQLite");
    check_rules(store).await;
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
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .expect("drop schema");
}
