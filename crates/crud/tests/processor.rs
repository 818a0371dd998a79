//! The storage-backed processor over real sockets: server-side ids and times, update and patch
//! keep what the server owns, counts, and namespace isolation.

use std::sync::Arc;

use gaia::model::{ExternalNetwork, manager};
use manipulate::{Manipulator, MemoryManipulator};
use testkit::{call, json};

async fn start(store: Arc<dyn Manipulator>) -> testkit::Running {
    testkit::start(|options| {
        let options =
            options
                .with_model(0, manager())
                .with_retriever(Arc::new(crud::StoreRetriever::new(
                    store.clone(),
                    manager(),
                )));
        let mut server = bahamut::Server::new(options);
        server.register_processor(crud::processor::<ExternalNetwork>(store))?;
        Ok(server)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_owns_ids_namespaces_and_times() {
    let store: Arc<dyn Manipulator> = Arc::new(MemoryManipulator::new());
    let running = start(store.clone()).await;
    let created = call(
        running.addr,
        "POST",
        "/externalnetworks",
        "/acme",
        r#"{"name":"web","entries":["10.0.0.0/8"]}"#,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let object = json(&created);
    let id = object["ID"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 24);
    assert_eq!(object["namespace"], "/acme");
    let created_at = object["createTime"].clone();
    assert!(created_at.is_string());

    // Patch: only the given attribute changes; the update time moves, the creation time not.
    let patched = call(
        running.addr,
        "PATCH",
        &format!("/externalnetworks/{id}"),
        "/acme",
        r#"{"description":"patched"}"#,
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let patched = json(&patched);
    assert_eq!(patched["description"], "patched");
    assert_eq!(patched["name"], "web");
    assert_eq!(patched["createTime"], created_at);
    assert_ne!(patched["updateTime"], object["updateTime"]);

    // Update with the whole object: stored id and namespace are kept.
    let mut whole = patched.clone();
    whole["description"] = "updated".into();
    let updated = call(
        running.addr,
        "PUT",
        &format!("/externalnetworks/{id}"),
        "/acme",
        &whole.to_string(),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let stored: ExternalNetwork = manipulate::retrieve(
        store.as_ref(),
        &id,
        &manipulate::StoreContext::in_namespace("/acme"),
    )
    .await
    .expect("stored");
    assert_eq!(
        (stored.description.as_str(), stored.namespace.as_str()),
        ("updated", "/acme")
    );

    // Info: the count of the namespace.
    let info = call(running.addr, "HEAD", "/externalnetworks", "/acme", "").await;
    assert_eq!(info.header("X-Count-Total"), Some("1"));
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_namespace_subtree_is_read_changed_or_counted() {
    let store: Arc<dyn Manipulator> = Arc::new(MemoryManipulator::new());
    let running = start(store).await;
    let body = r#"{"name":"web","entries":["10.0.0.0/8"]}"#;
    let created = call(running.addr, "POST", "/externalnetworks", "/a/b", body).await;
    let id = json(&created)["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    call(running.addr, "POST", "/externalnetworks", "/c", body).await;

    let path = format!("/externalnetworks/{id}");
    for namespace in ["/c", "/a/bc", "/a"] {
        let read = call(running.addr, "GET", &path, namespace, "").await;
        assert_eq!(read.status, 404, "read from {namespace}");
        assert_eq!(
            json(&read)[0]["description"],
            format!("Object with ID '{id}' not found")
        );
        let deleted = call(running.addr, "DELETE", &path, namespace, "").await;
        assert_eq!(deleted.status, 404, "delete from {namespace}");
    }
    let recursive = call(
        running.addr,
        "GET",
        "/externalnetworks?recursive=true",
        "/a",
        "",
    )
    .await;
    assert_eq!(recursive.header("X-Count-Total"), Some("1"));
    let everything = call(
        running.addr,
        "GET",
        "/externalnetworks?recursive=true",
        "/",
        "",
    )
    .await;
    assert_eq!(everything.header("X-Count-Total"), Some("2"));
    let deleted = call(running.addr, "DELETE", &path, "/a/b", "").await;
    assert_eq!(deleted.status, 200);
    running.stop().await.expect("stop");
}
