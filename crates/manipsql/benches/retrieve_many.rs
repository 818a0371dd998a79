//! Retrieve-many with a filter and a page of 100 over 100k stored objects, on the in-memory
//! backend (the baseline), SQLite and PostgreSQL (when `APISERVER_TEST_POSTGRES_URL` is set).
//! Prints p50 / p99 latencies of three queries (page 3 of 100 with the exact total, 100 objects
//! after a cursor nine tenths into the matching set, page 3 with `X-Count-Mode: estimated`) and
//! their ratios to the in-memory backend (which always counts exactly). `BENCH_OBJECTS` changes
//! the number of objects, `BENCH_RUNS` the timed runs of each query (300); `BENCH_SQLITE_FILE`
//! keeps the SQLite file, `BENCH_POSTGRES_KEEP=1` the PostgreSQL schema (its name is printed).
//!
//! ```sh
//! APISERVER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p manipsql --bench retrieve_many
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use elemental::filter::Filter;
use elemental::{CountMode, ModelIdentity};
use gaia::model::ExternalNetwork;
use manipsql::{PostgresOptions, SqliteOptions, open_postgres, open_sqlite};
use manipulate::{Manipulator, MemoryManipulator, StoreContext};
use testkit::env::{TempDir, unique_name};

const NAMESPACES: usize = 10;
const LOADERS: usize = 8;
/// Timed runs of each query (`BENCH_RUNS`, default 300).
fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

fn network(i: usize) -> ExternalNetwork {
    ExternalNetwork {
        id: format!("{i:024x}"),
        namespace: format!("/bench/ns{}", i % NAMESPACES),
        name: format!("network-{i}"),
        description: "a network of the benchmark".into(),
        r#type: if i % 2 == 0 { "Subnet" } else { "ENI" }.into(),
        protected: i % 3 == 0,
        entries: vec![format!("10.{}.{}.0/24", (i / 256) % 256, i % 256)],
        ..ExternalNetwork::default()
    }
}

async fn load(store: Arc<dyn Manipulator>, objects: usize) -> Duration {
    let started = Instant::now();
    let loaders: Vec<_> = (0..LOADERS)
        .map(|l| {
            let store = store.clone();
            tokio::spawn(async move {
                let ctx = StoreContext::default();
                for i in (l..objects).step_by(LOADERS) {
                    manipulate::create(store.as_ref(), network(i), &ctx)
                        .await
                        .unwrap_or_else(|e| panic!("load object {i}: {e}"));
                }
            })
        })
        .collect();
    for loader in loaders {
        loader.await.unwrap_or_else(|e| panic!("loader: {e}"));
    }
    started.elapsed()
}

/// The list request of the benchmark: namespace `/bench` recursive, a filter a third of the
/// objects match.
fn filtered() -> StoreContext {
    let filter = Filter::parse("type == Subnet and protected == false")
        .unwrap_or_else(|e| panic!("filter: {e}"));
    let mut ctx = StoreContext::in_namespace("/bench").with_filter(filter);
    ctx.recursive = true;
    ctx
}

/// Page 3 of 100, with the exact total (`X-Count-Total`).
fn page_3() -> StoreContext {
    let mut ctx = filtered();
    ctx.page = 3;
    ctx.page_size = 100;
    ctx
}

/// 100 objects after a cursor deep in the matching set (`after` + `limit`).
fn after_cursor(after: String) -> StoreContext {
    let mut ctx = filtered();
    ctx.after = Some(after);
    ctx.limit = 100;
    ctx
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// p50 and p99 of [`runs`] queries of `ctx` (after 10 warm-up runs), and the total the last
/// one answered.
async fn time_query(
    name: &str,
    store: &dyn Manipulator,
    ctx: &StoreContext,
) -> (Duration, Duration, u64) {
    let runs = runs();
    let mut latencies = Vec::with_capacity(runs);
    let mut total = 0;
    for run in 0..runs + 10 {
        let started = Instant::now();
        let page = store
            .retrieve_many(ExternalNetwork::IDENTITY, ctx)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let elapsed = started.elapsed();
        assert_eq!(page.objects.len(), 100);
        total = page.total;
        if run >= 10 {
            latencies.push(elapsed);
        }
    }
    latencies.sort();
    (
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        total,
    )
}

/// The p50 of each query, in the order of [`QUERIES`].
type P50s = Vec<Duration>;

/// The queries measured.
const QUERIES: [&str; 3] = [
    "page 3 of 100 + total",
    "100 after a cursor",
    "page 3 + estimated total",
];

/// Loads `objects` into `store` and prints how long it took.
async fn load_and_report(name: &str, store: Arc<dyn Manipulator>, objects: usize) {
    let loaded = load(store, objects).await;
    println!(
        "{name:<10} objects {objects:>7}  load {:>7.1} s",
        loaded.as_secs_f64()
    );
}

async fn measure(name: &str, store: Arc<dyn Manipulator>, objects: usize) -> P50s {
    load_and_report(name, store.clone(), objects).await;
    time_queries(name, store).await
}

/// The p50 of each query over the loaded store.
async fn time_queries(name: &str, store: Arc<dyn Manipulator>) -> P50s {
    // The cursor: the id of the object that opens the last tenth of the matching set.
    let everything = store
        .retrieve_many(ExternalNetwork::IDENTITY, &filtered())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let deep = everything.objects.len() * 9 / 10;
    let cursor = everything.objects[deep]
        .get("ID")
        .and_then(|id| id.as_str())
        .unwrap_or_default()
        .to_string();
    let mut p50s = Vec::new();
    let estimated = StoreContext {
        count_mode: CountMode::Estimated,
        ..page_3()
    };
    for (query, ctx) in QUERIES
        .iter()
        .zip([page_3(), after_cursor(cursor), estimated])
    {
        let (p50, p99, total) = time_query(name, store.as_ref(), &ctx).await;
        println!(
            "{name:<10} {query:<24} p50 {:>8.3} ms  p99 {:>8.3} ms  total {total}",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );
        p50s.push(p50);
    }
    p50s
}

/// Prints each query's p50 as a ratio to the baseline's.
fn ratios(name: &str, p50s: &P50s, baseline: &P50s) {
    for ((query, p50), base) in QUERIES.iter().zip(p50s).zip(baseline) {
        println!(
            "{name:<10} {query:<24} p50 / memory p50 = {:.3}",
            p50.as_secs_f64() / base.as_secs_f64()
        );
    }
}

fn main() {
    let objects: usize = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        println!("query: namespace /bench recursive, q = type == Subnet and protected == false");
        let baseline = measure("memory", Arc::new(MemoryManipulator::new()), objects).await;
        let dir = TempDir::new("manipsql_bench");
        // BENCH_SQLITE_FILE keeps the database, to look at its query plans afterwards.
        let file = std::env::var("BENCH_SQLITE_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| dir.path().join("bench.db"));
        let sqlite = open_sqlite(SqliteOptions::new(file), gaia::model::manager())
            .await
            .unwrap_or_else(|e| panic!("SQLite: {e}"));
        let p50s = measure("sqlite", Arc::new(sqlite), objects).await;
        ratios("sqlite", &p50s, &baseline);
        match std::env::var("APISERVER_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => {
                let schema = unique_name("bench");
                let mut options = PostgresOptions::new(&url);
                options.schema = Some(schema.clone());
                let postgres = open_postgres(options, gaia::model::manager())
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
                let postgres: Arc<dyn Manipulator> = Arc::new(postgres);
                load_and_report("postgres", postgres.clone(), objects).await;
                // What autovacuum does within a minute or so of such a load: the statistics
                // (without them the planner sorts every match for the page) and the visibility
                // map (without it a count reads every matching row, not only the index).
                let table = format!("\"{schema}\".\"externalnetworks\"");
                run_sql(&url, &format!("VACUUM (ANALYZE) {table}")).await;
                let p50s = time_queries("postgres", postgres).await;
                ratios("postgres", &p50s, &baseline);
                if std::env::var("BENCH_POSTGRES_KEEP").is_ok_and(|keep| keep == "1") {
                    println!("postgres: schema \"{schema}\" kept");
                } else {
                    run_sql(&url, &format!("DROP SCHEMA \"{schema}\" CASCADE")).await;
                }
            }
            _ => println!("postgres: skipped (APISERVER_TEST_POSTGRES_URL not set)"),
        }
    });
}

/// Runs one statement on PostgreSQL, panicking on failure.
async fn run_sql(url: &str, statement: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(statement)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}
