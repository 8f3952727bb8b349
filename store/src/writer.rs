//! Group commit: one thread owns the write connection and applies every waiting write in one
//! transaction, so a thousand executions committing at once cost one transaction, not a thousand.

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
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(mut conn: Connection) -> Result<Writer, StoreError> {
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

/// Copies the write-ahead log into the database file on a thread of its own (`PRAGMA
/// wal_checkpoint(PASSIVE)` twice a second), so that the writer thread only appends to the log.
pub(crate) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing through `conn`.
    pub(crate) fn start(conn: Connection) -> Result<Checkpointer, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("legion-sqlite-checkpoint".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(std::time::Duration::from_millis(500))
                {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::debug!(error = %e, "a checkpoint of the write-ahead log failed");
                    }
                }
            })
            .map_err(unavailable)?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
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
