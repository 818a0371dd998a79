//! The apiserver's storage calls are timed into `/metrics`, by backend and operation.

use testkit::env::TempDir;
use testkit::{call, request, send};

#[tokio::test(flavor = "multi_thread")]
async fn storage_calls_appear_in_the_metrics_by_backend_and_operation() {
    let dir = TempDir::new("apiserver-metrics");
    let spec: apiserver::StoreSpec = format!("sqlite:{}", dir.path().join("store.db").display())
        .parse()
        .expect("store flag");
    let store = apiserver::open_store(&spec, None).await.expect("store");
    let metrics = bahamut::Metrics::new();
    let store = apiserver::observed_store(store, spec.backend(), Some(metrics.clone()));
    let running =
        testkit::start(|options| apiserver::server(options.with_metrics(metrics), store)).await;
    let created = call(running.addr, "POST", "/namespaces", "/", r#"{"name":"a"}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let listed = call(running.addr, "GET", "/namespaces", "/", "").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let r = send(running.health, &request("GET", "/metrics", &[], "")).await;
    let text = r.text();
    let count = |operation: &str| {
        let prefix = format!(
            r#"storage_call_duration_seconds_count{{backend="sqlite",operation="{operation}"}} "#
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or("none")
            .to_string()
    };
    assert_eq!(
        [count("create"), count("retrieve-many"), count("delete")],
        ["1", "1", "none"],
        "{text}"
    );
    running.stop().await.expect("stop");
}
