//! Read snapshots kept from one read to the next while the writer is quiet.
//!
//! In WAL mode, every read transaction SQLite begins takes a shared lock on the WAL index (a
//! mutex shared by the process's connections and two `fcntl` calls), and releases it when it
//! ends. A read on its own is its own transaction, so two readers on two threads contend for
//! that lock on every read. A [`Reader`] instead keeps its read transaction open from one read
//! to the next while the writer is quiet: it begins one only when the writer has committed
//! nothing for a while ([`Reuse::quiet`]), keeps it while the writer commits nothing more
//! ([`Commits`]), and for at most [`Reuse::longest`], which bounds how long a change made by
//! another process stays unseen. While the writer commits, reads are transactions of their
//! own, as before: a snapshot kept open holds the WAL's older frames, and kept by busy readers
//! it would stop the writer from ever starting the WAL over.
//!
//! A read sees every write this process acknowledged before the read started: the writer
//! counts a transaction before it answers its writes, and a reader whose snapshot began before
//! that count moved ends it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long snapshots are kept.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reuse {
    /// The longest a snapshot is kept; zero keeps none.
    pub(super) longest: Duration,
    /// How long the writer must have committed nothing before a snapshot is begun.
    pub(super) quiet: Duration,
}

/// How many transactions the writer has ended, and when it ended the last one. A snapshot that
/// began when the count was `n` holds every write acknowledged so far while the count is still
/// `n`.
#[derive(Debug)]
pub(super) struct Commits {
    count: AtomicU64,
    /// Nanoseconds from `origin` to the end of the last transaction; `u64::MAX` before the
    /// first.
    last: AtomicU64,
    origin: Instant,
}

impl Default for Commits {
    fn default() -> Self {
        Self {
            count: AtomicU64::new(0),
            last: AtomicU64::new(u64::MAX),
            origin: Instant::now(),
        }
    }
}

impl Commits {
    /// The count now.
    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Counts one more transaction: called after it ends and before its writes are answered.
    pub(super) fn advance(&self) {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.last.store(now, Ordering::SeqCst);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether the writer has ended no transaction for `period`.
    fn quiet_for(&self, period: Duration) -> bool {
        let last = self.last.load(Ordering::SeqCst);
        if last == u64::MAX {
            return true;
        }
        let since = self
            .origin
            .elapsed()
            .saturating_sub(Duration::from_nanos(last));
        since >= period
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
    /// is called: the kept one if it is still current; a new one, kept, if the writer is
    /// quiet; otherwise a transaction of its own, as SQLite runs a lone statement.
    pub(super) fn read<T>(
        &mut self,
        commits: &Commits,
        reuse: Reuse,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, rusqlite::Error> {
        // Read before the transaction begins: a write counted later may be in the snapshot
        // too, which only ends it sooner.
        let count = commits.count();
        self.release_if_stale(count, reuse.longest);
        if self.snapshot.is_none() {
            if reuse.longest.is_zero() || !commits.quiet_for(reuse.quiet) {
                return work(&mut self.conn);
            }
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
            self.release_if_stale(commits.count(), reuse.longest);
        }
        result
    }

    /// Ends the read transaction if it is older than `longest` or began before the writer's
    /// count was `commits`.
    pub(super) fn release_if_stale(&mut self, commits: u64, longest: Duration) {
        let Some(snapshot) = self.snapshot else {
            return;
        };
        let current = snapshot.commits == commits
            && snapshot.began.elapsed() < longest
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

    /// Snapshots kept for a minute, begun whenever the writer is not in the middle of a
    /// commit.
    const REUSE: Reuse = Reuse {
        longest: Duration::from_secs(60),
        quiet: Duration::ZERO,
    };
    const NONE: Reuse = Reuse {
        longest: Duration::ZERO,
        quiet: Duration::ZERO,
    };

    fn open(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        conn
    }

    fn count_rows(reader: &mut Reader, commits: &Commits, reuse: Reuse) -> i64 {
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
        let reuse = Reuse {
            longest: Duration::from_millis(20),
            quiet: Duration::ZERO,
        };
        assert_eq!(count_rows(&mut reader, &commits, reuse), 0);
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(count_rows(&mut reader, &commits, reuse), 1);
    }

    #[test]
    fn without_reuse_every_read_sees_the_last_commit_and_holds_nothing() {
        let (_dir, writer, mut reader) = setup("manipsql_snapshot_none");
        let commits = Commits::default();
        assert_eq!(count_rows(&mut reader, &commits, NONE), 0);
        assert!(!reader.holds_snapshot());
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(count_rows(&mut reader, &commits, NONE), 1);
    }

    #[test]
    fn a_stale_snapshot_is_released_and_a_failed_read_ends_it() {
        let (_dir, _writer, mut reader) = setup("manipsql_snapshot_release");
        let commits = Commits::default();
        count_rows(&mut reader, &commits, REUSE);
        reader.release_if_stale(commits.count(), REUSE.longest);
        assert!(reader.holds_snapshot(), "current: kept");
        commits.advance();
        reader.release_if_stale(commits.count(), REUSE.longest);
        assert!(!reader.holds_snapshot(), "behind a commit: released");

        count_rows(&mut reader, &commits, REUSE);
        let failed = reader.read(&commits, REUSE, |conn| {
            conn.query_row("SELECT a FROM missing", [], |row| row.get::<_, i64>(0))
        });
        assert!(failed.is_err());
        assert!(!reader.holds_snapshot());
    }

    #[test]
    fn no_snapshot_is_begun_until_the_writer_has_been_quiet() {
        let (_dir, writer, mut reader) = setup("manipsql_snapshot_quiet");
        let commits = Commits::default();
        // Long enough that the read right after the commit comes within it, on a busy
        // machine too.
        let reuse = Reuse {
            longest: Duration::from_secs(60),
            quiet: Duration::from_millis(500),
        };
        // Never committed: quiet.
        count_rows(&mut reader, &commits, reuse);
        assert!(reader.holds_snapshot());
        writer.execute_batch("INSERT INTO t VALUES (1)").unwrap();
        commits.advance();
        // Just committed: a transaction of its own, nothing kept.
        assert_eq!(count_rows(&mut reader, &commits, reuse), 1);
        assert!(!reader.holds_snapshot());
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(count_rows(&mut reader, &commits, reuse), 1);
        assert!(reader.holds_snapshot());
    }
}
