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

/// A PostgreSQL store in a fresh schema named after `prefix`, and the schema's name.
async fn open_in_fresh_schema(url: &str, prefix: &str) -> (manipsql::SqlManipulator, String) {
    let mut options = PostgresOptions::new(url);
    let schema = unique_name(prefix);
    options.schema = Some(schema.clone());
    let store = open_postgres(options, gaia::model::manager())
        .await
        .expect("open PostgreSQL");
    (store, schema)
}

/// Creates `objects` in `store`, 64 at a time, each in its own namespace.
async fn create_all(
    store: &dyn manipulate::Manipulator,
    objects: Vec<gaia::model::ExternalNetwork>,
) {
    let mut writes = Vec::new();
    for object in objects {
        writes.push(async move {
            let ctx = manipulate::StoreContext::in_namespace(&object.namespace);
            manipulate::create(store, object, &ctx).await
        });
        if writes.len() == 64 {
            for result in futures_util::future::join_all(writes.drain(..)).await {
                result.expect("create");
            }
        }
    }
    for result in futures_util::future::join_all(writes).await {
        result.expect("create");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_regular_expression_it_cannot_run_with_a_400() {
    let Some(url) = postgres_url("postgres_refuses_a_regular_expression_it_cannot_run_with_a_400")
    else {
        return;
    };
    let (store, schema) = open_in_fresh_schema(&url, "regex").await;
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

/// With `X-Count-Mode: estimated`, a set of up to 1,000 matching objects is counted exactly
/// and a larger one is estimated from samples (within a few percent); the exact mode counts
/// every match; the page is the same in both modes.
async fn check_estimated_counts(store: &dyn manipulate::Manipulator) {
    use elemental::filter::Filter;
    use elemental::{CountMode, ModelIdentity};
    use gaia::model::ExternalNetwork;
    use manipulate::StoreContext;

    let network = |i: usize| ExternalNetwork {
        id: format!("{i:024x}"),
        namespace: "/counts".into(),
        name: format!("network-{i}"),
        r#type: if i % 2 == 0 { "Subnet" } else { "ENI" }.into(),
        protected: i < 1_000,
        ..ExternalNetwork::default()
    };
    create_all(store, (0..3_000).map(network).collect()).await;
    let list = |filter: &str, mode: CountMode| {
        let mut ctx =
            StoreContext::in_namespace("/counts").with_filter(Filter::parse(filter).expect("q"));
        ctx.page = 1;
        ctx.page_size = 10;
        ctx.count_mode = mode;
        ctx
    };
    let page = |ctx: StoreContext| async move {
        let page = store
            .retrieve_many(ExternalNetwork::IDENTITY, &ctx)
            .await
            .expect("retrieve many");
        assert_eq!(page.objects.len(), 10);
        (page.total, page.count_mode)
    };
    let small = page(list("protected == true", CountMode::Estimated)).await;
    assert_eq!(small, (1_000, CountMode::Exact));
    let exact = page(list("type == Subnet", CountMode::Exact)).await;
    assert_eq!(exact, (1_500, CountMode::Exact));
    let (estimate, mode) = page(list("type == Subnet", CountMode::Estimated)).await;
    assert_eq!(mode, CountMode::Estimated);
    // 1,000 probes of a half: a relative error of about 3.2%; 20% is beyond six of those.
    assert!(
        (1_200..=1_800).contains(&estimate),
        "estimate {estimate} of 1,500"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_counts_large_sets_by_estimate_when_asked() {
    let dir = TempDir::new("manipsql_estimates");
    let store = open_sqlite(
        SqliteOptions::new(dir.path().join("store.db")),
        gaia::model::manager(),
    )
    .await
    .expect("open SQLite");
    check_estimated_counts(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_counts_large_sets_by_estimate_when_asked() {
    let Some(url) = postgres_url("postgres_counts_large_sets_by_estimate_when_asked") else {
        return;
    };
    let (store, schema) = open_in_fresh_schema(&url, "estimates").await;
    check_estimated_counts(&store).await;
    drop_schemas(&url, &[schema]).await;
}

/// `$1`, `$2`, ... of a PostgreSQL statement replaced by their values as literals, so that
/// `EXPLAIN` plans it as the store runs it: with its values.
fn with_literals(sql: &manipsql::sql::Sql) -> String {
    use manipsql::sql::SqlValue;
    let mut text = sql.text.clone();
    for (i, value) in sql.params.iter().enumerate().rev() {
        let literal = match value {
            SqlValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
            SqlValue::Bool(b) => b.to_string(),
            SqlValue::Int(n) => n.to_string(),
            other => panic!("no literal for {other:?}"),
        };
        text = text.replace(&format!("${}::", i + 1), &format!("{literal}::"));
    }
    text
}

/// A recursive list's exact total on PostgreSQL is counted from the count index of the list
/// index `(type, protected)`: `(type, protected, namespace)`, which PostgreSQL keeps
/// deduplicated. Each of the count's three forms (the namespace tested exactly, as a range, or
/// not at all) walks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_counts_a_recursive_list_from_the_count_index() {
    use elemental::ModelIdentity;
    use elemental::filter::Filter;
    use gaia::model::ExternalNetwork;
    use manipulate::StoreContext;

    let Some(url) = postgres_url("postgres_counts_a_recursive_list_from_the_count_index") else {
        return;
    };
    let (store, schema) = open_in_fresh_schema(&url, "count_index").await;
    // 3,000 networks under /t/a and /t/b, and one in /t-b that the filter matches: a sibling
    // the count must leave out.
    let network = |i: usize, namespace: &str| ExternalNetwork {
        id: format!("{i:024x}"),
        namespace: namespace.into(),
        name: format!("network-{i}"),
        r#type: if i % 3 == 0 { "Subnet" } else { "ENI" }.into(),
        protected: i % 2 == 0,
        ..ExternalNetwork::default()
    };
    let namespace = |i: usize| match i {
        3_003 => "/t-b",
        _ if i % 2 == 0 => "/t/a",
        _ => "/t/b",
    };
    create_all(
        &store,
        (0..3_000)
            .chain([3_003])
            .map(|i| network(i, namespace(i)))
            .collect(),
    )
    .await;
    let filter = Filter::parse("type == Subnet and protected == false").expect("filter");
    let mut ctx = StoreContext::in_namespace("/t").with_filter(filter);
    ctx.recursive = true;
    let total = manipulate::Manipulator::count(&store, ExternalNetwork::IDENTITY, &ctx).await;

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    let table = manipsql::schema::Schema::from_manager(gaia::model::manager())
        .and_then(|schema| schema.table(ExternalNetwork::IDENTITY))
        .expect("table");
    let count = manipsql::statements::count(&table, &ctx, manipsql::sql::Dialect::Postgres);
    // Index scans only: the choice left to the planner is which index the count walks.
    // One statement each: VACUUM cannot run in the transaction of a batch.
    for statement in [
        format!("VACUUM ANALYZE \"{schema}\".externalnetworks"),
        format!("SET search_path = \"{schema}\""),
        "SET enable_seqscan = off".to_string(),
        "SET enable_bitmapscan = off".to_string(),
    ] {
        client.batch_execute(&statement).await.expect(&statement);
    }
    let plan = client
        .query(&format!("EXPLAIN {}", with_literals(&count)), &[])
        .await
        .expect("explain the count");
    let plan: Vec<String> = plan.iter().map(|row| row.get(0)).collect();
    drop_schemas(&url, &[schema]).await;

    // Of the 3,000 under /t: i % 6 == 3 is a Subnet not protected (as is 3,003, in /t-b).
    assert_eq!(total.expect("count"), 500);
    let walks = |index: &str| {
        plan.iter()
            .filter(|line| line.contains(&format!("Index Only Scan using {index} ")))
            .count()
    };
    assert_eq!(
        walks("externalnetworks_type_protected_namespace_idx"),
        3,
        "{plan:#?}"
    );
    assert_eq!(
        walks("externalnetworks_type_protected_seq_namespace_idx"),
        0,
        "{plan:#?}"
    );
}
