//! [`PostgresStore`] as a [`ChildQueue`]: the children of Distributed Maps in `map_child_queue`, so
//! that every instance runs them.
//!
//! The instance that runs a map run offers its children (rows without a claim); every instance claims
//! some with `FOR UPDATE SKIP LOCKED`, holds them through a lease it renews, and writes each result
//! into its row; the offering instance takes the results out (deleting the rows) and hands each to the
//! child's waiting future. Offers, results and withdrawals go through one task that applies them in
//! order and in batches, announced with `NOTIFY legion_children`. A child whose claimer stops renewing
//! is claimed again by another instance: a child runs at least once.

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use legion_asl::model::StateMachineType;
use legion_engine::map_run::{ChildQueue, ChildResult, QueuedChild};
use legion_engine::StoreError;
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, oneshot, Notify};

use super::{Inner, PostgresStore};
use crate::rows::{from_json, json, record_of, unavailable};

/// The channel offers and results are announced on.
const CHANNEL: &str = "legion_children";
/// How many queued writes one round trip takes at most.
const BATCH: usize = 1000;
/// How often the offering instance looks for results without a notification.
const COLLECT_EVERY: Duration = Duration::from_millis(250);

/// A queued write to `map_child_queue`.
pub(super) enum Write {
    Offer(QueuedChild),
    Result { map_run_arn: String, ordinal: u64, result: ChildResult },
    Close(String),
}

/// What this instance waits for and is told about.
#[derive(Default)]
pub(super) struct Children {
    /// The futures waiting for results, by map run and ordinal.
    waiting: Mutex<Waiting>,
    /// Told when a child may have been offered.
    offered: Notify,
    /// Told when a result may have been written.
    finished: Notify,
}

#[derive(Default)]
struct Waiting {
    senders: HashMap<String, HashMap<u64, oneshot::Sender<ChildResult>>>,
    /// Results taken out before their future asked (a child offered again after a takeover).
    early: HashMap<(String, u64), ChildResult>,
}

/// Applies queued writes in order until the store is dropped.
pub(super) async fn apply_writes(inner: Weak<Inner>, mut writes: mpsc::UnboundedReceiver<Write>) {
    while let Some(batch) = super::next_batch(&mut writes, BATCH).await {
        let Some(inner) = inner.upgrade() else { return };
        // A lost offer or result only delays: the offer is made again by the instance that takes the
        // map run over, and a child without a result is claimed again when its lease runs out.
        if let Err(e) = apply(&inner.pool, batch).await {
            tracing::warn!(error = %e, "could not write map-run children to the queue");
        }
    }
}

async fn apply(pool: &PgPool, batch: Vec<Write>) -> Result<(), StoreError> {
    let mut offers = Vec::new();
    let mut results = Vec::new();
    for write in batch {
        match write {
            Write::Offer(child) => offers.push((child.map_run_arn.clone(), child.ordinal as i64, json(&child)?)),
            Write::Result { map_run_arn, ordinal, result } => {
                results.push((map_run_arn, ordinal as i64, json(&result)?))
            }
            Write::Close(run) => {
                // Offers before the withdrawal are written first, so that none outlives it.
                write_rows(pool, OFFER, std::mem::take(&mut offers), "offered").await?;
                sqlx::query("DELETE FROM map_child_queue WHERE map_run_arn = $1")
                    .bind(run)
                    .execute(pool)
                    .await
                    .map_err(unavailable)?;
            }
        }
    }
    write_rows(pool, OFFER, offers, "offered").await?;
    write_rows(pool, RESULT, results, "finished").await
}

/// Offers children: `(map run, ordinal, child)` rows; an offer made before stands.
const OFFER: &str = "INSERT INTO map_child_queue (map_run_arn, ordinal, child)
     SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING";

/// Writes results: `(map run, ordinal, result)` rows. The first result stands (a child claimed again
/// after a stall may end twice).
const RESULT: &str = "UPDATE map_child_queue q SET result = r.result
     FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS r(run, ordinal, result)
     WHERE q.map_run_arn = r.run AND q.ordinal = r.ordinal AND q.result IS NULL";

/// Runs `sql` over `rows` as three arrays and announces `what`, in one transaction.
async fn write_rows(
    pool: &PgPool,
    sql: &'static str,
    rows: Vec<(String, i64, String)>,
    what: &str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let (runs, ordinals, texts) = super::columns(rows);
    let mut tx = pool.begin().await.map_err(unavailable)?;
    sqlx::query(sql).bind(runs).bind(ordinals).bind(texts).execute(&mut *tx).await.map_err(unavailable)?;
    notify(&mut tx, what).await?;
    tx.commit().await.map_err(unavailable)
}

async fn notify(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, what: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(what).execute(&mut **tx).await.map_err(unavailable)?;
    Ok(())
}

/// Wakes claimers and collectors on notifications, for as long as the store lives.
pub(super) async fn listen(inner: Weak<Inner>) {
    let mut listener: Option<PgListener> = None;
    loop {
        let Some(strong) = inner.upgrade() else { return };
        if listener.is_none() {
            listener = subscribe(&strong.pool).await;
        }
        let children = strong.children.clone();
        drop(strong);
        match listener.as_mut() {
            Some(l) => match tokio::time::timeout(Duration::from_secs(1), l.try_recv()).await {
                Ok(Ok(Some(n))) => match n.payload() {
                    "offered" => children.offered.notify_one(),
                    _ => children.finished.notify_one(),
                },
                // The connection broke (or closed): renewed next round; the pollers cover the gap.
                Ok(Ok(None)) | Ok(Err(_)) => listener = None,
                Err(_) => {}
            },
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

async fn subscribe(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(CHANNEL).await.ok()?;
    Some(listener)
}

/// Takes out the results of the children this instance waits for, and hands them to their futures.
pub(super) async fn collect(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let children = strong.children.clone();
        let runs: Vec<String> = {
            let waiting = children.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.senders.iter().filter(|(_, s)| !s.is_empty()).map(|(run, _)| run.clone()).collect()
        };
        if !runs.is_empty() {
            match take_results(&strong.pool, &runs).await {
                Ok(results) => children.deliver(results),
                Err(e) => tracing::warn!(error = %e, "could not read the results of map-run children"),
            }
        }
        drop(strong);
        let _ = tokio::time::timeout(COLLECT_EVERY, children.finished.notified()).await;
    }
}

async fn take_results(pool: &PgPool, runs: &[String]) -> Result<Vec<(String, u64, ChildResult)>, StoreError> {
    let rows = sqlx::query(
        "DELETE FROM map_child_queue WHERE map_run_arn = ANY($1) AND result IS NOT NULL
         RETURNING map_run_arn, ordinal, result",
    )
    .bind(runs)
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    rows.iter()
        .map(|row| {
            let (run, ordinal, text): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
            Ok((run, ordinal as u64, from_json(&text)?))
        })
        .collect()
}

impl Children {
    fn deliver(&self, results: Vec<(String, u64, ChildResult)>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for (run, ordinal, result) in results {
            let sender = waiting.senders.get_mut(&run).and_then(|s| s.remove(&ordinal));
            match sender {
                Some(tx) => {
                    let _ = tx.send(result);
                }
                None => {
                    waiting.early.insert((run, ordinal), result);
                }
            }
        }
    }
}

#[async_trait]
impl ChildQueue for PostgresStore {
    fn offer(&self, child: QueuedChild) {
        let _ = self.child_writes.send(Write::Offer(child));
    }

    async fn result(&self, map_run_arn: &str, ordinal: u64) -> Result<ChildResult, StoreError> {
        let rx = {
            let mut waiting = self.inner.children.waiting.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(result) = waiting.early.remove(&(map_run_arn.to_owned(), ordinal)) {
                return Ok(result);
            }
            let (tx, rx) = oneshot::channel();
            waiting.senders.entry(map_run_arn.to_owned()).or_default().insert(ordinal, tx);
            rx
        };
        rx.await.map_err(|_| unavailable("the store was closed"))
    }

    fn close_run(&self, map_run_arn: &str) {
        {
            let mut waiting = self.inner.children.waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.senders.remove(map_run_arn);
            waiting.early.retain(|(run, _), _| run != map_run_arn);
        }
        let _ = self.child_writes.send(Write::Close(map_run_arn.to_owned()));
    }

    async fn claim(&self, max: usize) -> Result<Vec<QueuedChild>, StoreError> {
        let i = &self.inner;
        let texts: Vec<String> = sqlx::query_scalar(
            "UPDATE map_child_queue q SET claimed_by = $1, lease_until = now() + $2 * interval '1 second'
             WHERE (q.map_run_arn, q.ordinal) IN (
                 SELECT map_run_arn, ordinal FROM map_child_queue
                 WHERE result IS NULL AND (claimed_by IS NULL OR lease_until < now())
                 ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING q.child",
        )
        .bind(&i.owner)
        .bind(i.lease_secs())
        .bind(max as i64)
        .fetch_all(&i.pool)
        .await
        .map_err(unavailable)?;
        texts.iter().map(|t| from_json(t)).collect()
    }

    async fn offered(&self) {
        self.inner.children.offered.notified().await;
    }

    async fn renew(&self, running: &[(String, u64)]) -> Result<Vec<(String, u64)>, StoreError> {
        if running.is_empty() {
            return Ok(Vec::new());
        }
        let i = &self.inner;
        let runs: Vec<&str> = running.iter().map(|(r, _)| r.as_str()).collect();
        let ordinals: Vec<i64> = running.iter().map(|(_, o)| *o as i64).collect();
        let rows = sqlx::query(
            "UPDATE map_child_queue q SET lease_until = now() + $2 * interval '1 second'
             FROM UNNEST($3::text[], $4::bigint[]) AS r(run, ordinal)
             WHERE q.map_run_arn = r.run AND q.ordinal = r.ordinal AND q.claimed_by = $1
             RETURNING q.map_run_arn, q.ordinal",
        )
        .bind(&i.owner)
        .bind(i.lease_secs())
        .bind(runs)
        .bind(ordinals)
        .fetch_all(&i.pool)
        .await
        .map_err(unavailable)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) as u64)).collect())
    }

    fn complete(&self, child: &QueuedChild, result: ChildResult) {
        let _ = self.child_writes.send(Write::Result {
            map_run_arn: child.map_run_arn.clone(),
            ordinal: child.ordinal,
            result,
        });
    }

    async fn definition(&self, parent_arn: &str) -> Result<Option<(String, StateMachineType)>, StoreError> {
        let row = sqlx::query("SELECT definition, record FROM executions WHERE arn = $1 AND definition IS NOT NULL")
            .bind(parent_arn)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let record = record_of(row.get(1))?;
        Ok(Some((row.get(0), record.machine_type)))
    }

    fn capacity(&self) -> usize {
        self.inner.child_capacity
    }

    fn renew_every(&self) -> Duration {
        self.inner.lease / 3
    }
}
