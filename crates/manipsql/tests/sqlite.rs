//! SQLite specifics: data survives reopening, additive migrations, refused kind changes.

use gaia::model::ExternalNetwork;
use manipsql::{SqlError, SqliteOptions, open_sqlite};
use manipulate::Context;
use testkit::env::TempDir;

fn network(id: &str, name: &str) -> ExternalNetwork {
    ExternalNetwork {
        id: id.into(),
        namespace: "/".into(),
        name: name.into(),
        description: "kept".into(),
        entries: vec!["10.0.0.0/8".into()],
        create_time: elemental::timefmt::parse_filter_date("2024-05-06T07:08:09.25+02:00"),
        ..ExternalNetwork::default()
    }
}

fn sql(path: &std::path::Path, statements: &str) {
    let conn = rusqlite::Connection::open(path).expect("open the file directly");
    conn.execute_batch(statements).expect("run statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopening_and_times_come_back_in_utc() {
    let dir = TempDir::new("manipsql_reopen");
    let file = dir.path().join("store.db");
    let ctx = Context::in_namespace("/");
    {
        let store = open_sqlite(SqliteOptions::new(&file), gaia::model::manager())
            .await
            .expect("open");
        manipulate::create(&store, &network("n1", "web"), &ctx)
            .await
            .expect("create");
    }
    let store = open_sqlite(SqliteOptions::new(&file), gaia::model::manager())
        .await
        .expect("reopen");
    let found: ExternalNetwork = manipulate::retrieve(&store, "n1", &ctx)
        .await
        .expect("read");
    assert_eq!(found.description, "kept");
    assert_eq!(found.entries, vec!["10.0.0.0/8".to_string()]);
    let document = serde_json::to_value(&found).expect("json");
    assert_eq!(document["createTime"], "2024-05-06T05:08:09.25Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_attributes_are_added_on_start() {
    let dir = TempDir::new("manipsql_migrate");
    let file = dir.path().join("store.db");
    drop(
        open_sqlite(SqliteOptions::new(&file), gaia::model::manager())
            .await
            .expect("open"),
    );
    // As if the database came from a model without `description`.
    sql(
        &file,
        "DROP INDEX externalnetworks_description_idx;
         ALTER TABLE externalnetworks DROP COLUMN description;
         DELETE FROM _apiserver_schema WHERE table_name = 'externalnetworks' AND column_name = 'description';",
    );
    let store = open_sqlite(SqliteOptions::new(&file), gaia::model::manager())
        .await
        .expect("reopen migrates");
    let ctx = Context::in_namespace("/");
    manipulate::create(&store, &network("n1", "web"), &ctx)
        .await
        .expect("create");
    let found: ExternalNetwork = manipulate::retrieve(&store, "n1", &ctx)
        .await
        .expect("read");
    assert_eq!(found.description, "kept");
    let conn = rusqlite::Connection::open(&file).expect("open");
    let recorded: String = conn
        .query_row(
            "SELECT column_kind FROM _apiserver_schema WHERE table_name = 'externalnetworks' AND column_name = 'description'",
            [],
            |row| row.get(0),
        )
        .expect("recorded");
    assert_eq!(recorded, "text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_column_kind_stops_the_start() {
    let dir = TempDir::new("manipsql_kind");
    let file = dir.path().join("store.db");
    drop(
        open_sqlite(SqliteOptions::new(&file), gaia::model::manager())
            .await
            .expect("open"),
    );
    sql(
        &file,
        "UPDATE _apiserver_schema SET column_kind = 'integer' WHERE table_name = 'externalnetworks' AND column_name = 'name';",
    );
    let refused = open_sqlite(SqliteOptions::new(&file), gaia::model::manager()).await;
    assert_eq!(
        refused.err(),
        Some(SqlError::Schema(
            "table externalnetworks: column 'name' is stored as integer but the model now says text; only additive changes are migrated automatically".into()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_path_is_a_clear_error() {
    let refused = open_sqlite(
        SqliteOptions::new("/nonexistent-folder/sub/store.db"),
        gaia::model::manager(),
    )
    .await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with("cannot open the store: /nonexistent-folder/sub/store.db: "),
        "{message}"
    );
}
