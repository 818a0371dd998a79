//! End to end: the apiserver binary on SQLite; a namespace tree and objects of all five
//! identities created over HTTP; a recursive filtered list; a restart; the data still there.

mod common;

use common::{Process, fields};
use testkit::env::TempDir;
use testkit::{call, json};

const WEB_NETWORK: &str = r#"{"name":"web","entries":["10.0.0.0/8"]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_tree_all_identities_recursive_filter_and_restart() {
    let dir = TempDir::new("apiserver_e2e");
    let store = format!("sqlite:{}", dir.path().join("apiserver.db").display());
    let server = Process::start(&store);
    let addr = server.addr;

    let root = call(addr, "GET", "/", "/", "").await;
    assert_eq!((root.status, root.text()), (418, "hello world".to_string()));

    let acme = call(addr, "POST", "/namespaces", "/", r#"{"name":"acme"}"#).await;
    assert_eq!(acme.status, 200, "{}", acme.text());
    assert_eq!(json(&acme)["name"], "/acme");
    for child in ["prod", "dev"] {
        let created = call(
            addr,
            "POST",
            "/namespaces",
            "/acme",
            &format!(r#"{{"name":"{child}"}}"#),
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.text());
        assert_eq!(json(&created)["name"], format!("/acme/{child}"));
        assert_eq!(json(&created)["namespace"], "/acme");
    }

    let objects = [
        ("/externalnetworks", "/acme/prod", WEB_NETWORK),
        ("/externalnetworks", "/acme/dev", WEB_NETWORK),
        (
            "/externalnetworks",
            "/acme/prod",
            r#"{"name":"db","entries":["10.1.0.0/16"]}"#,
        ),
        (
            "/services",
            "/acme/prod",
            r#"{"name":"api","hosts":["api.acme.com"],"exposedPort":443,"port":8443}"#,
        ),
        (
            "/hostservices",
            "/acme/prod",
            r#"{"name":"ssh","services":["tcp/22"]}"#,
        ),
        (
            "/networkaccesspolicies",
            "/acme",
            r#"{"name":"allow-web","subject":[["app=web"]],"object":[["app=db"]]}"#,
        ),
    ];
    let mut prod_web = String::new();
    for (path, namespace, body) in objects {
        let created = call(addr, "POST", path, namespace, body).await;
        assert_eq!(created.status, 200, "{path}: {}", created.text());
        let object = json(&created);
        assert_eq!(object["namespace"], namespace);
        assert_eq!(object["ID"].as_str().map(str::len), Some(24));
        if path == "/externalnetworks" && namespace == "/acme/prod" && prod_web.is_empty() {
            prod_web = object["ID"].as_str().unwrap_or_default().to_string();
        }
    }

    let query = "/externalnetworks?recursive=true&q=name%20%3D%3D%20web";
    let recursive = call(addr, "GET", query, "/acme", "").await;
    assert_eq!(recursive.status, 200);
    assert_eq!(recursive.header("X-Count-Total"), Some("2"));
    assert_eq!(
        fields(&recursive, "namespace"),
        vec!["/acme/dev", "/acme/prod"]
    );
    let flat = call(addr, "GET", "/externalnetworks", "/acme", "").await;
    assert_eq!(fields(&flat, "name"), Vec::<String>::new(), "not recursive");

    // Siblings do not see each other.
    let sibling = call(
        addr,
        "GET",
        &format!("/externalnetworks/{prod_web}"),
        "/acme/dev",
        "",
    )
    .await;
    assert_eq!(sibling.status, 404);

    // A namespace that holds objects is not deleted.
    let namespaces = call(addr, "GET", "/namespaces", "/acme", "").await;
    let prod_id = json(&namespaces)
        .as_array()
        .and_then(|all| all.iter().find(|n| n["name"] == "/acme/prod").cloned())
        .map(|n| n["ID"].as_str().unwrap_or_default().to_string())
        .expect("/acme/prod listed");
    let refused = call(
        addr,
        "DELETE",
        &format!("/namespaces/{prod_id}"),
        "/acme",
        "",
    )
    .await;
    assert_eq!(refused.status, 409);
    assert_eq!(
        json(&refused)[0]["description"],
        "Namespace '/acme/prod' is not empty: it still holds 4 object(s); delete them first"
    );

    server.terminate();
    let server = Process::start(&store);
    let again = call(server.addr, "GET", query, "/acme", "").await;
    assert_eq!(again.header("X-Count-Total"), Some("2"));
    assert_eq!(
        json(&again),
        json(&recursive),
        "the same objects after a restart"
    );
    let services = call(server.addr, "GET", "/services", "/acme/prod", "").await;
    assert_eq!(fields(&services, "name"), vec!["api"]);
    server.terminate();
}
