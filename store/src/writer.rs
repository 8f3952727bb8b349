//! Group commit: one thread owns the write connection and applies every waiting write in one
//! transaction, so a thousand executions committing at once cost one transaction, not a thousand.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use legion_engine::StoreError;
use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use crate::rows::unavailable;

/// How many writes one transaction takes at most.
const BATCH: usize = 1024;

/// How many writes may wait for the writer thread; a writer that falls behind makes the next write
/// wait (backpressure), so queued writes never grow memory without bound.
const QUEUE: usize = 2 * BATCH;

/// A write: runs inside the batch's transaction and returns what to do once it has committed.
type Job = Box<dyn FnOnce(&Transaction<'_>) -> Done + Send>;
type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The sending side of the writer thread.
pub(crate) struct Writer {
    jobs: Mutex<Option<mpsc::SyncSender<Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    /// Closes the queue and waits for the thread to write what it holds and close the file.
    fn drop(&mut self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`; between two batches it restarts the write-ahead log when
    /// `long_log` says it has grown too long (see [`Checkpointer`]).
    pub(crate) fn start(mut conn: Connection, long_log: Arc<AtomicBool>) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("legion-sqlite-writer".to_owned())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < BATCH {
                        match rx.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    write_batch(&mut conn, jobs);
                    if long_log.swap(false, Ordering::AcqRel) {
                        restart_log(&conn);
                    }
                }
            })
            .map_err(unavailable)?;
        Ok(Writer { jobs: Mutex::new(Some(tx)), thread: Some(thread) })
    }

    /// Runs `f` in the next transaction without waiting for it (a write that may be lost in a crash).
    pub(crate) fn queue(&self, f: impl FnOnce(&Transaction<'_>) -> Result<(), StoreError> + Send + 'static) {
        let job: Job = Box::new(move |tx| {
            if let Err(e) = in_savepoint(tx, f) {
                tracing::warn!(error = %e, "a queued write to the execution store failed");
            }
            Box::new(|_| {})
        });
        self.send(job);
    }

    /// Hands a job to the writer thread, waiting while its queue is full; false once it has stopped.
    fn send(&self, job: Job) -> bool {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        jobs.is_some_and(|jobs| jobs.send(job).is_ok())
    }

    /// Runs `f` in the next transaction and returns its result once that transaction has committed.
    /// A write that fails is rolled back alone (a savepoint); the others in its batch still commit.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.write_then(f, |_| {}).await
    }

    /// [`Writer::write`], with `committed` run on the writer thread as soon as the write has
    /// committed (even when the caller has stopped waiting for it).
    pub(crate) async fn write_then<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
        committed: impl FnOnce(&T) + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |tx| {
            let result = in_savepoint(tx, f);
            Box::new(move |outcome: Result<(), StoreError>| {
                let result = outcome.and(result);
                if let Ok(value) = &result {
                    committed(value);
                }
                let _ = reply.send(result);
            })
        });
        if !self.send(job) {
            return Err(unavailable("the writer has stopped"));
        }
        answer.await.map_err(|_| unavailable("the writer has stopped"))?
    }
}

fn in_savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let run = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([])).map_err(unavailable);
    run("SAVEPOINT job")?;
    let result = f(tx);
    if result.is_err() {
        run("ROLLBACK TO job")?;
    }
    run("RELEASE job")?;
    result
}

fn write_batch(conn: &mut Connection, jobs: Vec<Job>) {
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            // Nothing ran: every write of the batch fails with the reason.
            let e = unavailable(e);
            for job in jobs {
                reject(job, e.clone());
            }
            return;
        }
    };
    let dones: Vec<Done> = jobs.into_iter().map(|job| job(&tx)).collect();
    let committed = tx.commit().map_err(unavailable);
    for done in dones {
        done(committed.clone());
    }
}

/// Answers a write that could not run.
fn reject(job: Job, e: StoreError) {
    // A job only answers once it has run; run it against nothing by dropping it: its reply sender
    // closes and the caller sees the writer as unavailable.
    drop(job);
    tracing::warn!(error = %e, "a write to the execution store was rejected");
}

/// The read side: connections of their own (WAL lets them read while the writer writes), each used
/// by one blocking task at a time, so that waiting readers hold no thread of the blocking pool.
#[derive(Clone)]
pub(crate) struct Reader {
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Reader {
    pub(crate) fn new(connections: Vec<Connection>) -> Reader {
        let permits = Arc::new(tokio::sync::Semaphore::new(connections.len()));
        Reader { idle: Arc::new(Mutex::new(connections)), permits }
    }

    /// Runs `f` on a read connection without blocking the async runtime.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self.permits.acquire().await.map_err(unavailable)?;
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            // A permit guarantees an idle connection.
            let conn = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(conn) = conn else { return Err(unavailable("no read connection is idle")) };
            let result = f(&conn);
            idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await
        .map_err(unavailable)?
    }
}

/// Copies the write-ahead log into the database file on a thread of its own, so that the writer
/// thread only appends to the log: twice a second, `PRAGMA wal_checkpoint(PASSIVE)`, which never
/// blocks the writer.
///
/// Under a steady stream of commits a passive checkpoint never catches up with the end of the log,
/// and the log would grow without bound. Once it holds more than [`RESTART_FRAMES`] pages, the
/// checkpointer tells the writer thread, which runs a `RESTART` checkpoint itself between two
/// batches: it copies what the passive one left (a few pages) and the next commit writes the log
/// from its start again. (Run from here instead, it would wait for a lock that a busy writer never
/// leaves free long enough.)
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How many pages the log may hold before a checkpoint makes the writer wait (64 MiB of 4 KiB
/// pages); the file is cut back to this size when the log restarts (`journal_size_limit`).
pub(crate) const RESTART_FRAMES: i64 = 16 * 1024;

/// How often the checkpointer runs.
pub(crate) const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

impl Checkpointer {
    /// Starts checkpointing through `conn` every `interval` ([`CHECKPOINT_INTERVAL`] in a store);
    /// sets `long_log` when the writer should restart the log. The log may pass [`RESTART_FRAMES`]
    /// by what is written in one interval.
    pub(crate) fn start(
        conn: Connection,
        long_log: Arc<AtomicBool>,
        interval: std::time::Duration,
    ) -> Result<Checkpointer, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("legion-sqlite-checkpoint".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    match passive_checkpoint(&conn) {
                        Ok(frames) if frames > RESTART_FRAMES => long_log.store(true, Ordering::Release),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(error = %e, "a checkpoint of the write-ahead log failed"),
                    }
                }
            })
            .map_err(unavailable)?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

/// Copies what it can of the log into the file without waiting; how many pages the log holds.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Copies the rest of the log into the file, so that the next commit writes it from its start (on
/// the writer's connection, between two transactions: readers are waited for, no writer is).
fn restart_log(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "a restart of the write-ahead log failed");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).expect("opens");
        conn.busy_timeout(std::time::Duration::from_secs(5)).expect("sets the busy timeout");
        conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
        conn.pragma_update(None, "wal_autocheckpoint", 0).expect("no automatic checkpoints");
        conn
    }

    fn log_bytes(path: &std::path::Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    /// Commits that never pause leave the passive checkpoints behind the end of the log; the
    /// writer's restarts keep it near its limit however much is written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_stays_bounded_under_commits_that_never_pause() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let path = dir.path().join("log.db");
        let conn = open(&path);
        conn.pragma_update(None, "journal_size_limit", RESTART_FRAMES * 4096).expect("a size limit");
        conn.execute("CREATE TABLE t (v BLOB)", []).expect("creates");
        let long_log = Arc::new(AtomicBool::new(false));
        let writer = Writer::start(conn, long_log.clone()).expect("a writer");
        // Checkpoints every 20 ms: the log may pass the limit by what is written in one interval,
        // which at this test's pace would be tens of MiB in a store's 500 ms.
        let interval = std::time::Duration::from_millis(20);
        let _checkpointer = Checkpointer::start(open(&path), long_log, interval).expect("a checkpointer");
        // 300 MiB (almost five times the limit) in writes of 16 KiB from 32 writers that each wait
        // for their write, as executions do: small group commits, one after the other.
        let writer = Arc::new(writer);
        let largest = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..32i64 {
            let (writer, largest, path) = (writer.clone(), largest.clone(), path.clone());
            tasks.spawn(async move {
                for n in 0..600i64 {
                    writer
                        .write(move |tx| {
                            let row = vec![7u8; 16 * 1024];
                            tx.execute("INSERT INTO t (rowid, v) VALUES (?1, ?2)", (task * 1_000_000 + n, &row))
                                .map_err(unavailable)?;
                            // The table itself need not grow: what matters is the log.
                            tx.execute("DELETE FROM t WHERE rowid = ?1", [task * 1_000_000 + n - 4])
                                .map_err(unavailable)?;
                            Ok(())
                        })
                        .await
                        .expect("writes");
                    largest.fetch_max(log_bytes(&path), Ordering::Relaxed);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("a writer task");
        }
        let largest = largest.load(Ordering::Relaxed);
        let limit = (RESTART_FRAMES * 4096) as u64;
        assert!(largest < 2 * limit, "the log reached {largest} bytes (limit {limit})");
    }
}
