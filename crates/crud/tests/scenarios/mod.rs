//! The scenarios of crud's processor, run by `processor.rs` against a server storing in memory
//! and by maniphttp's `proxy.rs` through a proxy server whose store is a remote server.

use std::net::SocketAddr;
use std::sync::Arc;

use gaia::model::{ExternalNetwork, manager};
use manipulate::Manipulator;
use testkit::{call, json};

/// A server on port 0 whose external networks are crud's processor over `store`.
pub async fn crud_server(store: Arc<dyn Manipulator>) -> testkit::Running {
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

/// Server-side ids and times; update and patch keep what the server owns; counts. `store` is
/// where the objects end up.
pub async fn the_server_owns_ids_namespaces_and_times(addr: SocketAddr, store: &dyn Manipulator) {
    let created = call(
        addr,
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
        addr,
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
        addr,
        "PUT",
        &format!("/externalnetworks/{id}"),
        "/acme",
        &whole.to_string(),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let stored: ExternalNetwork =
        manipulate::retrieve(store, &id, &manipulate::StoreContext::in_namespace("/acme"))
            .await
            .expect("stored");
    assert_eq!(
        (stored.description.as_str(), stored.namespace.as_str()),
        ("updated", "/acme")
    );

    // Info: the count of the namespace.
    let info = call(addr, "HEAD", "/externalnetworks", "/acme", "").await;
    assert_eq!(info.header("X-Count-Total"), Some("1"));
}

/// Nothing outside the namespace subtree is read, changed or counted.
pub async fn nothing_outside_the_namespace_subtree_is_read_changed_or_counted(addr: SocketAddr) {
    let body = r#"{"name":"web","entries":["10.0.0.0/8"]}"#;
    let created = call(addr, "POST", "/externalnetworks", "/a/b", body).await;
    let id = json(&created)["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    call(addr, "POST", "/externalnetworks", "/c", body).await;

    let path = format!("/externalnetworks/{id}");
    for namespace in ["/c", "/a/bc", "/a"] {
        let read = call(addr, "GET", &path, namespace, "").await;
        assert_eq!(read.status, 404, "read from {namespace}");
        assert_eq!(
            json(&read)[0]["description"],
            format!("Object with ID '{id}' not found")
        );
        let deleted = call(addr, "DELETE", &path, namespace, "").await;
        assert_eq!(deleted.status, 404, "delete from {namespace}");
    }
    let recursive = call(addr, "GET", "/externalnetworks?recursive=true", "/a", "").await;
    assert_eq!(recursive.header("X-Count-Total"), Some("1"));
    let everything = call(addr, "GET", "/externalnetworks?recursive=true", "/", "").await;
    assert_eq!(everything.header("X-Count-Total"), Some("2"));
    let deleted = call(addr, "DELETE", &path, "/a/b", "").await;
    assert_eq!(deleted.status, 200);
}
