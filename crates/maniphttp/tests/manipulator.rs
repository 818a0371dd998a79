//! `Manipulator` over HTTP: every operation against a real apiserver, and crud's processor
//! running over the client in a proxy server, with crud's own scenarios passing through it.

mod common;
#[path = "../../crud/tests/scenarios/mod.rs"]
mod scenarios;

use std::sync::Arc;

use common::Apiserver;
use elemental::ModelIdentity;
use elemental::filter::Filter;
use gaia::model::{ExternalNetwork, manager};
use maniphttp::Client;
use manipulate::{ManipulateError, Manipulator, MemoryManipulator, StoreContext};

fn network(name: &str) -> ExternalNetwork {
    ExternalNetwork {
        name: name.into(),
        entries: vec!["10.0.0.0/8".into()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manipulator_operation_against_an_apiserver() {
    let api = Apiserver::start().await;
    let client = Client::builder(api.url())
        .with_model(manager())
        .build()
        .unwrap();
    let store: &dyn Manipulator = &client;
    let root = StoreContext::in_namespace("/");

    // Create: the server's id and times, whatever the object says.
    let mut local = network("web");
    local.id = "local-id".into();
    let web = manipulate::create(store, local, &root)
        .await
        .expect("create");
    assert_eq!(web.id.len(), 24);
    assert_ne!(web.id, "local-id");
    for name in ["db", "cache"] {
        manipulate::create(store, network(name), &root)
            .await
            .unwrap();
    }

    let read: ExternalNetwork = manipulate::retrieve(store, &web.id, &root).await.unwrap();
    assert_eq!(read.name, "web");
    let mut ordered = root.clone();
    ordered.order = vec!["name".into()];
    let page = manipulate::retrieve_many::<ExternalNetwork>(store, &ordered)
        .await
        .unwrap();
    let names: Vec<&str> = page.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!((names, page.total), (vec!["cache", "db", "web"], 3));
    assert_eq!(store.count(ExternalNetwork::IDENTITY, &root).await, Ok(3));

    let mut changed = read.clone();
    changed.description = "changed".into();
    manipulate::update(store, changed, &root)
        .await
        .expect("update");
    let read: ExternalNetwork = manipulate::retrieve(store, &web.id, &root).await.unwrap();
    assert_eq!(read.description, "changed");

    let deleted: ExternalNetwork = manipulate::delete(store, &web.id, &root).await.unwrap();
    assert_eq!(deleted.name, "web");
    assert_eq!(
        store
            .retrieve(ExternalNetwork::IDENTITY, &web.id, &root)
            .await,
        Err(ManipulateError::NotFound { id: web.id.clone() })
    );

    // Delete many: what the filter matches, nothing else.
    let db_only = root
        .clone()
        .with_filter(Filter::parse("name == db").unwrap());
    assert_eq!(
        store.delete_many(ExternalNetwork::IDENTITY, &db_only).await,
        Ok(1)
    );
    assert_eq!(store.count(ExternalNetwork::IDENTITY, &root).await, Ok(1));

    // A refusal keeps the server's error and status.
    let refused = manipulate::create(store, ExternalNetwork::default(), &root).await;
    let Err(error) = refused else {
        panic!("an invalid object was stored");
    };
    assert_eq!(error.status(), 422);
    assert_eq!(error.to_elemental().title, "Validation Error");

    // A 404 on a collection (a missing namespace) keeps the server's message.
    let nowhere = StoreContext::in_namespace("/nowhere");
    let refused = manipulate::create(store, network("x"), &nowhere).await;
    let Err(error) = refused else {
        panic!("stored in a missing namespace");
    };
    assert_eq!(
        (error.status(), error.to_string()),
        (404, "Namespace '/nowhere' does not exist".to_string())
    );
    // HEAD answers have no body: the reason phrase describes the error.
    let mut orphan = root.clone();
    orphan.parent = Some((gaia::model::NetworkAccessPolicy::IDENTITY, "nope".into()));
    let error = store
        .count(ExternalNetwork::IDENTITY, &orphan)
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.to_string()),
        (404, "Not Found".to_string())
    );
    api.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_many_goes_through_pages() {
    let api = Apiserver::start().await;
    let client = Client::builder(api.url()).build().unwrap();
    let root = StoreContext::in_namespace("/");
    for i in 0..230 {
        client
            .create(&network(&format!("n{i}")), &root)
            .await
            .unwrap();
    }
    let store: &dyn Manipulator = &client;
    assert_eq!(
        store.delete_many(ExternalNetwork::IDENTITY, &root).await,
        Ok(230)
    );
    assert_eq!(store.count(ExternalNetwork::IDENTITY, &root).await, Ok(0));
    api.running.stop().await.unwrap();
}

/// A server storing in memory, and a proxy server whose crud processor stores through a
/// maniphttp client of the first.
async fn backend_and_proxy() -> (Arc<dyn Manipulator>, testkit::Running, testkit::Running) {
    let memory: Arc<dyn Manipulator> = Arc::new(MemoryManipulator::new());
    let backend = scenarios::crud_server(memory.clone()).await;
    let client: Arc<dyn Manipulator> = Arc::new(
        Client::builder(format!("http://{}", backend.addr))
            .with_model(manager())
            .build()
            .unwrap(),
    );
    let proxy = scenarios::crud_server(client).await;
    (memory, backend, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_scenarios_pass_through_a_proxy_server() {
    let (memory, backend, proxy) = backend_and_proxy().await;
    scenarios::the_server_owns_ids_namespaces_and_times(proxy.addr, memory.as_ref()).await;
    proxy.stop().await.unwrap();
    backend.stop().await.unwrap();

    let (_, backend, proxy) = backend_and_proxy().await;
    scenarios::nothing_outside_the_namespace_subtree_is_read_changed_or_counted(proxy.addr).await;
    proxy.stop().await.unwrap();
    backend.stop().await.unwrap();
}
