//! SQLite specifics: data survives reopening, additive migrations, refused kind changes, read
//! snapshots kept between reads and released.

use gaia::model::ExternalNetwork;
use manipsql::{SqlError, SqliteOptions, open_sqlite};
use manipulate::{Manipulator, StoreContext};
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
    let ctx = StoreContext::in_namespace("/");
    {
        let store = open_sqlite(SqliteOptions::new(&file), gaia::model::manager())
            .await
            .expect("open");
        manipulate::create(&store, network("n1", "web"), &ctx)
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
    let ctx = StoreContext::in_namespace("/");
    manipulate::create(&store, network("n1", "web"), &ctx)
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

/// `a == 1 and a == 1 or ...`: as deep as the parser accepts (each switch is one level).
fn deepest_alternation() -> String {
    let mut text = String::from("name == web");
    for i in 0..=elemental::filter::MAX_DEPTH - 2 {
        text.push_str(if i % 2 == 0 {
            " and name == web"
        } else {
            " or name == web"
        });
    }
    text
}

#[test]
fn the_sql_compiler_handles_the_deepest_filter_on_a_small_stack() {
    let schema = manipsql::schema::Schema::from_manager(gaia::model::manager()).expect("schema");
    let table = schema
        .table(<ExternalNetwork as elemental::ModelIdentity>::IDENTITY)
        .expect("table");
    let nested = format!(
        "entries in {}1{}",
        "[".repeat(elemental::filter::MAX_DEPTH - 1),
        "]".repeat(elemental::filter::MAX_DEPTH - 1)
    );
    for text in [deepest_alternation(), nested] {
        let filter = elemental::filter::Filter::parse(&text).expect("accepted");
        let table = table.clone();
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                for dialect in [
                    manipsql::sql::Dialect::Sqlite,
                    manipsql::sql::Dialect::Postgres,
                ] {
                    let mut sql = manipsql::sql::Sql::new(dialect);
                    manipsql::filter::compile(&filter, &table, &mut sql);
                    assert!(sql.text.contains("\"name\"") || sql.text.contains("\"entries\""));
                }
            })
            .expect("thread")
            .join()
            .expect("compiled without overflowing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_accepted_filters_run_on_sqlite() {
    use elemental::Identifiable as _;
    let dir = TempDir::new("manipsql_large_filters");
    let store = open_sqlite(
        SqliteOptions::new(dir.path().join("store.db")),
        gaia::model::manager(),
    )
    .await
    .expect("open");
    let ctx = StoreContext::in_namespace("/");
    manipulate::create(&store, network("n1", "web"), &ctx)
        .await
        .expect("create");
    let terms = vec!["name == web"; 1_000].join(" and ");
    // 9,998 other values: as many as the values limit allows beside the key and the wanted one.
    let others: Vec<String> = (1..9_998).map(|i| i.to_string()).collect();
    let values = format!("ID in [n1,{}]", others.join(","));
    let entries = format!("entries contains [\"10.0.0.0/8\",{}]", others.join(","));
    for text in [terms, values, entries, deepest_alternation()] {
        let filter = elemental::filter::Filter::parse(&text).expect("accepted");
        let found: Vec<ExternalNetwork> =
            manipulate::retrieve_many(&store, &ctx.clone().with_filter(filter))
                .await
                .unwrap_or_else(|e| panic!("{e}: {}", &text[..60]))
                .objects;
        assert_eq!(
            found.iter().map(|n| n.id()).collect::<Vec<_>>(),
            vec!["n1"],
            "{}",
            &text[..60]
        );
    }
}

/// Group commit: many concurrent creates share transactions; a duplicate id fails alone with a
/// conflict, every other create is stored and readable once answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_commit_in_groups_and_a_duplicate_fails_alone() {
    let dir = TempDir::new("manipsql_group_commit");
    let store = std::sync::Arc::new(
        open_sqlite(
            SqliteOptions::new(dir.path().join("store.db")),
            gaia::model::manager(),
        )
        .await
        .expect("open"),
    );
    let creates: Vec<_> = (0..300)
        .map(|i| {
            let store = store.clone();
            // Every fifth create reuses the id of the one before it.
            let id = format!("n{}", if i % 5 == 4 { i - 1 } else { i });
            tokio::spawn(async move {
                let ctx = StoreContext::in_namespace("/");
                let created =
                    manipulate::create(store.as_ref(), network(&id, &format!("net-{i}")), &ctx)
                        .await;
                let read = match &created {
                    Ok(_) => manipulate::retrieve::<ExternalNetwork>(store.as_ref(), &id, &ctx)
                        .await
                        .map(|found| found.id),
                    Err(e) => Err(e.clone()),
                };
                (id, created.map(|_| ()), read)
            })
        })
        .collect();
    let mut stored = 0;
    for create in creates {
        let (id, created, read) = create.await.expect("task");
        match created {
            Ok(()) => {
                assert_eq!(read, Ok(id));
                stored += 1;
            }
            Err(e) => assert_eq!(
                e,
                manipulate::ManipulateError::ConstraintViolation(format!(
                    "an object with ID '{id}' already exists"
                ))
            ),
        }
    }
    assert_eq!(stored, 240);
    let all = store
        .count(
            <ExternalNetwork as elemental::ModelIdentity>::IDENTITY,
            &StoreContext::in_namespace("/"),
        )
        .await
        .expect("count");
    assert_eq!(all, 240);
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` from another connection that does not wait: whether a
/// reader kept it from emptying the WAL.
fn checkpoint_blocked(path: &std::path::Path) -> bool {
    let conn = rusqlite::Connection::open(path).expect("open the file directly");
    conn.busy_timeout(std::time::Duration::ZERO)
        .expect("no wait");
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        .expect("checkpoint");
    busy == 1
}

fn description(path: &std::path::Path, id: &str, text: &str) {
    sql(
        path,
        &format!("UPDATE externalnetworks SET description = '{text}' WHERE \"ID\" = '{id}'"),
    );
}

/// A store in a new file whose readers keep their snapshots for `reuse`, holding network `n1`
/// (description "kept") in `/`.
async fn store_with_n1(
    name: &str,
    reuse: std::time::Duration,
) -> (TempDir, std::path::PathBuf, manipsql::SqlManipulator) {
    let dir = TempDir::new(name);
    let file = dir.path().join("store.db");
    let mut options = SqliteOptions::new(&file);
    options.snapshot_reuse = reuse;
    let store = open_sqlite(options, gaia::model::manager())
        .await
        .expect("open");
    manipulate::create(
        &store,
        network("n1", "web"),
        &StoreContext::in_namespace("/"),
    )
    .await
    .expect("create");
    (dir, file, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_snapshot_is_reused_until_a_write_and_renewed_after_its_reuse_time() {
    let reuse = std::time::Duration::from_secs(1);
    let (_dir, file, store) = store_with_n1("manipsql_snapshot_reuse", reuse).await;
    let ctx = StoreContext::in_namespace("/");
    let read = |id: &'static str| {
        let (store, ctx) = (&store, &ctx);
        async move {
            let found: ExternalNetwork = manipulate::retrieve(store, id, ctx).await.expect("read");
            found.description
        }
    };
    // Snapshots are begun once the writer has been quiet for the reuse time.
    tokio::time::sleep(reuse + std::time::Duration::from_millis(500)).await;
    assert_eq!(read("n1").await, "kept");
    // Another process's change: unseen while the snapshot is reused...
    description(&file, "n1", "changed elsewhere");
    assert_eq!(read("n1").await, "kept");
    // ...seen after this process's own write (which ends the snapshot; while the writer is
    // busy, reads keep none)...
    manipulate::create(&store, network("n2", "db"), &ctx)
        .await
        .expect("create");
    assert_eq!(read("n1").await, "changed elsewhere");
    // ...or once the reuse time has passed.
    description(&file, "n1", "changed again");
    tokio::time::sleep(reuse + std::time::Duration::from_millis(500)).await;
    assert_eq!(read("n1").await, "changed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_readers_release_their_snapshots_so_the_wal_can_be_emptied() {
    // Long enough that the snapshot is still kept when the checkpoint is tried, on a busy
    // machine too.
    let reuse = std::time::Duration::from_secs(1);
    let (_dir, file, store) = store_with_n1("manipsql_snapshot_release", reuse).await;
    tokio::time::sleep(reuse + std::time::Duration::from_millis(200)).await;
    let _: ExternalNetwork = manipulate::retrieve(&store, "n1", &StoreContext::in_namespace("/"))
        .await
        .expect("read");
    assert!(checkpoint_blocked(&file), "the reader keeps its snapshot");
    // Past its reuse time, the sweep (every reuse period) ends it.
    tokio::time::sleep(2 * reuse + std::time::Duration::from_millis(500)).await;
    assert!(!checkpoint_blocked(&file), "the idle reader let it go");
}
