//! Group commit. One connection, on its own thread, does every write. Writes that arrive while
//! a transaction commits wait in a queue; the next transaction takes all of them (up to
//! [`MAX_BATCH`]), runs each write of several statements in its own savepoint (a write of one
//! statement is atomic by itself), commits once, and only then answers each writer. A write
//! that fails is undone alone; the others of the batch commit.
//! A failure of the transaction itself (its begin, a savepoint, the commit) fails every write
//! of the batch, none of which is then answered as stored.
//!
//! The writer drops its share of a write's statements before it answers: the texts and values
//! are freed by the request that made them. glibc frees a block made by another thread under
//! the lock of that thread's arena, which the writer would otherwise take for every value.

use std::sync::Arc;
use std::thread;

use manipulate::ManipulateError;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::snapshot::Commits;
use super::{execute, rows, storage_error};
use crate::codec::Cell;
use crate::sql::Sql;

/// Most writes one transaction takes.
pub(super) const MAX_BATCH: usize = 256;

/// Writes waiting for the writer, at most (a writer past it waits for room).
const QUEUE: usize = 1024;

/// What a write answers.
pub(super) enum Returns {
    /// How many rows its last statement changed.
    Changes,
    /// The rows its last statement returned, of this many columns.
    Rows(usize),
}

/// The answer of one write.
pub(super) enum Written {
    /// How many rows the last statement changed.
    Changes(usize),
    /// The rows the last statement returned.
    Rows(Vec<Vec<Cell>>),
}

/// One write: its statements (run in order, all or nothing), what it answers and where.
struct Job {
    statements: Arc<[Sql]>,
    returns: Returns,
    reply: oneshot::Sender<Result<Written, ManipulateError>>,
}

/// The handle on the writer thread; dropping it lets the thread finish the queued writes and
/// stop.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`; it counts each transaction in `commits` before it
    /// answers the transaction's writes.
    pub(super) fn start(conn: Connection, commits: Arc<Commits>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_batches(conn, queue, &commits))?;
        Ok(Self { jobs })
    }

    /// Runs `statements` in the next transaction; answers once that transaction is committed.
    pub(super) async fn write(
        &self,
        statements: Vec<Sql>,
        returns: Returns,
    ) -> Result<Written, ManipulateError> {
        let stopped = || ManipulateError::CannotCommunicate("the SQLite writer stopped".into());
        let (reply, answer) = oneshot::channel();
        let statements: Arc<[Sql]> = statements.into();
        let job = Job {
            statements: statements.clone(),
            returns,
            reply,
        };
        self.jobs.send(job).await.map_err(|_| stopped())?;
        let written = answer.await.map_err(|_| stopped())?;
        // The writer has dropped its share: the statements are freed here.
        drop(statements);
        written
    }
}

/// The writer thread: a batch per transaction until every handle is gone.
fn write_batches(mut conn: Connection, mut queue: mpsc::Receiver<Job>, commits: &Commits) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&mut conn, batch, commits);
    }
}

/// Runs a batch in one transaction, counts it, and answers each of its writes.
fn commit(conn: &mut Connection, batch: Vec<Job>, commits: &Commits) {
    let (work, replies): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|job| ((job.statements, job.returns), job.reply))
        .unzip();
    let ran = run_batch(conn, work);
    // Before any answer: a read that starts after an answer must not reuse an older snapshot.
    commits.advance();
    match ran {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                // A writer that went away (its request was cancelled) needs no answer.
                let _ = reply.send(answer);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, writes = replies.len(), "SQLite group commit failed");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// The answers of the writes of one committed transaction, or why the transaction failed.
fn run_batch(
    conn: &mut Connection,
    work: Vec<(Arc<[Sql]>, Returns)>,
) -> Result<Vec<Result<Written, ManipulateError>>, ManipulateError> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage_error)?;
    let mut answers = Vec::with_capacity(work.len());
    for (statements, returns) in work {
        let answer = if statements.len() == 1 {
            // One statement needs no savepoint: SQLite undoes a failed statement's changes
            // by itself, and a savepoint would copy every page the write changes.
            run_job(&tx, &statements, &returns)
        } else {
            let savepoint = tx.savepoint().map_err(storage_error)?;
            let answer = run_job(&savepoint, &statements, &returns);
            let ended = if answer.is_ok() {
                savepoint.commit()
            } else {
                // Rolled back and released: the writes before this one stay.
                savepoint.finish()
            };
            ended.map_err(storage_error)?;
            answer
        };
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): the
            // writes before this one are gone too.
            return Err(ManipulateError::CannotCommunicate(
                "SQLite rolled the transaction back".into(),
            ));
        }
        answers.push(answer.map_err(storage_error));
    }
    tx.commit().map_err(storage_error)?;
    Ok(answers)
}

/// One write's statements, inside its savepoint.
fn run_job(
    conn: &Connection,
    statements: &[Sql],
    returns: &Returns,
) -> Result<Written, rusqlite::Error> {
    let Some((last, first)) = statements.split_last() else {
        return Ok(match returns {
            Returns::Changes => Written::Changes(0),
            Returns::Rows(_) => Written::Rows(Vec::new()),
        });
    };
    for sql in first {
        execute(conn, sql)?;
    }
    Ok(match returns {
        Returns::Changes => Written::Changes(execute(conn, last)?),
        Returns::Rows(width) => Written::Rows(rows(conn, last, *width)?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{Reader, Reuse};
    use super::*;
    use crate::sql::{Dialect, SqlValue};
    use std::time::Duration;

    fn insert(id: i64) -> Sql {
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("INSERT INTO t (id) VALUES (")
            .push_param(SqlValue::Int(id))
            .push(")");
        sql
    }

    fn two_rows(first: i64, second: i64) -> Sql {
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("INSERT INTO t (id) VALUES (")
            .push_param(SqlValue::Int(first))
            .push("), (")
            .push_param(SqlValue::Int(second))
            .push(")");
        sql
    }

    fn stored(conn: &Connection) -> Vec<i64> {
        let mut statement = conn.prepare("SELECT id FROM t ORDER BY id").unwrap();
        let ids = statement.query_map([], |row| row.get(0)).unwrap();
        ids.map(|id| id.unwrap()).collect()
    }

    fn changed(answer: &Result<Written, ManipulateError>) -> Result<usize, String> {
        match answer {
            Ok(Written::Changes(n)) => Ok(*n),
            Ok(Written::Rows(rows)) => Err(format!("{} rows", rows.len())),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn a_failing_write_rolls_back_alone_and_the_batch_commits_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .unwrap();
        let work = vec![
            (vec![insert(1)].into(), Returns::Changes),
            // Its first statement is stored, its second fails: neither stays.
            (vec![insert(2), insert(1)].into(), Returns::Changes),
            (vec![insert(3)].into(), Returns::Changes),
            // One statement, without a savepoint: it stores 4, then fails on 3; 4 goes too.
            (vec![two_rows(4, 3)].into(), Returns::Changes),
        ];
        let answers = run_batch(&mut conn, work).unwrap();
        let answers: Vec<_> = answers.iter().map(changed).collect();
        let conflict = Err("constraint violation: UNIQUE constraint failed: t.id".to_string());
        assert_eq!(answers[0], Ok(1));
        assert_eq!(answers[1], conflict);
        assert_eq!(answers[2], Ok(1));
        assert_eq!(answers[3], conflict);
        assert_eq!(stored(&conn), vec![1, 3]);
        assert!(conn.is_autocommit(), "the transaction is committed");
    }

    /// Snapshots kept for a minute, and begun whenever the writer is not answering a commit.
    const REUSE: Reuse = Reuse {
        longest: Duration::from_secs(60),
        quiet: Duration::ZERO,
    };

    /// A writer on a new WAL file holding table `t`: the folder, the file, the writer's
    /// commit count and the writer.
    fn start_writer(
        name: &str,
    ) -> (
        testkit::env::TempDir,
        std::path::PathBuf,
        Arc<Commits>,
        Writer,
    ) {
        let dir = testkit::env::TempDir::new(name);
        let path = dir.path().join("writer.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .unwrap();
        let commits = Arc::new(Commits::default());
        let writer = Writer::start(conn, commits.clone()).unwrap();
        (dir, path, commits, writer)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_each_answered_after_their_commit() {
        let (_dir, path, commits, writer) = start_writer("manipsql_writer");
        let writer = Arc::new(writer);
        let reader = Arc::new(std::sync::Mutex::new(Reader::new(
            Connection::open(&path).unwrap(),
        )));
        let writes: Vec<_> = (0..200)
            .map(|i| {
                let (writer, reader, commits) = (writer.clone(), reader.clone(), commits.clone());
                // Every tenth write repeats the id of the one before: one of the two fails.
                let id = if i % 10 == 9 { i - 1 } else { i };
                tokio::spawn(async move {
                    let answer = changed(&writer.write(vec![insert(id)], Returns::Changes).await);
                    // Answered means committed and counted: the reader sees the row.
                    let seen: i64 = reader
                        .lock()
                        .unwrap()
                        .read(&commits, REUSE, |conn| {
                            conn.query_row("SELECT COUNT(*) FROM t WHERE id = ?1", [id], |row| {
                                row.get(0)
                            })
                        })
                        .unwrap();
                    (answer, seen)
                })
            })
            .collect();
        let mut stored = 0;
        for write in writes {
            let (answer, seen) = write.await.unwrap();
            match answer {
                Ok(n) => {
                    assert_eq!((n, seen), (1, 1));
                    stored += 1;
                }
                Err(e) => assert!(e.contains("UNIQUE constraint failed: t.id"), "{e}"),
            }
        }
        assert_eq!(stored, 180);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_keeping_its_snapshot_sees_each_answered_write() {
        let (_dir, path, commits, writer) = start_writer("manipsql_writer_snapshot");
        let mut reader = Reader::new(Connection::open(&path).unwrap());
        let mut count = || {
            reader
                .read(&commits, REUSE, |conn| {
                    conn.query_row("SELECT COUNT(*) FROM t", [], |row| row.get::<_, i64>(0))
                })
                .unwrap()
        };
        for id in 0..20 {
            // A snapshot taken before the write...
            assert_eq!(count(), id);
            changed(&writer.write(vec![insert(id)], Returns::Changes).await).unwrap();
            // ...is not the one read once the write is answered.
            assert_eq!(count(), id + 1);
        }
    }
}
