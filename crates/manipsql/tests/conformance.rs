//! The backend conformance suite on SQLite and, when `APISERVER_TEST_POSTGRES_URL` is set,
//! on PostgreSQL (each check in a fresh schema).

use manipsql::{PostgresOptions, SqliteOptions, open_postgres, open_sqlite};
use testkit::env::{TempDir, postgres_url, unique_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_conformance() {
    let dir = TempDir::new("manipsql_conformance");
    let path = dir.path().to_path_buf();
    testkit::conformance::run_all(|| {
        let file = path.join(format!("{}.db", unique_name("store")));
        async move {
            open_sqlite(SqliteOptions::new(file), gaia::model::manager())
                .await
                .expect("open SQLite")
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_conformance() {
    let Some(url) = postgres_url("postgres_backend_conformance") else {
        return;
    };
    let schemas = std::sync::Mutex::new(Vec::new());
    testkit::conformance::run_all(|| {
        let mut options = PostgresOptions::new(&url);
        let schema = unique_name("conformance");
        if let Ok(mut schemas) = schemas.lock() {
            schemas.push(schema.clone());
        }
        options.schema = Some(schema);
        options.pool_size = 4;
        async move {
            open_postgres(options, gaia::model::manager())
                .await
                .expect("open PostgreSQL")
        }
    })
    .await;
    let schemas = schemas.into_inner().unwrap_or_default();
    drop_schemas(&url, &schemas).await;
}

/// Removes the schemas a test made.
async fn drop_schemas(url: &str, schemas: &[String]) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    for schema in schemas {
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .expect("drop schema");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_regular_expression_it_cannot_run_with_a_400() {
    let Some(url) = postgres_url("postgres_refuses_a_regular_expression_it_cannot_run_with_a_400")
    else {
        return;
    };
    let mut options = PostgresOptions::new(&url);
    let schema = unique_name("regex");
    options.schema = Some(schema.clone());
    let store = open_postgres(options, gaia::model::manager())
        .await
        .expect("open PostgreSQL");
    // Valid for Rust's regex (a Unicode class), not for PostgreSQL.
    let filter = elemental::filter::Filter::parse(r#"name matches "\p{Greek}""#).expect("filter");
    let ctx = manipulate::StoreContext::in_namespace("/").with_filter(filter);
    let result = manipulate::Manipulator::count(
        &store,
        <gaia::model::ExternalNetwork as elemental::ModelIdentity>::IDENTITY,
        &ctx,
    )
    .await;
    let status = result.map_err(|e| e.status());
    drop_schemas(&url, &[schema]).await;
    assert_eq!(status, Err(400));
}
