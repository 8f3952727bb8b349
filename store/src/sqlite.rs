//! [`SqliteStore`]: executions, their history and checkpoints in one SQLite file (WAL).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use legion_engine::history::{History, HistoryEvent};
use legion_engine::{
    Commit, DocumentChange, DocumentKind, DocumentStore, ExecutionRecord, ExecutionStatus, ExecutionStore, Launch,
    ListQuery, MapProgress, Outcome, Page, Recovered, Reservation, Retention, SavedCheckpoint, StoreError,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;
use time::OffsetDateTime;

use crate::recent::Recent;
use crate::rows::{corrupt, interrupted, json, launch_columns, nanos, record_of, unavailable};
use crate::schema;
use crate::writer::{Checkpointer, Reader, Writer, CHECKPOINT_INTERVAL};

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sync {
    /// `synchronous=NORMAL`: a commit survives a crash of the process; a power loss may lose the
    /// last commits (never corrupt the file).
    #[default]
    Normal,
    /// `synchronous=FULL`: a commit survives a power loss too (one fsync per group commit).
    Full,
}

/// Keeps executions in a SQLite file: records, history events and checkpoints, written by one
/// thread in group commits; reads on a connection of their own.
pub struct SqliteStore {
    pub(crate) writer: Writer,
    pub(crate) reader: Reader,
    /// The running map runs and children (see `map_runs.rs`).
    pub(crate) map_runs: crate::map_runs::MapRunCache,
    /// The records written last, answered without reading the file.
    recent: Arc<Recent>,
    retention: Retention,
    /// Checkpoints the write-ahead log off the writer thread.
    _checkpointer: Checkpointer,
    /// Held for the store's life: one process at a time runs a file's executions.
    _lock: std::fs::File,
}

/// How many read connections a store opens.
const READERS: usize = 4;

/// The page cache of the writer's connection, and of each reader's (KiB): pages read again from
/// the cache, not through a system call.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
const READER_CACHE_KIB: i64 = 8 * 1024;

fn connect(path: &Path, sync: Sync, cache_kib: i64) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| unavailable(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(unavailable)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
    let level = match sync {
        Sync::Normal => "NORMAL",
        Sync::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", level).map_err(unavailable)?;
    conn.pragma_update(None, "cache_size", -cache_kib).map_err(unavailable)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` and brings its schema up to date; a file written by
    /// a newer Legion is refused with [`StoreError::Corrupt`].
    pub fn open(path: impl AsRef<Path>, sync: Sync, retention: Retention) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let lock = lock(path)?;
        let mut conn = connect(path, sync, WRITER_CACHE_KIB)?;
        // SQLite opens a file it cannot write read-only, and would fail only at the first write.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(unavailable)? {
            return Err(unavailable(format!(
                "{} is read-only: a store is written at every step of every execution",
                path.display()
            )));
        }
        schema::migrate(&mut conn).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        // The checkpointer copies the log into the file; the writer only appends to it.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(unavailable)?;
        let log_bytes = crate::writer::RESTART_FRAMES * 4096;
        conn.pragma_update(None, "journal_size_limit", log_bytes).map_err(unavailable)?;
        let readers = (0..READERS).map(|_| connect(path, sync, READER_CACHE_KIB)).collect::<Result<Vec<_>, _>>()?;
        let reader = Reader::new(readers);
        let long_log = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpointer = Checkpointer::start(connect(path, sync, 1024)?, long_log.clone(), CHECKPOINT_INTERVAL)?;
        Ok(SqliteStore {
            writer: Writer::start(conn, long_log)?,
            reader,
            map_runs: Default::default(),
            recent: Arc::default(),
            retention,
            _checkpointer: checkpointer,
            _lock: lock,
        })
    }
}

/// Locks `PATH.lock` for this process: two processes resuming the same RUNNING executions would run
/// them twice.
fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| unavailable(format!("{}: {e}", Path::new(&name).display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(unavailable(format!(
            "{} is in use by another Legion process (a SQLite store serves one process at a time)",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(unavailable(format!("{}: {e}", path.display()))),
    }
}

fn status_text(status: ExecutionStatus) -> &'static str {
    status.as_str()
}

/// The record of `arn` (inside a write, a transaction derefs to its connection).
fn load(conn: &Connection, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
    let mut select = conn.prepare_cached("SELECT record FROM executions WHERE arn = ?1").map_err(unavailable)?;
    let text: Option<String> = select.query_row([arn], |r| r.get(0)).optional().map_err(unavailable)?;
    text.as_deref().map(record_of).transpose()
}

fn save(tx: &Transaction<'_>, record: &ExecutionRecord) -> Result<(), StoreError> {
    save_text(tx, record, &json(record)?)
}

/// Writes a record whose JSON text `text` was serialised by the caller (off the writer thread).
fn save_text(tx: &Transaction<'_>, record: &ExecutionRecord, text: &str) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE executions SET record = ?2, status = ?3, stop_date = ?4 WHERE arn = ?1")
        .and_then(|mut s| s.execute(params![record.arn, text, status_text(record.status), record.stop_date.map(nanos)]))
        .map_err(unavailable)?;
    Ok(())
}

/// The events of one write as one row of `history`: a JSON array under the first event's id,
/// serialised by the caller (off the writer thread). Rows of one event each (written before schema
/// version 3) are read as well.
fn events_row(events: &[HistoryEvent]) -> Result<Option<(i64, String)>, StoreError> {
    events.first().map(|first| Ok((first.id as i64, json(&events)?))).transpose()
}

fn append(tx: &Transaction<'_>, arn: &str, row: &Option<(i64, String)>) -> Result<(), StoreError> {
    let Some((id, text)) = row else { return Ok(()) };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO history (seq, id, events) SELECT seq, ?2, ?3 FROM executions WHERE arn = ?1",
    )
    .and_then(|mut s| s.execute(params![arn, id, text]))
    .map_err(unavailable)?;
    Ok(())
}

fn insert_row(tx: &Transaction<'_>, record: &ExecutionRecord, started: bool) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO executions (arn, state_machine_arn, map_run_arn, status, record, started) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            record.arn,
            record.state_machine_arn,
            record.map_run_arn,
            status_text(record.status),
            json(record)?,
            started
        ],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// Inserts a started execution's row with what resuming it needs (`record` serialised as `text`);
/// false when its name is taken.
fn insert_started(
    tx: &Transaction<'_>,
    record: &ExecutionRecord,
    text: &str,
    (definition, role_arn, token_seed): &(Option<String>, Option<String>, Option<String>),
) -> Result<bool, StoreError> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO executions (arn, state_machine_arn, map_run_arn, status, record, started, definition, role_arn, token_seed)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8) ON CONFLICT (arn) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                record.arn,
                record.state_machine_arn,
                record.map_run_arn,
                status_text(record.status),
                text,
                definition,
                role_arn,
                token_seed
            ])
        })
        .map_err(unavailable)?;
    Ok(inserted == 1)
}

/// Marks a recorded execution started, with what resuming it needs.
fn launched(tx: &Transaction<'_>, arn: &str, launch: Option<Launch>) -> Result<(), StoreError> {
    let (definition, role_arn, token_seed) = launch_columns(launch);
    tx.execute(
        "UPDATE executions SET started = 1, definition = ?2, role_arn = ?3, token_seed = ?4 WHERE arn = ?1",
        params![arn, definition, role_arn, token_seed],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// The history of the execution whose row is `seq`.
fn events_of(conn: &Connection, seq: i64) -> Result<Vec<HistoryEvent>, StoreError> {
    let mut select =
        conn.prepare_cached("SELECT events FROM history WHERE seq = ?1 ORDER BY id").map_err(unavailable)?;
    let rows = select.query_map([seq], |r| r.get::<_, String>(0)).map_err(unavailable)?;
    let mut events = Vec::new();
    for text in rows {
        let text = text.map_err(unavailable)?;
        if text.starts_with('[') {
            events.extend(serde_json::from_str::<Vec<HistoryEvent>>(&text).map_err(corrupt)?);
        } else {
            events.push(serde_json::from_str(&text).map_err(corrupt)?);
        }
    }
    Ok(events)
}

/// A row as resuming needs it: record, definition, role and checkpoint.
fn resumable_row(conn: &Connection, arn: &str) -> Result<Option<Recovered>, StoreError> {
    let row = conn
        .query_row(
            "SELECT seq, record, definition, role_arn, checkpoint, token_seed FROM executions WHERE arn = ?1 AND definition IS NOT NULL",
            [arn],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()
        .map_err(unavailable)?;
    let Some((seq, record, definition, role_arn, checkpoint, token_seed)) = row else { return Ok(None) };
    let checkpoint: Option<SavedCheckpoint> =
        checkpoint.as_deref().map(serde_json::from_str).transpose().map_err(corrupt)?;
    Ok(Some(Recovered {
        record: record_of(&record)?,
        launch: Launch { definition: definition.into(), role_arn: role_arn.unwrap_or_default(), token_seed },
        history: events_of(conn, seq)?,
        checkpoint,
    }))
}

#[async_trait]
impl ExecutionStore for SqliteStore {
    async fn reserve(&self, record: ExecutionRecord) -> Result<Reservation, StoreError> {
        self.writer
            .write(move |tx| match load(tx, &record.arn)? {
                Some(existing) if existing.same_running_start(&record) => Ok(Reservation::Existing(Box::new(existing))),
                Some(_) => Err(StoreError::AlreadyExists(record.arn)),
                None => insert_row(tx, &record, false).map(|()| Reservation::Reserved),
            })
            .await
    }

    /// One statement: the row with what resuming needs, unless the name is taken (then the
    /// existing row decides between an idempotent start and `AlreadyExists`).
    async fn start(
        &self,
        record: ExecutionRecord,
        _: History,
        launch: Option<Launch>,
    ) -> Result<Reservation, StoreError> {
        let text = json(&record)?;
        let columns = launch_columns(launch);
        let row = Arc::new(record);
        let (kept, recent) = (row.clone(), self.recent.clone());
        self.writer
            .write_then(
                move |tx| {
                    if insert_started(tx, &row, &text, &columns)? {
                        return Ok(Reservation::Reserved);
                    }
                    match load(tx, &row.arn)? {
                        Some(existing) if existing.same_running_start(&row) => {
                            Ok(Reservation::Existing(Box::new(existing)))
                        }
                        _ => Err(StoreError::AlreadyExists(row.arn.clone())),
                    }
                },
                move |reservation| {
                    if let Reservation::Reserved = reservation {
                        recent.put(kept);
                    }
                },
            )
            .await
    }

    async fn insert(&self, record: ExecutionRecord, _: History, launch: Option<Launch>) -> Result<(), StoreError> {
        self.recent.forget(&record.arn);
        let recent = self.recent.clone();
        self.writer
            .write_then(
                move |tx| {
                    let record = match load(tx, &record.arn)? {
                        Some(mut reserved) => {
                            // Filled in after a reservation: keep the reserved metadata, take the real start.
                            reserved.start_date = record.start_date;
                            reserved.machine_type = record.machine_type;
                            save(tx, &reserved)?;
                            reserved
                        }
                        None => {
                            insert_row(tx, &record, true)?;
                            record
                        }
                    };
                    launched(tx, &record.arn, launch)?;
                    Ok(Arc::new(record))
                },
                move |record| recent.put(record.clone()),
            )
            .await
            .map(drop)
    }

    /// Queued, not awaited: the writer applies writes in order, so the end of the execution (which
    /// is awaited) confirms every commit before it. A crash loses at most the commits still queued;
    /// the execution then resumes from the last one written, and runs its later states again (at
    /// least once), recording their events again (exactly once, since events and checkpoint are
    /// written together).
    async fn commit(&self, arn: &str, commit: Commit) -> Result<(), StoreError> {
        let (arn, events, checkpoint) = (arn.to_owned(), events_row(&commit.events)?, json(&commit.checkpoint)?);
        self.writer.queue(move |tx| {
            append(tx, &arn, &events)?;
            tx.prepare_cached("UPDATE executions SET checkpoint = ?2, map_run = NULL WHERE arn = ?1")
                .and_then(|mut s| s.execute(params![arn, checkpoint]))
                .map_err(unavailable)?;
            forget_map_progress(tx, &arn)
        });
        Ok(())
    }

    async fn map_run_started(&self, arn: &str, map_run_arn: &str) -> Result<(), StoreError> {
        let (arn, map_run_arn) = (arn.to_owned(), map_run_arn.to_owned());
        self.writer
            .write(move |tx| {
                tx.execute("UPDATE executions SET map_run = ?2 WHERE arn = ?1", params![arn, map_run_arn])
                    .map_err(unavailable)?;
                Ok(())
            })
            .await
    }

    fn map_child_succeeded(&self, arn: &str, ordinal: u64, result: Value) {
        let (arn, Ok(result)) = (arn.to_owned(), json(&result)) else { return };
        self.writer.queue(move |tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO map_successes (arn, ordinal, result) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![arn, ordinal as i64, result]))
                .map_err(unavailable)?;
            Ok(())
        });
    }

    async fn map_progress(&self, arn: &str) -> Result<Option<MapProgress>, StoreError> {
        let arn = arn.to_owned();
        self.reader.read(move |conn| map_progress(conn, &arn)).await
    }

    async fn redriven(&self, arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError> {
        self.recent.forget(arn);
        let (arn, recent) = (arn.to_owned(), self.recent.clone());
        let reopened = self
            .writer
            .write_then(
                move |tx| {
                    let Some(mut record) = load(tx, &arn)? else { return Ok(None) };
                    let count = record.reopen(date);
                    save(tx, &record)?;
                    Ok(Some((count, Arc::new(record))))
                },
                move |reopened| {
                    if let Some((_, record)) = reopened {
                        recent.put(record.clone());
                    }
                },
            )
            .await?;
        Ok(reopened.map(|(count, _)| count))
    }

    async fn finish(
        &self,
        arn: &str,
        outcome: &Outcome,
        stop_date: OffsetDateTime,
        events: Vec<HistoryEvent>,
    ) -> Result<(), StoreError> {
        // The record closed here from the one in memory (serialised off the writer thread), or,
        // when it is not kept, read and closed by the writer. The running one is answered until the
        // end has committed.
        let closed = self.recent.get(arn).map(|r| {
            let mut record = ExecutionRecord::clone(&r);
            record.close(outcome, stop_date);
            record
        });
        let text = closed.as_ref().map(json).transpose()?;
        let (arn, outcome, events) = (arn.to_owned(), outcome.clone(), events_row(&events)?);
        let recent = self.recent.clone();
        self.writer
            .write_then(
                move |tx| {
                    append(tx, &arn, &events)?;
                    forget_map_progress(tx, &arn)?;
                    if let (Some(record), Some(text)) = (closed, text) {
                        save_text(tx, &record, &text)?;
                        return Ok(Some(Arc::new(record)));
                    }
                    let Some(mut record) = load(tx, &arn)? else { return Ok(None) };
                    record.close(&outcome, stop_date);
                    save(tx, &record)?;
                    Ok(Some(Arc::new(record)))
                },
                move |closed| {
                    if let Some(record) = closed {
                        recent.put(record.clone());
                    }
                },
            )
            .await
            .map(drop)
    }

    async fn purge(&self, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        if self.retention.keeps_everything() {
            return Ok(Vec::new());
        }
        let Retention { max_age, max_closed, .. } = self.retention;
        let recent = self.recent.clone();
        self.writer
            .write_then(
                move |tx| {
                    let gone = expired(tx, now, max_age, max_closed)?;
                    for arn in &gone {
                        let sql = "DELETE FROM history WHERE seq = (SELECT seq FROM executions WHERE arn = ?1)";
                        tx.execute(sql, [arn]).map_err(unavailable)?;
                        tx.execute("DELETE FROM executions WHERE arn = ?1", [arn]).map_err(unavailable)?;
                    }
                    Ok(gone)
                },
                move |gone| {
                    for arn in gone {
                        recent.forget(arn);
                    }
                },
            )
            .await
    }

    async fn get(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        if let Some(record) = self.recent.get(arn) {
            return Ok(Some(ExecutionRecord::clone(&record)));
        }
        let arn = arn.to_owned();
        self.reader.read(move |conn| load(conn, &arn)).await
    }

    async fn history(&self, arn: &str) -> Result<Option<Vec<HistoryEvent>>, StoreError> {
        let arn = arn.to_owned();
        self.reader
            .read(move |conn| {
                let known: Option<i64> = conn
                    .query_row("SELECT seq FROM executions WHERE arn = ?1", [&arn], |r| r.get(0))
                    .optional()
                    .map_err(unavailable)?;
                known.map(|seq| events_of(conn, seq)).transpose()
            })
            .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let after = query.after()?;
        let query = query.clone();
        self.reader.read(move |conn| list(conn, &query, after)).await
    }

    async fn recover(&self) -> Result<Vec<Recovered>, StoreError> {
        self.recent.clear();
        let interrupted = interrupted();
        let now = OffsetDateTime::now_utc();
        self.writer
            .write(move |tx| {
                let sql = "SELECT arn FROM executions WHERE status = 'RUNNING' AND (started = 0 OR definition IS NULL)";
                let stuck = arns(tx, sql, [])?;
                for arn in stuck {
                    if let Some(mut record) = load(tx, &arn)? {
                        record.close(&interrupted, now);
                        save(tx, &record)?;
                    }
                }
                Ok(())
            })
            .await?;
        self.reader
            .read(|conn| {
                let mut select = conn
                    .prepare("SELECT arn FROM executions WHERE status = 'RUNNING' ORDER BY seq")
                    .map_err(unavailable)?;
                let running: Vec<String> = select
                    .query_map([], |r| r.get(0))
                    .map_err(unavailable)?
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)?;
                let mut found = Vec::new();
                for arn in running {
                    found.extend(resumable_row(conn, &arn)?);
                }
                Ok(found)
            })
            .await
    }

    async fn resumable(&self, arn: &str) -> Result<Option<Recovered>, StoreError> {
        let arn = arn.to_owned();
        self.reader.read(move |conn| resumable_row(conn, &arn)).await
    }

    fn durable(&self) -> bool {
        true
    }
}

fn forget_map_progress(tx: &Transaction<'_>, arn: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM map_successes WHERE arn = ?1")
        .and_then(|mut s| s.execute([arn]))
        .map_err(unavailable)?;
    Ok(())
}

fn map_progress(conn: &Connection, arn: &str) -> Result<Option<MapProgress>, StoreError> {
    let map_run: Option<Option<String>> = conn
        .query_row("SELECT map_run FROM executions WHERE arn = ?1", [arn], |r| r.get(0))
        .optional()
        .map_err(unavailable)?;
    let Some(map_run_arn) = map_run.flatten() else { return Ok(None) };
    let mut select =
        conn.prepare_cached("SELECT ordinal, result FROM map_successes WHERE arn = ?1").map_err(unavailable)?;
    let rows = select.query_map([arn], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(unavailable)?;
    let mut succeeded = std::collections::HashMap::new();
    for row in rows {
        let (ordinal, text) = row.map_err(unavailable)?;
        succeeded.insert(ordinal as u64, serde_json::from_str(&text).map_err(corrupt)?);
    }
    Ok(Some(MapProgress { map_run_arn, succeeded }))
}

/// The closed executions retention no longer keeps at `now`.
fn expired(
    tx: &Transaction<'_>,
    now: OffsetDateTime,
    max_age: Option<std::time::Duration>,
    max_closed: Option<usize>,
) -> Result<Vec<String>, StoreError> {
    let mut gone = Vec::new();
    if let Some(age) = max_age {
        let before = nanos(now - age);
        gone.extend(arns(tx, "SELECT arn FROM executions WHERE stop_date < ?1", [before])?);
    }
    if let Some(keep) = max_closed {
        let sql = "SELECT arn FROM executions WHERE stop_date IS NOT NULL ORDER BY stop_date DESC LIMIT -1 OFFSET ?1";
        gone.extend(arns(tx, sql, [keep as i64])?);
    }
    gone.sort();
    gone.dedup();
    Ok(gone)
}

fn arns(tx: &Transaction<'_>, sql: &str, params: impl rusqlite::Params) -> Result<Vec<String>, StoreError> {
    let mut select = tx.prepare_cached(sql).map_err(unavailable)?;
    let rows = select.query_map(params, |r| r.get::<_, String>(0)).map_err(unavailable)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
}

/// A page of executions, newest first: the indexed filters in SQL, the rest on the records.
fn list(conn: &Connection, query: &ListQuery, after: Option<u64>) -> Result<Page<ExecutionRecord>, StoreError> {
    let limit = query.max_results.max(1);
    let mut select = conn
        .prepare_cached(
            "SELECT seq, record FROM executions
             WHERE (?1 IS NULL OR state_machine_arn = ?1) AND (?2 IS NULL OR map_run_arn = ?2)
               AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR seq < ?4)
             ORDER BY seq DESC",
        )
        .map_err(unavailable)?;
    let status = query.status.map(status_text);
    let after = after.map(|a| a as i64);
    let rows = select
        .query_map(params![query.state_machine_arn, query.map_run_arn, status, after], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(unavailable)?;
    let mut items = Vec::new();
    let mut last_seq = 0;
    for row in rows {
        let (seq, text) = row.map_err(unavailable)?;
        let record = record_of(&text)?;
        if !query.matches(&record) {
            continue;
        }
        if items.len() == limit {
            return Ok(Page { items, next_token: Some(query.token_after(last_seq as u64)) });
        }
        last_seq = seq;
        items.push(record);
    }
    Ok(Page { items, next_token: None })
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn apply(&self, changes: Vec<DocumentChange>) -> Result<(), StoreError> {
        self.writer
            .write(move |tx| {
                for change in changes {
                    match change {
                        DocumentChange::Put { kind, key, value } => tx.execute(
                            "INSERT OR REPLACE INTO documents (kind, key, value) VALUES (?1, ?2, ?3)",
                            params![kind.as_str(), key, value],
                        ),
                        DocumentChange::Delete { kind, key } => tx
                            .execute("DELETE FROM documents WHERE kind = ?1 AND key = ?2", params![kind.as_str(), key]),
                    }
                    .map_err(unavailable)?;
                }
                Ok(())
            })
            .await
    }

    async fn load(&self, kind: DocumentKind) -> Result<Vec<(String, String)>, StoreError> {
        self.reader
            .read(move |conn| {
                let mut select = conn
                    .prepare_cached("SELECT key, value FROM documents WHERE kind = ?1 ORDER BY key")
                    .map_err(unavailable)?;
                let rows = select.query_map([kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).map_err(unavailable)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
            })
            .await
    }
}
