//! Read snapshots kept from one read to the next.
//!
//! In WAL mode, every read transaction SQLite begins takes a shared lock on the WAL index (a
//! mutex shared by the process's connections and two `fcntl` calls), and releases it when it
//! ends. A read on its own is its own transaction, so two readers on two threads contend for
//! that lock on every read. A [`Reader`] instead keeps its read transaction open from one read
//! to the next, for as long as the writer has committed nothing since it began ([`Commits`])
//! and for at most the reuse time (`SqliteOptions::snapshot_reuse`), which bounds how long a
//! change made by another process stays unseen.
//!
//! A read therefore sees every write this process acknowledged before the read started: the
//! writer counts a transaction before it answers its writes, and a reader whose snapshot
//! began before that count moved ends it and begins a new one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How many transactions the writer has ended. A snapshot that began when the count was `n`
/// holds every write acknowledged so far while the count is still `n`.
#[derive(Debug, Default)]
pub(super) struct Commits(AtomicU64);

impl Commits {
    /// The count now.
    pub(super) fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Counts one more transaction: called after it ends and before its writes are answered.
    pub(super) fn advance(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A read connection and the read transaction it keeps open, if any.
pub(super) struct Reader {
    conn: Connection,
    snapshot: Option<Snapshot>,
}

/// The read transaction a reader keeps open.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    /// The writer's count before the transaction began.
    commits: u64,
    began: Instant,
}

impl Reader {
    /// A reader on `conn`, with no transaction open.
    pub(super) fn new(conn: Connection) -> Self {
        Self {
            conn,
            snapshot: None,
        }
    }

    /// Runs `work` in a read transaction that holds every write counted in `commits` when it
    /// is called: the open one if it is still current, a new one otherwise. With a zero
    /// `reuse`, `work` runs in a transaction of its own, as SQLite runs a lone statement.
    pub(super) fn read<T>(
        &mut self,
        commits: &Commits,
        reuse: Duration,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, rusqlite::Error> {
        // Read before the transaction begins: a write counted later may be in the snapshot
        // too, which only ends it sooner.
        let count = commits.count();
        self.release_if_stale(count, reuse);
        if reuse.is_zero() {
            return work(&mut self.conn);
        }
        if self.snapshot.is_none() {
            self.conn.prepare_cached("BEGIN")?.execute([])?;
            self.snapshot = Some(Snapshot {
                commits: count,
                began: Instant::now(),
            });
        }
        let result = work(&mut self.conn);
        if result.is_err() {
            self.end();
        } else {
            // Not kept idle behind a write made meanwhile: the writer could not checkpoint
            // past it.
            self.release_if_stale(commits.count(), reuse);
        }
        result
    }

    /// Ends the read transaction if it is older than `reuse` or began before the writer's
    /// count was `commits`.
    pub(super) fn release_if_stale(&mut self, commits: u64, reuse: Duration) {
        let Some(snapshot) = self.snapshot else {
            return;
        };
        let current = snapshot.commits == commits
            && snapshot.began.elapsed() < reuse
            && !self.conn.is_autocommit();
        if !current {
            self.end();
        }
    }

    /// Ends the read transaction, if one is open.
    fn end(&mut self) {
        self.snapshot = None;
        if self.conn.is_autocommit() {
            return;
        }
        // A read transaction has nothing to commit: ending it releases the snapshot.
        let ended = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut commit| commit.execute([]));
        if let Err(e) = ended {
            tracing::warn!(error = %e, "ending a SQLite read transaction failed; rolling back");
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rolling back a SQLite read transaction failed");
            }
        }
    }

    /// Whether a read transaction is open.
    #[cfg(test)]
    pub(super) fn holds_snapshot(&self) -> bool {
        !self.conn.is_autocommit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REUSE: Duration = Duration::from_secs(60);

    fn open(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        conn
    }

    fn count_rows(reader: &mut Reader, commits: &Commits, reuse: Duration) -> i64 {
        reader
            .read(commits, reuse, |conn| {
                conn.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            })
            .unwrap()
    }

    fn setup(name: &str) -> (testkit::env::TempDir, Connection, Reader) {
        let dir = testkit::env::TempDir::new(name);
        let path = dir.path().join("snapshot.db");
        let writer = open(&path);
        writer.execute_batch("CREATE TABLE t (a INTEGER)").unwrap();
        let reader = Reader::new(open(&path));
        (dir, writer, reader)
    }

    #[test]
    fn a_snapshot_is_kept_until_the_writer_counts_a_commit() {
        let (_dir, writer, mut reader) = setup("manipsql_snapshot_count");
        let commits = Commits::default();
        assert_eq!(count_rows(&mut reader, &commits, REUSE), 0);
        assert!(reader.holds_snapshot());
        // A commit the count does not know of (another process's) is not seen yet...
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(count_rows(&mut reader, &commits, REUSE), 0);
        // ...and is, once the count moves.
        commits.advance();
        assert_eq!(count_rows(&mut reader, &commits, REUSE), 1);
    }

    #[test]
    fn a_snapshot_older_than_its_reuse_time_is_renewed() {
        let (_dir, writer, mut reader) = setup("manipsql_snapshot_age");
        let commits = Commits::default();
        let reuse = Duration::from_millis(20);
        assert_eq!(count_rows(&mut reader, &commits, reuse), 0);
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(count_rows(&mut reader, &commits, reuse), 1);
    }

    #[test]
    fn without_reuse_every_read_sees_the_last_commit_and_holds_nothing() {
        let (_dir, writer, mut reader) = setup("manipsql_snapshot_none");
        let commits = Commits::default();
        assert_eq!(count_rows(&mut reader, &commits, Duration::ZERO), 0);
        assert!(!reader.holds_snapshot());
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(count_rows(&mut reader, &commits, Duration::ZERO), 1);
    }

    #[test]
    fn a_stale_snapshot_is_released_and_a_failed_read_ends_it() {
        let (_dir, _writer, mut reader) = setup("manipsql_snapshot_release");
        let commits = Commits::default();
        count_rows(&mut reader, &commits, REUSE);
        reader.release_if_stale(commits.count(), REUSE);
        assert!(reader.holds_snapshot(), "current: kept");
        commits.advance();
        reader.release_if_stale(commits.count(), REUSE);
        assert!(!reader.holds_snapshot(), "behind a commit: released");

        count_rows(&mut reader, &commits, REUSE);
        let failed = reader.read(&commits, REUSE, |conn| {
            conn.query_row("SELECT a FROM missing", [], |row| row.get::<_, i64>(0))
        });
        assert!(failed.is_err());
        assert!(!reader.holds_snapshot());
    }
}
