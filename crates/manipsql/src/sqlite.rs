//! The embedded backend: one SQLite file in WAL mode, with foreign keys on and a busy timeout.
//! Reads run on a small pool of read-only connections, each keeping its snapshot from one read
//! to the next while the writer is quiet (see [`snapshot`]); writes go to one writer
//! connection that commits them in groups (see [`writer`]).

mod snapshot;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use manipulate::{BoxFuture, ManipulateError, Row};
use regex::{Regex, RegexBuilder};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, Params, TransactionBehavior, params_from_iter};
use tokio::sync::Semaphore;

use crate::SqlError;
use crate::codec::{Cell, to_row};
use crate::manipulator::{Executor, SqlManipulator};
use crate::migrate;
use crate::schema::{Schema, TableSchema};
use crate::sql::{Dialect, Sql, SqlValue};
use crate::statements::Reach;
use snapshot::{Commits, Reader, Reuse};
use writer::{Returns, Writer, Written};

/// Options of the SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file (created when missing).
    pub path: PathBuf,
    /// How long a statement waits for a lock held by another connection or process. Default 5 s.
    pub busy_timeout: Duration,
    /// At most this many reads run at once, each on its own connection. Default 4. Writes
    /// run on one more connection, one transaction at a time, concurrent writes grouped into
    /// one transaction.
    pub connections: usize,
    /// `synchronous=FULL` (every commit survives a power loss) instead of the default
    /// `synchronous=NORMAL` (every commit survives a crash of the process; the last ones may be
    /// lost on a power loss).
    pub synchronous_full: bool,
    /// How much of the database file each connection reads through a memory map
    /// (`PRAGMA mmap_size`), in bytes. Default 0, no map: each commit makes every reader drop
    /// its view of the file, and a reader with a map then unmaps it (which stops the other
    /// cores to flush their address translations) and faults its pages in again, where a
    /// reader without one reads a few pages with `pread`. A map pays when reads far outnumber
    /// writes and touch more pages than the connection's cache holds. With a map, an I/O
    /// error on a mapped page stops the process (SIGBUS) instead of failing the query.
    pub mmap_size: u64,
    /// How long a read connection may keep its read transaction (its snapshot of the
    /// database) open from one read to the next. Default 100 ms; zero gives every read a
    /// transaction of its own. Beginning a transaction takes a lock on the WAL index that
    /// concurrent readers contend for; a kept snapshot spares reads that lock. Snapshots are
    /// kept only once the writer has committed nothing for this long, and a commit of this
    /// process ends them, so a read sees every write acknowledged before it, and the writer
    /// can start the WAL over while it writes. A change made by another process (the
    /// `sqlite3` shell, say) may stay unseen for this long.
    pub snapshot_reuse: Duration,
}

impl SqliteOptions {
    /// The defaults for the file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            busy_timeout: Duration::from_secs(5),
            connections: 4,
            synchronous_full: false,
            mmap_size: 0,
            snapshot_reuse: Duration::from_millis(100),
        }
    }
}

/// Largest compiled size of one `matches` expression (as the matcher).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The read connections: opened when first needed, kept once opened.
struct Pool {
    options: SqliteOptions,
    idle: Mutex<Vec<Reader>>,
    permits: Semaphore,
    /// The writer's transactions, which make the readers' snapshots stale.
    commits: Arc<Commits>,
}

fn open_connection(options: &SqliteOptions) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(&options.path)?;
    conn.busy_timeout(options.busy_timeout)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    let synchronous = if options.synchronous_full {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let mmap_size = i64::try_from(options.mmap_size).unwrap_or(i64::MAX);
    let _mapped: i64 =
        conn.pragma_update_and_check(None, "mmap_size", mmap_size, |row| row.get(0))?;
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let regex: Arc<Regex> = ctx.get_or_create_aux(0, |pattern| match pattern {
                ValueRef::Text(bytes) => RegexBuilder::new(&String::from_utf8_lossy(bytes))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| e.to_string()),
                _ => Err("the pattern of regexp() must be text".to_string()),
            })?;
            Ok(match ctx.get_raw(1) {
                ValueRef::Text(bytes) => regex.is_match(&String::from_utf8_lossy(bytes)),
                _ => false,
            })
        },
    )?;
    Ok(conn)
}

/// The writer's own settings: each write of a group runs in a savepoint, whose copies of the
/// pages it changes (the sub-journal) stay in memory instead of a temporary file. They last
/// until the savepoint ends: a few pages per write.
fn writer_settings(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "temp_store", "MEMORY")
}

/// A connection that can only read (a write through it is an error).
fn open_reader(options: &SqliteOptions) -> Result<Connection, rusqlite::Error> {
    let conn = open_connection(options)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

impl Pool {
    /// Runs `work`, a read of `reach`, where it belongs: one row on the calling thread, more on
    /// a blocking thread.
    async fn read<T, F>(self: &Arc<Self>, reach: Reach, work: F) -> Result<T, ManipulateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        match reach {
            Reach::OneRow => self.run_here(work).await,
            Reach::Rows => self.run(work).await,
        }
    }

    /// Runs `work` on a read connection, on a blocking thread: for reads whose time depends on
    /// the data (lists, counts), which must not hold up the tasks of an async worker.
    async fn run<T, F>(self: &Arc<Self>, work: F) -> Result<T, ManipulateError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let _permit = self.permit().await?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.with_connection(work))
            .await
            .map_err(|e| ManipulateError::Internal(format!("a storage task failed: {e}")))?
    }

    /// Runs `work` on a read connection on the calling thread: for reads of one row through a
    /// unique index, which take microseconds, less than handing them to a blocking thread and
    /// back would.
    async fn run_here<T, F>(&self, work: F) -> Result<T, ManipulateError>
    where
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    {
        let _permit = self.permit().await?;
        self.with_connection(work)
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ManipulateError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| ManipulateError::CannotCommunicate("the SQLite pool is closed".into()))
    }

    /// Runs `work` on an idle connection (opened if there is none) and keeps the connection.
    fn with_connection<T, F>(&self, work: F) -> Result<T, ManipulateError>
    where
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let mut reader = match idle {
            Some(reader) => reader,
            None => Reader::new(open_reader(&self.options).map_err(storage_error)?),
        };
        let result = reader
            .read(&self.commits, self.reuse(), work)
            .map_err(storage_error);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reader);
        }
        result
    }

    /// Snapshots are kept for `snapshot_reuse`, and begun once the writer has been quiet as
    /// long.
    fn reuse(&self) -> Reuse {
        Reuse {
            longest: self.options.snapshot_reuse,
            quiet: self.options.snapshot_reuse,
        }
    }

    /// Ends the idle readers' snapshots that are stale: a snapshot kept open behind later
    /// commits stops the writer's checkpoints from emptying the WAL.
    fn release_stale_snapshots(&self) {
        let commits = self.commits.count();
        if let Ok(mut idle) = self.idle.lock() {
            for reader in idle.iter_mut() {
                reader.release_if_stale(commits, self.options.snapshot_reuse);
            }
        }
    }
}

/// The longest time between two sweeps of idle snapshots, whatever `snapshot_reuse` says.
const LONGEST_SWEEP: Duration = Duration::from_secs(3600);

/// Every `snapshot_reuse` (an hour at most), ends the idle readers' stale snapshots, until the
/// pool is dropped.
fn sweep_snapshots(pool: &Arc<Pool>) {
    let period = pool.options.snapshot_reuse.min(LONGEST_SWEEP);
    if period.is_zero() {
        return;
    }
    let pool = Arc::downgrade(pool);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(pool) = pool.upgrade() else {
                return;
            };
            pool.release_stale_snapshots();
        }
    });
}

/// The SQLite error as a manipulate error.
fn storage_error(e: rusqlite::Error) -> ManipulateError {
    match &e {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::ConstraintViolation => ManipulateError::ConstraintViolation(e.to_string()),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                ManipulateError::Locked(e.to_string())
            }
            ErrorCode::CannotOpen
            | ErrorCode::NotADatabase
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure => ManipulateError::CannotCommunicate(e.to_string()),
            _ => ManipulateError::Internal(e.to_string()),
        },
        _ => ManipulateError::Internal(e.to_string()),
    }
}

/// A parameter as SQLite binds it, borrowed from the statement.
fn sqlite_value(value: &SqlValue) -> ValueRef<'_> {
    match value {
        SqlValue::Text(s) | SqlValue::Json(s) => ValueRef::Text(s.as_bytes()),
        SqlValue::Int(i) => ValueRef::Integer(*i),
        SqlValue::Float(f) => ValueRef::Real(*f),
        SqlValue::Bool(b) => ValueRef::Integer(i64::from(*b)),
        SqlValue::Null(_) => ValueRef::Null,
    }
}

/// The parameters of a statement, bound without a copy.
fn parameters(sql: &Sql) -> impl Params + '_ {
    params_from_iter(
        sql.params
            .iter()
            .map(|value| ToSqlOutput::Borrowed(sqlite_value(value))),
    )
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Float(f),
        // Validated by `from_utf8` (faster than the lossy conversion on valid text, which is
        // what the store writes); only invalid bytes take the lossy path.
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Cell::Text(
            String::from_utf8(bytes.to_vec())
                .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned()),
        ),
    }
}

/// Rows of a statement, as cells.
fn rows(conn: &Connection, sql: &Sql, width: usize) -> Result<Vec<Vec<Cell>>, rusqlite::Error> {
    let mut statement = conn.prepare_cached(&sql.text)?;
    let mut rows = statement.query(parameters(sql))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(cell(row.get_ref(i)?));
        }
        out.push(cells);
    }
    Ok(out)
}

fn execute(conn: &Connection, sql: &Sql) -> Result<usize, rusqlite::Error> {
    conn.prepare_cached(&sql.text)?.execute(parameters(sql))
}

struct SqliteExecutor {
    readers: Arc<Pool>,
    writer: Writer,
}

impl Executor for SqliteExecutor {
    fn rows(
        &self,
        select: Sql,
        table: Arc<TableSchema>,
        reach: Reach,
    ) -> BoxFuture<'_, Result<Vec<Row>, ManipulateError>> {
        Box::pin(async move {
            let width = table.columns.len();
            let cells = self
                .readers
                .read(reach, move |conn| rows(conn, &select, width))
                .await?;
            to_rows(&table, cells)
        })
    }

    fn written_rows(
        &self,
        statements: Vec<Sql>,
        table: Arc<TableSchema>,
    ) -> BoxFuture<'_, Result<Vec<Row>, ManipulateError>> {
        Box::pin(async move {
            let width = table.columns.len();
            match self.writer.write(statements, Returns::Rows(width)).await? {
                Written::Rows(cells) => to_rows(&table, cells),
                Written::Changes(_) => Ok(Vec::new()),
            }
        })
    }

    fn count(&self, sql: Sql, reach: Reach) -> BoxFuture<'_, Result<u64, ManipulateError>> {
        Box::pin(async move {
            let found = self
                .readers
                .read(reach, move |conn| rows(conn, &sql, 1))
                .await?;
            match found.first().and_then(|row| row.first()) {
                Some(Cell::Int(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
                _ => Err(ManipulateError::Internal(
                    "a count returned no number".into(),
                )),
            }
        })
    }

    fn text(&self, sql: Sql) -> BoxFuture<'_, Result<Option<String>, ManipulateError>> {
        Box::pin(async move {
            let found = self
                .readers
                .run_here(move |conn| rows(conn, &sql, 1))
                .await?;
            Ok(
                match found
                    .into_iter()
                    .next()
                    .and_then(|row| row.into_iter().next())
                {
                    Some(Cell::Text(s)) => Some(s),
                    _ => None,
                },
            )
        })
    }

    fn changes(&self, statements: Vec<Sql>) -> BoxFuture<'_, Result<u64, ManipulateError>> {
        Box::pin(async move {
            match self.writer.write(statements, Returns::Changes).await? {
                Written::Changes(n) => Ok(n as u64),
                Written::Rows(rows) => Ok(rows.len() as u64),
            }
        })
    }
}

/// The rows of `table`, from their cells.
fn to_rows(table: &TableSchema, cells: Vec<Vec<Cell>>) -> Result<Vec<Row>, ManipulateError> {
    cells.into_iter().map(|row| to_row(table, row)).collect()
}

fn migrate(conn: &mut Connection, schema: &Schema) -> Result<(), SqlError> {
    let failed = |e: rusqlite::Error| SqlError::Migration(e.to_string());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    for ddl in migrate::bookkeeping_tables() {
        tx.execute(&ddl, []).map_err(failed)?;
    }
    let mut recorded = migrate::Recorded::new();
    {
        let mut statement = tx.prepare(&migrate::recorded_columns()).map_err(failed)?;
        let mut found = statement.query([]).map_err(failed)?;
        while let Some(row) = found.next().map_err(failed)? {
            recorded.insert(
                (row.get(0).map_err(failed)?, row.get(1).map_err(failed)?),
                row.get(2).map_err(failed)?,
            );
        }
    }
    for sql in migrate::plan(schema, Dialect::Sqlite, &recorded)? {
        execute(&tx, &sql).map_err(failed)?;
    }
    tx.commit().map_err(failed)
}

/// Opens (creating if needed) the SQLite database of `options` for the identities of
/// `manager`, and brings its tables up to date.
pub async fn open_sqlite(
    options: SqliteOptions,
    manager: &dyn elemental::ModelManager,
) -> Result<SqlManipulator, SqlError> {
    let schema = Schema::from_manager(manager)?;
    let path = options.path.display().to_string();
    let migrating = schema.clone();
    let opened = options.clone();
    let conn = tokio::task::spawn_blocking(move || {
        let mut conn = open_connection(&opened)
            .map_err(|e| SqlError::Open(format!("{}: {e}", opened.path.display())))?;
        migrate(&mut conn, &migrating)?;
        writer_settings(&conn)
            .map_err(|e| SqlError::Open(format!("{}: {e}", opened.path.display())))?;
        Ok::<_, SqlError>(conn)
    })
    .await
    .map_err(|e| SqlError::Open(format!("{path}: {e}")))??;
    tracing::info!(path, "SQLite store ready");
    let commits = Arc::new(Commits::default());
    let writer =
        Writer::start(conn, commits.clone()).map_err(|e| SqlError::Open(format!("{path}: {e}")))?;
    let permits = options.connections.max(1);
    let readers = Arc::new(Pool {
        options,
        idle: Mutex::new(Vec::new()),
        permits: Semaphore::new(permits),
        commits,
    });
    sweep_snapshots(&readers);
    Ok(SqlManipulator::new(
        schema,
        Dialect::Sqlite,
        Arc::new(SqliteExecutor { readers, writer }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped_bytes(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA mmap_size", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn readers_map_the_file_only_when_asked() {
        let dir = testkit::env::TempDir::new("manipsql_mmap");
        let mut options = SqliteOptions::new(dir.path().join("mmap.db"));
        assert_eq!(mapped_bytes(&open_reader(&options).unwrap()), 0);
        options.mmap_size = 1 << 20;
        assert_eq!(mapped_bytes(&open_reader(&options).unwrap()), 1 << 20);
    }

    #[test]
    fn text_cells_keep_valid_text_and_replace_invalid_bytes() {
        let text = |bytes: &[u8]| match cell(ValueRef::Text(bytes)) {
            Cell::Text(text) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(b"10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(
            text("caf\u{e9} \u{1f600}".as_bytes()),
            "caf\u{e9} \u{1f600}"
        );
        assert_eq!(text(b""), "");
        assert_eq!(text(b"ab\xffcd"), "ab\u{fffd}cd");
        assert_eq!(
            cell(ValueRef::Blob(b"\xc3\xa9")),
            Cell::Text("\u{e9}".into())
        );
        assert_eq!(cell(ValueRef::Integer(7)), Cell::Int(7));
    }
}
