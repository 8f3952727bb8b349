//! [`PostgresStore`]: executions, history, checkpoints and documents in a PostgreSQL database that
//! several Legion instances share.
//!
//! Each instance owns the executions it runs through a lease on their rows, renewed every third of
//! its length. Every write of a running execution is fenced by that ownership: an instance whose
//! lease ran out (it stalled, or lost the database) gets [`StoreError::LeaseLost`] and writes
//! nothing, while the instance that took the execution over resumes it from its last commit.
//! Answers to task tokens and stop requests that reach another instance travel through the
//! `signals` table, announced with `NOTIFY` and polled every second as well.

mod children;
mod map_runs;
mod schema;
mod signals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use legion_engine::history::{History, HistoryEvent};
use legion_engine::{
    Commit, DocumentChange, DocumentChanges, DocumentKind, DocumentStore, ExecutionRecord, ExecutionStatus,
    ExecutionStore, Inbox, Launch, ListQuery, MapProgress, Outcome, Page, Recovered, Reservation, Retention,
    SavedCheckpoint, Sent, Signal, StoreError,
};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};
use time::OffsetDateTime;

use crate::rows::{corrupt, from_json, interrupted, json, launch_columns, nanos, record_of, unavailable};

/// How long an instance owns its running executions without renewing (`lease=SECONDS` in the URL).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// How many claimed map-run children an instance runs at once by default (`children=N` in the URL).
pub const DEFAULT_CHILD_CAPACITY: usize = 10_000;

/// How many connections an instance keeps at most.
const CONNECTIONS: u32 = 16;

/// Map-run successes are written in batches of at most this many.
const SUCCESS_BATCH: usize = 500;

/// A child success waiting to be written: (execution, ordinal, result).
type PendingSuccess = (String, i64, String);

/// Keeps executions in a PostgreSQL database shared by any number of Legion instances.
pub struct PostgresStore {
    inner: Arc<Inner>,
    /// The running map runs and children.
    map_runs: crate::map_runs::MapRunCache,
    /// Map-run writes, applied in order by a background task.
    map_run_writes: tokio::sync::mpsc::UnboundedSender<map_runs::Write>,
    /// Offers, results and withdrawals of map-run children, applied in order by a background task.
    child_writes: tokio::sync::mpsc::UnboundedSender<children::Write>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

pub(crate) struct Inner {
    pool: PgPool,
    /// This instance's name in `executions.owner`.
    owner: String,
    lease: Duration,
    retention: Retention,
    /// Map-run child successes not written yet.
    successes: Mutex<Vec<PendingSuccess>>,
    /// Held while pending successes are written, so a commit after them finds them written.
    flushing: tokio::sync::Mutex<()>,
    /// Where signals for this instance's executions go.
    inbox: OnceLock<Inbox>,
    /// The map-run children this instance waits for.
    children: Arc<children::Children>,
    /// How many claimed children this instance runs at once at most.
    child_capacity: usize,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl PostgresStore {
    /// Reserves a Standard execution's name with one statement, owned by this instance; a started
    /// one is recorded with what resuming it needs.
    async fn claim_name(
        &self,
        record: ExecutionRecord,
        started: bool,
        launch: Option<Launch>,
    ) -> Result<Reservation, StoreError> {
        let i = &self.inner;
        let (definition, role_arn, token_seed) = launch_columns(launch);
        let inserted = sqlx::query(
            "INSERT INTO executions (arn, state_machine_arn, map_run_arn, status, record, started, definition,
                                     role_arn, token_seed, owner, lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + $11 * interval '1 second')
             ON CONFLICT (arn) DO NOTHING",
        )
        .bind(&record.arn)
        .bind(&record.state_machine_arn)
        .bind(&record.map_run_arn)
        .bind(record.status.as_str())
        .bind(json(&record)?)
        .bind(started)
        .bind(definition)
        .bind(role_arn)
        .bind(token_seed)
        .bind(&i.owner)
        .bind(i.lease_secs())
        .execute(&i.pool)
        .await
        .map_err(unavailable)?;
        if inserted.rows_affected() == 1 {
            return Ok(Reservation::Reserved);
        }
        match load(&i.pool, &record.arn).await? {
            Some(existing) if existing.same_running_start(&record) => Ok(Reservation::Existing(Box::new(existing))),
            _ => Err(StoreError::AlreadyExists(record.arn)),
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("owner", &self.inner.owner).finish_non_exhaustive()
    }
}

/// Legion's own parameters of a `postgres://` URL.
struct Options {
    lease: Duration,
    children: usize,
}

/// Splits Legion's own parameters (`lease=SECONDS`, `children=N`) off a `postgres://` URL.
fn options_of(url: &str) -> Result<(String, Options), StoreError> {
    let mut options = Options { lease: DEFAULT_LEASE, children: DEFAULT_CHILD_CAPACITY };
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), options)) };
    let mut rest = Vec::new();
    for pair in query.split('&') {
        if let Some(secs) = pair.strip_prefix("lease=") {
            let secs: f64 = secs
                .trim_end_matches('s')
                .parse()
                .map_err(|_| StoreError::Unavailable(format!("lease={secs}: give the lease in seconds, lease=10")))?;
            if !(0.5..=3600.0).contains(&secs) {
                return Err(StoreError::Unavailable(format!("lease={secs}: from 0.5 to 3600 seconds")));
            }
            options.lease = Duration::from_secs_f64(secs);
        } else if let Some(n) = pair.strip_prefix("children=") {
            options.children = n.parse().ok().filter(|n| (1..=100_000).contains(n)).ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "children={n}: how many map-run children this instance runs at once, from 1 to 100000"
                ))
            })?;
        } else {
            rest.push(pair);
        }
    }
    let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, options))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`, optionally with
    /// `?lease=SECONDS` and `children=N`) and brings its schema up to date; a database written by a newer Legion is
    /// refused with [`StoreError::Corrupt`].
    pub async fn open(url: &str, retention: Retention) -> Result<PostgresStore, StoreError> {
        let (url, Options { lease, children: child_capacity }) = options_of(url)?;
        let options: PgConnectOptions = url.parse().map_err(|e| unavailable(format!("{url}: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| unavailable(format!("cannot connect to {}: {e}", redact(&url))))?;
        schema::migrate(&pool).await.map_err(|e| StoreError::Corrupt(format!("{}: {e}", redact(&url))))?;
        let inner = Arc::new(Inner {
            pool,
            owner: uuid::Uuid::new_v4().to_string(),
            lease,
            retention,
            successes: Mutex::new(Vec::new()),
            flushing: tokio::sync::Mutex::new(()),
            inbox: OnceLock::new(),
            children: Arc::default(),
            child_capacity,
        });
        let (map_run_writes, queued) = tokio::sync::mpsc::unbounded_channel();
        let background = vec![
            tokio::spawn(renew_leases(Arc::downgrade(&inner))),
            tokio::spawn(flush_successes(Arc::downgrade(&inner))),
            tokio::spawn(signals::listen(Arc::downgrade(&inner))),
            tokio::spawn(children::listen(Arc::downgrade(&inner))),
            tokio::spawn(children::collect(Arc::downgrade(&inner))),
        ];
        let (child_writes, child_queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(children::apply_writes(Arc::downgrade(&inner), child_queue));
        // Not aborted with the others: it ends once the store is gone and what it holds is written.
        tokio::spawn(map_runs::apply_writes(inner.pool.clone(), queued));
        Ok(PostgresStore { inner, map_runs: Default::default(), map_run_writes, child_writes, background })
    }

    /// This instance's name as the owner of the executions it runs.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }
}

/// `(key, ordinal, text)` rows as three columns, for `UNNEST`.
fn columns(rows: Vec<(String, i64, String)>) -> (Vec<String>, Vec<i64>, Vec<String>) {
    let mut out = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for (key, ordinal, text) in rows {
        out.0.push(key);
        out.1.push(ordinal);
        out.2.push(text);
    }
    out
}

/// The next writes a background writer applies together: the first to arrive and up to `max - 1`
/// already waiting behind it; `None` once the store is gone.
async fn next_batch<T>(writes: &mut tokio::sync::mpsc::UnboundedReceiver<T>, max: usize) -> Option<Vec<T>> {
    let mut batch = vec![writes.recv().await?];
    while batch.len() < max {
        match writes.try_recv() {
            Ok(w) => batch.push(w),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &url[scheme + 3..at];
            match user_info.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Renews this instance's leases every third of their length, for as long as the store lives.
async fn renew_leases(inner: std::sync::Weak<Inner>) {
    let period = match inner.upgrade() {
        Some(i) => i.lease / 3,
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else { return };
        let renewed = sqlx::query(
            "UPDATE executions SET lease_until = now() + $2 * interval '1 second'
             WHERE owner = $1 AND status = 'RUNNING'",
        )
        .bind(&inner.owner)
        .bind(inner.lease.as_secs_f64())
        .execute(&inner.pool)
        .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "could not renew the leases of running executions");
        }
    }
}

/// Writes the queued map-run successes every 200 ms.
async fn flush_successes(inner: std::sync::Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(e) = inner.write_successes().await {
            tracing::warn!(error = %e, "could not note the successes of map-run children");
        }
    }
}

impl Inner {
    fn lease_secs(&self) -> f64 {
        self.lease.as_secs_f64()
    }

    /// Writes the queued child successes (a lost one only means its child runs again).
    async fn write_successes(&self) -> Result<(), StoreError> {
        let _order = self.flushing.lock().await;
        loop {
            let batch: Vec<PendingSuccess> = {
                let mut pending = self.successes.lock().unwrap_or_else(|e| e.into_inner());
                let n = pending.len().min(SUCCESS_BATCH);
                pending.drain(..n).collect()
            };
            if batch.is_empty() {
                return Ok(());
            }
            let (arns, ordinals, results) = columns(batch);
            // The success belongs to the map run the execution is in now; one that arrives after
            // the state moved on finds no map run and is dropped.
            sqlx::query(
                "INSERT INTO map_successes (arn, map_run, ordinal, result)
                 SELECT s.arn, e.map_run, s.ordinal, s.result
                 FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS s(arn, ordinal, result)
                 JOIN executions e ON e.arn = s.arn AND e.map_run IS NOT NULL
                 ON CONFLICT (arn, map_run, ordinal) DO UPDATE SET result = excluded.result",
            )
            .bind(arns)
            .bind(ordinals)
            .bind(results)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        }
    }

    /// Takes the row of a running execution this instance owns for a write; [`StoreError::LeaseLost`]
    /// when another instance has taken it over.
    async fn own(&self, tx: &mut Transaction<'_, Postgres>, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let row = sqlx::query("SELECT record, owner FROM executions WHERE arn = $1 FOR UPDATE")
            .bind(arn)
            .fetch_optional(&mut **tx)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let owner: Option<String> = row.get(1);
        if owner.as_deref().is_some_and(|o| o != self.owner) {
            return Err(StoreError::LeaseLost(arn.to_owned()));
        }
        Ok(Some(record_of(row.get(0))?))
    }
}

async fn load(executor: impl sqlx::PgExecutor<'_>, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
    let text: Option<String> = sqlx::query_scalar("SELECT record FROM executions WHERE arn = $1")
        .bind(arn)
        .fetch_optional(executor)
        .await
        .map_err(unavailable)?;
    text.as_deref().map(record_of).transpose()
}

async fn save(tx: &mut Transaction<'_, Postgres>, record: &ExecutionRecord) -> Result<(), StoreError> {
    sqlx::query("UPDATE executions SET record = $2, status = $3, stop_date = $4 WHERE arn = $1")
        .bind(&record.arn)
        .bind(json(record)?)
        .bind(record.status.as_str())
        .bind(record.stop_date.map(nanos))
        .execute(&mut **tx)
        .await
        .map_err(unavailable)?;
    Ok(())
}

async fn append(tx: &mut Transaction<'_, Postgres>, arn: &str, events: &[HistoryEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id as i64).collect();
    let texts = events.iter().map(json).collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "INSERT INTO events (arn, id, event) SELECT $1, id, event FROM UNNEST($2::bigint[], $3::text[]) AS e(id, event)
         ON CONFLICT (arn, id) DO UPDATE SET event = excluded.event, provisional = FALSE",
    )
    .bind(arn)
    .bind(ids)
    .bind(texts)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}

async fn events_of(executor: impl sqlx::PgExecutor<'_>, arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
    let texts: Vec<String> = sqlx::query_scalar("SELECT event FROM events WHERE arn = $1 ORDER BY id")
        .bind(arn)
        .fetch_all(executor)
        .await
        .map_err(unavailable)?;
    texts.iter().map(|t| from_json(t)).collect()
}

async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin().await.map_err(unavailable)
}

async fn done(tx: Transaction<'_, Postgres>) -> Result<(), StoreError> {
    tx.commit().await.map_err(unavailable)
}

/// A row as resuming needs it: record, definition, role, checkpoint and history.
async fn resumable_row(pool: &PgPool, arn: &str) -> Result<Option<Recovered>, StoreError> {
    let row = sqlx::query(
        "SELECT record, definition, role_arn, checkpoint, token_seed FROM executions
         WHERE arn = $1 AND definition IS NOT NULL",
    )
    .bind(arn)
    .fetch_optional(pool)
    .await
    .map_err(unavailable)?;
    let Some(row) = row else { return Ok(None) };
    let checkpoint: Option<String> = row.get(3);
    let checkpoint: Option<SavedCheckpoint> = checkpoint.as_deref().map(from_json).transpose()?;
    let definition: String = row.get(1);
    let role_arn: Option<String> = row.get(2);
    Ok(Some(Recovered {
        record: record_of(row.get(0))?,
        launch: Launch {
            definition: definition.into(),
            role_arn: role_arn.unwrap_or_default(),
            token_seed: row.get(4),
        },
        history: events_of(pool, arn).await?,
        checkpoint,
    }))
}

#[async_trait]
impl ExecutionStore for PostgresStore {
    async fn reserve(&self, record: ExecutionRecord) -> Result<Reservation, StoreError> {
        self.claim_name(record, false, None).await
    }

    async fn start(
        &self,
        record: ExecutionRecord,
        _: History,
        launch: Option<Launch>,
    ) -> Result<Reservation, StoreError> {
        self.claim_name(record, true, launch).await
    }

    async fn insert(&self, record: ExecutionRecord, _: History, launch: Option<Launch>) -> Result<(), StoreError> {
        let i = &self.inner;
        let mut tx = begin(&i.pool).await?;
        let record = match i.own(&mut tx, &record.arn).await? {
            Some(mut reserved) => {
                // Filled in after a reservation: keep the reserved metadata, take the real start.
                reserved.start_date = record.start_date;
                reserved.machine_type = record.machine_type;
                save(&mut tx, &reserved).await?;
                reserved
            }
            None => {
                sqlx::query(
                    "INSERT INTO executions (arn, state_machine_arn, map_run_arn, status, record) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&record.arn)
                .bind(&record.state_machine_arn)
                .bind(&record.map_run_arn)
                .bind(record.status.as_str())
                .bind(json(&record)?)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                record
            }
        };
        let (definition, role_arn, token_seed) = launch_columns(launch);
        sqlx::query(
            "UPDATE executions SET started = TRUE, definition = $2, role_arn = $3, token_seed = $4, owner = $5,
             lease_until = now() + $6 * interval '1 second' WHERE arn = $1",
        )
        .bind(&record.arn)
        .bind(definition)
        .bind(role_arn)
        .bind(token_seed)
        .bind(&i.owner)
        .bind(i.lease_secs())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        done(tx).await
    }

    async fn commit(&self, arn: &str, commit: Commit) -> Result<(), StoreError> {
        let i = &self.inner;
        i.write_successes().await?;
        let mut tx = begin(&i.pool).await?;
        i.own(&mut tx, arn).await?;
        append(&mut tx, arn, &commit.events).await?;
        sqlx::query("UPDATE executions SET checkpoint = $2, map_run = NULL WHERE arn = $1")
            .bind(arn)
            .bind(json(&commit.checkpoint)?)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        forget_map_progress(&mut tx, arn).await?;
        done(tx).await
    }

    async fn map_run_started(&self, arn: &str, map_run_arn: &str) -> Result<(), StoreError> {
        let i = &self.inner;
        let mut tx = begin(&i.pool).await?;
        i.own(&mut tx, arn).await?;
        sqlx::query("UPDATE executions SET map_run = $2 WHERE arn = $1")
            .bind(arn)
            .bind(map_run_arn)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        done(tx).await
    }

    fn map_child_succeeded(&self, arn: &str, ordinal: u64, result: Value) {
        let Ok(text) = json(&result) else { return };
        let mut pending = self.inner.successes.lock().unwrap_or_else(|e| e.into_inner());
        pending.push((arn.to_owned(), ordinal as i64, text));
    }

    async fn map_progress(&self, arn: &str) -> Result<Option<MapProgress>, StoreError> {
        let i = &self.inner;
        i.write_successes().await?;
        let map_run: Option<Option<String>> = sqlx::query_scalar("SELECT map_run FROM executions WHERE arn = $1")
            .bind(arn)
            .fetch_optional(&i.pool)
            .await
            .map_err(unavailable)?;
        let Some(map_run_arn) = map_run.flatten() else { return Ok(None) };
        let rows = sqlx::query("SELECT ordinal, result FROM map_successes WHERE arn = $1 AND map_run = $2")
            .bind(arn)
            .bind(&map_run_arn)
            .fetch_all(&i.pool)
            .await
            .map_err(unavailable)?;
        let mut succeeded = HashMap::with_capacity(rows.len());
        for row in rows {
            let ordinal: i64 = row.get(0);
            succeeded.insert(ordinal as u64, from_json(row.get::<&str, _>(1))?);
        }
        Ok(Some(MapProgress { map_run_arn, succeeded }))
    }

    async fn redriven(&self, arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError> {
        let i = &self.inner;
        let mut tx = begin(&i.pool).await?;
        let row = sqlx::query_scalar::<_, String>("SELECT record FROM executions WHERE arn = $1 FOR UPDATE")
            .bind(arn)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
        let Some(text) = row else { return Ok(None) };
        let mut record = record_of(&text)?;
        if record.status == ExecutionStatus::Running {
            // Another instance redrove it first.
            return Err(StoreError::AlreadyExists(arn.to_owned()));
        }
        let count = record.reopen(date);
        save(&mut tx, &record).await?;
        sqlx::query("UPDATE executions SET owner = $2, lease_until = now() + $3 * interval '1 second' WHERE arn = $1")
            .bind(arn)
            .bind(&i.owner)
            .bind(i.lease_secs())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        done(tx).await?;
        Ok(Some(count))
    }

    async fn finish(
        &self,
        arn: &str,
        outcome: &Outcome,
        stop_date: OffsetDateTime,
        events: Vec<HistoryEvent>,
    ) -> Result<(), StoreError> {
        let i = &self.inner;
        i.write_successes().await?;
        let mut tx = begin(&i.pool).await?;
        let Some(mut record) = i.own(&mut tx, arn).await? else { return Ok(()) };
        append(&mut tx, arn, &events).await?;
        forget_map_progress(&mut tx, arn).await?;
        for table in ["DELETE FROM tokens WHERE arn = $1", "DELETE FROM signals WHERE arn = $1"] {
            sqlx::query(table).bind(arn).execute(&mut *tx).await.map_err(unavailable)?;
        }
        record.close(outcome, stop_date);
        save(&mut tx, &record).await?;
        done(tx).await
    }

    async fn purge(&self, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        let i = &self.inner;
        if i.retention.keeps_everything() {
            return Ok(Vec::new());
        }
        let Retention { max_age, max_closed, .. } = i.retention;
        let mut gone: Vec<String> = Vec::new();
        if let Some(age) = max_age {
            let before = nanos(now - age);
            gone.extend(
                sqlx::query_scalar::<_, String>("SELECT arn FROM executions WHERE stop_date < $1")
                    .bind(before)
                    .fetch_all(&i.pool)
                    .await
                    .map_err(unavailable)?,
            );
        }
        if let Some(keep) = max_closed {
            gone.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT arn FROM executions WHERE stop_date IS NOT NULL ORDER BY stop_date DESC OFFSET $1",
                )
                .bind(keep as i64)
                .fetch_all(&i.pool)
                .await
                .map_err(unavailable)?,
            );
        }
        gone.sort();
        gone.dedup();
        if gone.is_empty() {
            return Ok(gone);
        }
        let mut tx = begin(&i.pool).await?;
        for delete in [
            "DELETE FROM events WHERE arn = ANY($1)",
            "DELETE FROM map_successes WHERE arn = ANY($1)",
            "DELETE FROM tokens WHERE arn = ANY($1)",
            "DELETE FROM signals WHERE arn = ANY($1)",
            "DELETE FROM executions WHERE arn = ANY($1)",
        ] {
            sqlx::query(delete).bind(&gone).execute(&mut *tx).await.map_err(unavailable)?;
        }
        done(tx).await?;
        Ok(gone)
    }

    async fn get(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        load(&self.inner.pool, arn).await
    }

    async fn history(&self, arn: &str) -> Result<Option<Vec<HistoryEvent>>, StoreError> {
        let pool = &self.inner.pool;
        let known: Option<i64> = sqlx::query_scalar("SELECT seq FROM executions WHERE arn = $1")
            .bind(arn)
            .fetch_optional(pool)
            .await
            .map_err(unavailable)?;
        match known {
            Some(_) => Ok(Some(events_of(pool, arn).await?)),
            None => Ok(None),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let after = query.after()?;
        let limit = query.max_results.max(1);
        // The indexed filters in SQL, the rest on the records, a page (plus one) at a time.
        let mut cursor = after.map(|a| a as i64);
        let mut items = Vec::new();
        loop {
            let rows = sqlx::query(
                "SELECT seq, record FROM executions
                 WHERE ($1::text IS NULL OR state_machine_arn = $1) AND ($2::text IS NULL OR map_run_arn = $2)
                   AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR seq < $4)
                 ORDER BY seq DESC LIMIT $5",
            )
            .bind(&query.state_machine_arn)
            .bind(&query.map_run_arn)
            .bind(query.status.map(|s| s.as_str()))
            .bind(cursor)
            .bind((limit + 1) as i64)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(unavailable)?;
            let exhausted = rows.len() <= limit;
            for row in rows {
                let seq: i64 = row.get(0);
                let record = record_of(row.get(1))?;
                cursor = Some(seq);
                if !query.matches(&record) {
                    continue;
                }
                if items.len() == limit {
                    let last: i64 = items.last().map(|(s, _)| *s).unwrap_or(seq);
                    let items = items.into_iter().map(|(_, r)| r).collect();
                    return Ok(Page { items, next_token: Some(query.token_after(last as u64)) });
                }
                items.push((seq, record));
            }
            if exhausted {
                return Ok(Page { items: items.into_iter().map(|(_, r)| r).collect(), next_token: None });
            }
        }
    }

    /// Claims the RUNNING executions whose owner's lease ran out (all of them after a restart of the
    /// only instance, once its old lease has run out) and returns what resuming them needs.
    async fn recover(&self) -> Result<Vec<Recovered>, StoreError> {
        let i = &self.inner;
        let stuck: Vec<String> = sqlx::query_scalar(
            "SELECT arn FROM executions WHERE status = 'RUNNING' AND (NOT started OR definition IS NULL)
             AND (lease_until IS NULL OR lease_until < now())",
        )
        .fetch_all(&i.pool)
        .await
        .map_err(unavailable)?;
        let now = OffsetDateTime::now_utc();
        for arn in stuck {
            let mut tx = begin(&i.pool).await?;
            if let Some(mut record) = load(&mut *tx, &arn).await? {
                record.close(&interrupted(), now);
                save(&mut tx, &record).await?;
            }
            done(tx).await?;
        }
        let claimed: Vec<String> = sqlx::query_scalar(
            "UPDATE executions SET owner = $1, lease_until = now() + $2 * interval '1 second'
             WHERE arn IN (SELECT arn FROM executions WHERE status = 'RUNNING' AND started AND definition IS NOT NULL
                           AND (lease_until IS NULL OR lease_until < now()) ORDER BY seq FOR UPDATE SKIP LOCKED)
             RETURNING arn",
        )
        .bind(&i.owner)
        .bind(i.lease_secs())
        .fetch_all(&i.pool)
        .await
        .map_err(unavailable)?;
        // What the previous owner published after its last commit is recorded again as it resumes.
        sqlx::query("DELETE FROM events WHERE arn = ANY($1) AND provisional")
            .bind(&claimed)
            .execute(&i.pool)
            .await
            .map_err(unavailable)?;
        let mut found = Vec::with_capacity(claimed.len());
        for arn in claimed {
            found.extend(resumable_row(&i.pool, &arn).await?);
        }
        found.sort_by_key(|r| r.record.start_date);
        Ok(found)
    }

    async fn resumable(&self, arn: &str) -> Result<Option<Recovered>, StoreError> {
        resumable_row(&self.inner.pool, arn).await
    }

    fn durable(&self) -> bool {
        true
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.inner.lease)
    }

    fn subscribe(&self, inbox: Inbox) {
        let _ = self.inner.inbox.set(inbox);
    }

    async fn token_opened(&self, arn: &str, token: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tokens (token, arn, state) VALUES ($1, $2, 'open') ON CONFLICT (token) DO NOTHING")
            .bind(token)
            .bind(arn)
            .execute(&self.inner.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn publish(&self, arn: &str, events: Vec<HistoryEvent>) {
        let Ok(texts) = events.iter().map(json).collect::<Result<Vec<_>, _>>() else { return };
        let ids: Vec<i64> = events.iter().map(|e| e.id as i64).collect();
        let (inner, arn) = (self.inner.clone(), arn.to_owned());
        tokio::spawn(async move {
            // Only while this instance owns the execution, and never over a committed event.
            let published = sqlx::query(
                "INSERT INTO events (arn, id, event, provisional)
                 SELECT $1, id, event, TRUE FROM UNNEST($2::bigint[], $3::text[]) AS e(id, event)
                 WHERE EXISTS (SELECT 1 FROM executions WHERE arn = $1 AND owner = $4)
                 ON CONFLICT (arn, id) DO NOTHING",
            )
            .bind(&arn)
            .bind(ids)
            .bind(texts)
            .bind(&inner.owner)
            .execute(&inner.pool)
            .await;
            if let Err(e) = published {
                tracing::debug!(execution = %arn, error = %e, "could not publish recent events");
            }
        });
    }

    fn token_closed(&self, token: &str) {
        let (pool, token) = (self.inner.pool.clone(), token.to_owned());
        tokio::spawn(async move {
            let _ =
                sqlx::query("DELETE FROM tokens WHERE token = $1 AND state = 'open'").bind(&token).execute(&pool).await;
            let _ = sqlx::query("DELETE FROM activity_tasks WHERE token = $1").bind(&token).execute(&pool).await;
        });
    }

    async fn activity_scheduled(&self, activity_arn: &str, token: &str, input: &Value) -> Result<(), StoreError> {
        // Scheduled again after a restart or a takeover (the same token): offered again.
        sqlx::query(
            "INSERT INTO activity_tasks (token, activity_arn, input) VALUES ($1, $2, $3)
             ON CONFLICT (token) DO UPDATE SET input = excluded.input, taken = FALSE",
        )
        .bind(token)
        .bind(activity_arn)
        .bind(json(input)?)
        .execute(&self.inner.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn take_activity(&self, activity_arn: &str) -> Result<Option<(String, Value)>, StoreError> {
        let row = sqlx::query(
            "UPDATE activity_tasks SET taken = TRUE WHERE token = (
                 SELECT token FROM activity_tasks WHERE activity_arn = $1 AND NOT taken
                 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING token, input",
        )
        .bind(activity_arn)
        .fetch_optional(&self.inner.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let input: String = row.get(1);
        Ok(Some((row.get(0), from_json(&input)?)))
    }

    async fn send(&self, signal: Signal) -> Result<Sent, StoreError> {
        signals::send(&self.inner, signal).await
    }
}

async fn forget_map_progress(tx: &mut Transaction<'_, Postgres>, arn: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM map_successes WHERE arn = $1").bind(arn).execute(&mut **tx).await.map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl DocumentStore for PostgresStore {
    async fn apply(&self, changes: Vec<DocumentChange>) -> Result<(), StoreError> {
        let mut tx = begin(&self.inner.pool).await?;
        for change in changes {
            // A deletion leaves a row without a value, so that other instances learn of it.
            let (kind, key, value) = match change {
                DocumentChange::Put { kind, key, value } => (kind, key, Some(value)),
                DocumentChange::Delete { kind, key } => (kind, key, None),
            };
            sqlx::query(
                "INSERT INTO documents (kind, key, value, version) VALUES ($1, $2, $3, nextval('document_versions'))
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, version = excluded.version",
            )
            .bind(kind.as_str())
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        done(tx).await
    }

    async fn load(&self, kind: DocumentKind) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT key, value FROM documents WHERE kind = $1 AND value IS NOT NULL ORDER BY key")
            .bind(kind.as_str())
            .fetch_all(&self.inner.pool)
            .await
            .map_err(unavailable)?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn changes(&self, after: Option<u64>) -> Result<DocumentChanges, StoreError> {
        let pool = &self.inner.pool;
        let Some(after) = after else {
            let mark: Option<i64> =
                sqlx::query_scalar("SELECT max(version) FROM documents").fetch_one(pool).await.map_err(unavailable)?;
            return Ok(DocumentChanges { mark: mark.unwrap_or(0) as u64, changes: Vec::new() });
        };
        let rows = sqlx::query("SELECT kind, key, value, version FROM documents WHERE version > $1 ORDER BY version")
            .bind(after as i64)
            .fetch_all(pool)
            .await
            .map_err(unavailable)?;
        let mut mark = after;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = DocumentKind::parse(row.get(0)).ok_or_else(|| corrupt("a document of an unknown kind"))?;
            let (key, value): (String, Option<String>) = (row.get(1), row.get(2));
            mark = mark.max(row.get::<i64, _>(3) as u64);
            changes.push(match value {
                Some(value) => DocumentChange::Put { kind, key, value },
                None => DocumentChange::Delete { kind, key },
            });
        }
        Ok(DocumentChanges { mark, changes })
    }

    fn shared(&self) -> bool {
        true
    }
}
