//! The storage-backed processor over real sockets: server-side ids and times, update and patch
//! keep what the server owns, counts, and namespace isolation (the scenarios are in
//! `scenarios/`, shared with maniphttp's proxy test).

mod scenarios;

use std::sync::Arc;

use manipulate::{Manipulator, MemoryManipulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_owns_ids_namespaces_and_times() {
    let store: Arc<dyn Manipulator> = Arc::new(MemoryManipulator::new());
    let running = scenarios::crud_server(store.clone()).await;
    scenarios::the_server_owns_ids_namespaces_and_times(running.addr, store.as_ref()).await;
    running.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_namespace_subtree_is_read_changed_or_counted() {
    let store: Arc<dyn Manipulator> = Arc::new(MemoryManipulator::new());
    let running = scenarios::crud_server(store).await;
    scenarios::nothing_outside_the_namespace_subtree_is_read_changed_or_counted(running.addr).await;
    running.stop().await.expect("stop");
}
