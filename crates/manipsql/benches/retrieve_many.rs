//! Retrieve-many with a filter and a page of 100 over 100k stored objects, on the in-memory
//! backend (the baseline), SQLite and PostgreSQL (when `APISERVER_TEST_POSTGRES_URL` is set).
//! Prints p50 / p99 latencies. `BENCH_OBJECTS` changes the number of objects.
//!
//! ```sh
//! APISERVER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p manipsql --bench retrieve_many
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use elemental::ModelIdentity;
use elemental::filter::Filter;
use gaia::model::ExternalNetwork;
use manipsql::{PostgresOptions, SqliteOptions, open_postgres, open_sqlite};
use manipulate::{Manipulator, MemoryManipulator, StoreContext};
use testkit::env::{TempDir, unique_name};

const NAMESPACES: usize = 10;
const LOADERS: usize = 8;
const RUNS: usize = 300;

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

fn query() -> StoreContext {
    let filter = Filter::parse("type == Subnet and protected == false")
        .unwrap_or_else(|e| panic!("filter: {e}"));
    let mut ctx = StoreContext::in_namespace("/bench").with_filter(filter);
    ctx.recursive = true;
    ctx.page = 3;
    ctx.page_size = 100;
    ctx
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(name: &str, store: Arc<dyn Manipulator>, objects: usize) -> Duration {
    let loaded = load(store.clone(), objects).await;
    let ctx = query();
    let mut latencies = Vec::with_capacity(RUNS);
    for run in 0..RUNS + 10 {
        let started = Instant::now();
        let page = store
            .retrieve_many(ExternalNetwork::IDENTITY, &ctx)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let elapsed = started.elapsed();
        assert_eq!(page.objects.len(), 100);
        if run >= 10 {
            latencies.push(elapsed);
        }
    }
    latencies.sort();
    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    println!(
        "{name:<10} objects {objects:>7}  load {:>7.1} s  retrieve-many p50 {:>8.3} ms  p99 {:>8.3} ms",
        loaded.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    p50
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
        println!("query: namespace /bench recursive, q = type == Subnet and protected == false, page 3 of 100");
        let baseline = measure("memory", Arc::new(MemoryManipulator::new()), objects).await;
        let dir = TempDir::new("manipsql_bench");
        let sqlite = open_sqlite(
            SqliteOptions::new(dir.path().join("bench.db")),
            gaia::model::manager(),
        )
        .await
        .unwrap_or_else(|e| panic!("SQLite: {e}"));
        let p50 = measure("sqlite", Arc::new(sqlite), objects).await;
        println!("sqlite p50 / memory p50 = {:.2}", p50.as_secs_f64() / baseline.as_secs_f64());
        match std::env::var("APISERVER_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => {
                let schema = unique_name("bench");
                let mut options = PostgresOptions::new(&url);
                options.schema = Some(schema.clone());
                let postgres = open_postgres(options, gaia::model::manager())
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
                let p50 = measure("postgres", Arc::new(postgres), objects).await;
                println!("postgres p50 / memory p50 = {:.2}", p50.as_secs_f64() / baseline.as_secs_f64());
                drop_schema(&url, &schema).await;
            }
            _ => println!("postgres: skipped (APISERVER_TEST_POSTGRES_URL not set)"),
        }
    });
}

async fn drop_schema(url: &str, schema: &str) {
    let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return;
    };
    tokio::spawn(connection);
    let _ = client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await;
}
