//! The PostgreSQL backend: `tokio-postgres` with a `deadpool` pool, the statements of one-row
//! reads and of writes prepared once per connection. Several apiservers can share one
//! database: migrations take an advisory lock.

use std::sync::Arc;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use manipulate::{BoxFuture, ManipulateError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

use crate::SqlError;
use crate::codec::{Cell, to_row};
use crate::manipulator::{Executor, SqlManipulator};
use crate::migrate;
use crate::schema::{ColumnKind, Schema, TableSchema};
use crate::sql::{Dialect, Sql, SqlValue, quote};
use crate::statements::Reach;

/// Options of the PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The connection URL (`postgres://user@host:5432/db`).
    pub url: String,
    /// A schema to keep the tables in (created if missing); default: the server's search path.
    pub schema: Option<String>,
    /// The size of the connection pool. Default 16.
    pub pool_size: usize,
}

impl PostgresOptions {
    /// The defaults for `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            schema: None,
            pool_size: 16,
        }
    }
}

/// Any advisory lock id; the same in every apiserver so that migrations run one at a time.
const MIGRATION_LOCK: i64 = 0x6170_6973_6572_7665;

/// The PostgreSQL error as a manipulate error.
fn storage_error(e: tokio_postgres::Error) -> ManipulateError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let message = db.message().to_string();
        return if code.code().starts_with("23") {
            ManipulateError::ConstraintViolation(message)
        } else if code.code().starts_with("22") {
            // Data exceptions: a filter value PostgreSQL cannot use (such as a regular
            // expression it does not support).
            ManipulateError::InvalidQuery(message)
        } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            ManipulateError::Locked(message)
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            ManipulateError::TooManyRequests
        } else if code.code().starts_with("08") || code.code().starts_with("57P") {
            ManipulateError::CannotCommunicate(message)
        } else {
            ManipulateError::Internal(message)
        };
    }
    ManipulateError::CannotCommunicate(e.to_string())
}

fn pool_error(e: deadpool_postgres::PoolError) -> ManipulateError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => storage_error(e),
        other => ManipulateError::CannotCommunicate(other.to_string()),
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

fn param(value: SqlValue) -> Param {
    match value {
        SqlValue::Text(s) | SqlValue::Json(s) => Box::new(s),
        SqlValue::Int(i) => Box::new(i),
        SqlValue::Float(f) => Box::new(f),
        SqlValue::Bool(b) => Box::new(b),
        SqlValue::Null(ColumnKind::Integer) => Box::new(None::<i64>),
        SqlValue::Null(ColumnKind::Float) => Box::new(None::<f64>),
        SqlValue::Null(ColumnKind::Boolean) => Box::new(None::<bool>),
        SqlValue::Null(_) => Box::new(None::<String>),
    }
}

/// The parameters of a statement, as the driver takes them.
fn bind(params: Vec<SqlValue>) -> Vec<Param> {
    params.into_iter().map(param).collect()
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The statement of `sql`, prepared once per connection, and its parameters.
async fn prepared<C: GenericClient>(
    client: &C,
    sql: Sql,
) -> Result<(tokio_postgres::Statement, Vec<Param>), ManipulateError> {
    let statement = client
        .prepare_cached(&sql.text)
        .await
        .map_err(storage_error)?;
    Ok((statement, bind(sql.params)))
}

/// Runs a statement prepared once per connection (one-row reads, writes, migrations).
async fn run<C: GenericClient>(client: &C, sql: Sql) -> Result<Vec<Row>, ManipulateError> {
    let (statement, params) = prepared(client, sql).await?;
    client
        .query(&statement, &refs(&params))
        .await
        .map_err(storage_error)
}

/// The type of a parameter as PostgreSQL receives it: the type its placeholder is cast to
/// ([`Sql::param`]: `$n::text`, `::int8`, `::float8`, `::bool`; JSON goes as text, then
/// `::jsonb`).
fn param_type(value: &SqlValue) -> Type {
    match value {
        SqlValue::Int(_) | SqlValue::Null(ColumnKind::Integer) => Type::INT8,
        SqlValue::Float(_) | SqlValue::Null(ColumnKind::Float) => Type::FLOAT8,
        SqlValue::Bool(_) | SqlValue::Null(ColumnKind::Boolean) => Type::BOOL,
        SqlValue::Text(_) | SqlValue::Json(_) | SqlValue::Null(_) => Type::TEXT,
    }
}

/// Runs a statement that may read many rows (a list's page, a count) as an unnamed statement
/// with typed parameters, in one round trip, so that PostgreSQL plans it with this run's
/// values. A statement kept per connection is planned with its values for its first five runs
/// only; PostgreSQL may then switch to a generic plan that ignores them, and a generic plan of
/// a list or a count can be several times slower (a bitmap scan of the namespace index that
/// reads every matching row, where the values allow a count of the list index alone).
/// Planning again costs a fraction of a millisecond; such a query costs milliseconds.
async fn run_planned(
    client: &tokio_postgres::Client,
    sql: Sql,
) -> Result<Vec<Row>, ManipulateError> {
    let types: Vec<Type> = sql.params.iter().map(param_type).collect();
    let params = bind(sql.params);
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = refs(&params).into_iter().zip(types).collect();
    client
        .query_typed(&sql.text, &typed)
        .await
        .map_err(storage_error)
}

/// Runs a read on a pooled connection: a kept statement for one row, planned for this run for
/// many ([`run_planned`]).
async fn read(
    client: &deadpool_postgres::Client,
    sql: Sql,
    reach: Reach,
) -> Result<Vec<Row>, ManipulateError> {
    match reach {
        Reach::OneRow => run(client, sql).await,
        Reach::Rows => run_planned(client, sql).await,
    }
}

/// Runs a statement that writes; how many rows it changed.
async fn execute<C: GenericClient>(client: &C, sql: Sql) -> Result<u64, ManipulateError> {
    let (statement, params) = prepared(client, sql).await?;
    client
        .execute(&statement, &refs(&params))
        .await
        .map_err(storage_error)
}

fn cells(row: &Row, table: &TableSchema) -> Result<Vec<Cell>, ManipulateError> {
    let mut cells = Vec::with_capacity(table.columns.len());
    for (i, column) in table.columns.iter().enumerate() {
        let cell = match column.kind {
            ColumnKind::Integer => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Cell::Int)),
            ColumnKind::Float => row.try_get::<_, Option<f64>>(i).map(|v| v.map(Cell::Float)),
            ColumnKind::Boolean => row.try_get::<_, Option<bool>>(i).map(|v| v.map(Cell::Bool)),
            _ => row
                .try_get::<_, Option<String>>(i)
                .map(|v| v.map(Cell::Text)),
        }
        .map_err(storage_error)?;
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(cells)
}

struct PostgresExecutor {
    pool: Pool,
}

impl PostgresExecutor {
    /// Runs the statements (in one transaction when there are several) and returns the rows
    /// of `table` the last one returns; `reach` is the last one's.
    async fn query_rows(
        &self,
        mut statements: Vec<Sql>,
        table: Arc<TableSchema>,
        reach: Reach,
    ) -> Result<Vec<manipulate::Row>, ManipulateError> {
        let Some(last) = statements.pop() else {
            return Ok(Vec::new());
        };
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let rows = if statements.is_empty() {
            read(&client, last, reach).await?
        } else {
            let tx = client.transaction().await.map_err(storage_error)?;
            for sql in statements {
                run(&tx, sql).await?;
            }
            let rows = run(&tx, last).await?;
            tx.commit().await.map_err(storage_error)?;
            rows
        };
        rows.iter()
            .map(|row| to_row(&table, cells(row, &table)?))
            .collect()
    }
}

impl Executor for PostgresExecutor {
    fn rows(
        &self,
        select: Sql,
        table: Arc<TableSchema>,
        reach: Reach,
    ) -> BoxFuture<'_, Result<Vec<manipulate::Row>, ManipulateError>> {
        Box::pin(self.query_rows(vec![select], table, reach))
    }

    fn written_rows(
        &self,
        statements: Vec<Sql>,
        table: Arc<TableSchema>,
    ) -> BoxFuture<'_, Result<Vec<manipulate::Row>, ManipulateError>> {
        Box::pin(self.query_rows(statements, table, Reach::OneRow))
    }

    fn count(&self, sql: Sql, reach: Reach) -> BoxFuture<'_, Result<u64, ManipulateError>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(pool_error)?;
            let rows = read(&client, sql, reach).await?;
            let n: i64 = rows
                .first()
                .ok_or_else(|| ManipulateError::Internal("a count returned no row".into()))?
                .try_get(0)
                .map_err(storage_error)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    fn text(&self, sql: Sql) -> BoxFuture<'_, Result<Option<String>, ManipulateError>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(pool_error)?;
            let rows = run(&client, sql).await?;
            rows.first()
                .map(|row| row.try_get::<_, String>(0))
                .transpose()
                .map_err(storage_error)
        })
    }

    fn changes(&self, mut statements: Vec<Sql>) -> BoxFuture<'_, Result<u64, ManipulateError>> {
        Box::pin(async move {
            let Some(last) = statements.pop() else {
                return Ok(0);
            };
            let mut client = self.pool.get().await.map_err(pool_error)?;
            if statements.is_empty() {
                return execute(&client, last).await;
            }
            let tx = client.transaction().await.map_err(storage_error)?;
            for sql in statements {
                execute(&tx, sql).await?;
            }
            let changed = execute(&tx, last).await?;
            tx.commit().await.map_err(storage_error)?;
            Ok(changed)
        })
    }
}

async fn migrate(pool: &Pool, schema: &Schema, db_schema: Option<&str>) -> Result<(), SqlError> {
    let failed = |e: tokio_postgres::Error| SqlError::Migration(storage_error(e).to_string());
    let mut client = pool
        .get()
        .await
        .map_err(|e| SqlError::Open(e.to_string()))?;
    let tx = client.transaction().await.map_err(failed)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed)?;
    if let Some(name) = db_schema {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", quote(name)))
            .await
            .map_err(failed)?;
    }
    for ddl in migrate::bookkeeping_tables() {
        tx.batch_execute(&ddl).await.map_err(failed)?;
    }
    let mut recorded = migrate::Recorded::new();
    for row in tx
        .query(&migrate::recorded_columns(), &[])
        .await
        .map_err(failed)?
    {
        recorded.insert(
            (
                row.try_get(0).map_err(failed)?,
                row.try_get(1).map_err(failed)?,
            ),
            row.try_get(2).map_err(failed)?,
        );
    }
    for sql in migrate::plan(schema, Dialect::Postgres, &recorded)? {
        run(&tx, sql)
            .await
            .map_err(|e| SqlError::Migration(e.to_string()))?;
    }
    tx.commit().await.map_err(failed)
}

fn is_plain(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A pool of at most `size` connections (at least one) made with `config`.
fn pool(
    config: tokio_postgres::Config,
    size: usize,
) -> Result<Pool, deadpool_postgres::BuildError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager).max_size(size.max(1)).build()
}

/// Connects to PostgreSQL for the identities of `manager`, and brings the tables up to date.
pub async fn open_postgres(
    options: PostgresOptions,
    manager: &dyn elemental::ModelManager,
) -> Result<SqlManipulator, SqlError> {
    let schema = Schema::from_manager(manager)?;
    let mut config: tokio_postgres::Config = options
        .url
        .parse()
        .map_err(|e| SqlError::Open(format!("invalid PostgreSQL URL: {e}")))?;
    if let Some(name) = &options.schema {
        if !is_plain(name) {
            return Err(SqlError::Open(format!(
                "schema '{name}': letters, digits and '_' only"
            )));
        }
        config.options(format!("-c search_path={name}"));
    }
    let pool = pool(config, options.pool_size).map_err(|e| SqlError::Open(e.to_string()))?;
    migrate(&pool, &schema, options.schema.as_deref()).await?;
    tracing::info!(
        schema = options.schema.as_deref().unwrap_or("(search path)"),
        "PostgreSQL store ready"
    );
    Ok(SqlManipulator::new(
        schema,
        Dialect::Postgres,
        Arc::new(PostgresExecutor { pool }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executor on one connection, so that a test sees the statements it keeps.
    fn one_connection(url: &str) -> PostgresExecutor {
        let config: tokio_postgres::Config = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        let pool = pool(config, 1).unwrap_or_else(|e| panic!("pool: {e}"));
        PostgresExecutor { pool }
    }

    fn count_of_classes() -> Sql {
        let mut sql = Sql::new(Dialect::Postgres);
        sql.push("SELECT COUNT(*) FROM pg_class WHERE relname <> ")
            .push_param(SqlValue::Text("no such class".into()));
        sql
    }

    /// How many statements the connection keeps with the text of `sql`, and how many generic
    /// plans they were run with.
    async fn kept(executor: &PostgresExecutor, sql: &Sql) -> (i64, i64) {
        let client = executor.pool.get().await.unwrap_or_else(|e| panic!("{e}"));
        let row = client
            .query_one(
                "SELECT COUNT(*), COALESCE(SUM(generic_plans), 0)::bigint \
                 FROM pg_prepared_statements WHERE statement = $1",
                &[&sql.text],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (row.get(0), row.get(1))
    }

    #[test]
    fn each_parameter_is_sent_with_the_type_its_placeholder_is_cast_to() {
        let kinds = [
            ColumnKind::Text,
            ColumnKind::Integer,
            ColumnKind::Float,
            ColumnKind::Boolean,
            ColumnKind::Time,
            ColumnKind::List,
            ColumnKind::Json,
        ];
        let values = [
            SqlValue::Text("a".into()),
            SqlValue::Json("[]".into()),
            SqlValue::Int(1),
            SqlValue::Float(1.5),
            SqlValue::Bool(true),
        ]
        .into_iter()
        .chain(kinds.into_iter().map(SqlValue::Null));
        for value in values {
            let placeholder = format!("$1::{}", param_type(&value).name());
            let mut sql = Sql::new(Dialect::Postgres);
            sql.push_param(value);
            assert!(
                sql.text.starts_with(&placeholder),
                "{} for {placeholder}",
                sql.text
            );
        }
    }

    #[tokio::test]
    async fn a_query_of_many_rows_is_planned_with_its_values_at_each_run() {
        let Some(url) = testkit::env::postgres_url(
            "a_query_of_many_rows_is_planned_with_its_values_at_each_run",
        ) else {
            return;
        };
        let executor = one_connection(&url);
        // PostgreSQL may switch a kept statement to a generic plan from its sixth run on.
        for _ in 0..7 {
            let counted = executor.count(count_of_classes(), Reach::Rows).await;
            assert!(counted.is_ok_and(|n| n > 0));
        }
        assert_eq!(kept(&executor, &count_of_classes()).await, (0, 0));
        // A one-row read keeps its statement: one parse for the connection's life.
        for _ in 0..2 {
            let counted = executor.count(count_of_classes(), Reach::OneRow).await;
            assert!(counted.is_ok_and(|n| n > 0));
        }
        assert_eq!(kept(&executor, &count_of_classes()).await.0, 1);
    }
}
