//! [`PostgresStore`] as a [`MapRunStore`]: map runs and ended children in the database, so that any
//! instance answers DescribeMapRun, ListMapRuns and a map run's ListExecutions, and only running
//! children stay in memory. Writes go through one task that applies them in order, in batches.

use async_trait::async_trait;
use legion_engine::map_run::{ChildExecution, MapRunInfo, MapRunStore, MapRunUpdate};
use legion_engine::{ExecutionStatus, StoreError};
use sqlx::{PgPool, Row};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::PostgresStore;
use crate::map_runs::{in_start_order, ChildRow, ChildText};
use crate::rows::{from_json, json, nanos, unavailable};

/// A queued map-run write.
pub(super) enum Write {
    Run(MapRunInfo),
    Child(ChildText),
    Forget(String),
}

/// How many queued writes one transaction takes at most.
const BATCH: usize = 500;

/// Applies queued writes in order until the store is dropped.
pub(super) async fn apply_writes(pool: PgPool, mut writes: mpsc::UnboundedReceiver<Write>) {
    while let Some(batch) = super::next_batch(&mut writes, BATCH).await {
        if let Err(e) = apply(&pool, batch).await {
            tracing::warn!(error = %e, "could not record map runs");
        }
    }
}

async fn apply(pool: &PgPool, batch: Vec<Write>) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    for write in batch {
        match write {
            Write::Run(run) => {
                // A map run resumed after a takeover keeps its first start date.
                sqlx::query(
                    "INSERT INTO map_runs (arn, execution_arn, start, info) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (arn) DO UPDATE SET info = jsonb_set(
                         excluded.info::jsonb, '{start_date}', map_runs.info::jsonb -> 'start_date')::text",
                )
                .bind(&run.map_run_arn)
                .bind(&run.execution_arn)
                .bind(nanos(run.start_date))
                .bind(json(&run)?)
                .execute(&mut *tx)
                .await
            }
            Write::Child(child) => {
                sqlx::query(
                    "INSERT INTO map_children (arn, map_run_arn, start, child, history) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (arn) DO UPDATE SET child = excluded.child, history = excluded.history",
                )
                .bind(child.arn)
                .bind(child.map_run_arn)
                .bind(child.start)
                .bind(child.summary)
                .bind(child.history)
                .execute(&mut *tx)
                .await
            }
            Write::Forget(execution_arn) => {
                sqlx::query(
                    "DELETE FROM map_children WHERE map_run_arn IN (SELECT arn FROM map_runs WHERE execution_arn = $1)",
                )
                .bind(&execution_arn)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                sqlx::query("DELETE FROM map_runs WHERE execution_arn = $1")
                    .bind(&execution_arn)
                    .execute(&mut *tx)
                    .await
            }
        }
        .map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)
}

async fn load_run(pool: &PgPool, arn: &str) -> Result<Option<MapRunInfo>, StoreError> {
    let text: Option<String> = sqlx::query_scalar("SELECT info FROM map_runs WHERE arn = $1")
        .bind(arn)
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    text.as_deref().map(from_json).transpose()
}

impl PostgresStore {
    fn queue(&self, write: Write) {
        let _ = self.map_run_writes.send(write);
    }
}

#[async_trait]
impl MapRunStore for PostgresStore {
    fn insert_run(&self, run: MapRunInfo) {
        self.map_runs.insert_run(run.clone());
        self.queue(Write::Run(run));
    }

    fn update_run(&self, map_run_arn: &str, update: MapRunUpdate) {
        if let Some(run) = self.map_runs.update_run(map_run_arn, update) {
            self.queue(Write::Run(run));
        }
    }

    async fn redrive_run(&self, map_run_arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError> {
        let Some(mut run) = self.describe_run(map_run_arn).await? else { return Ok(None) };
        let count = run.redrive(date);
        self.map_runs.insert_run(run.clone());
        self.queue(Write::Run(run));
        Ok(Some(count))
    }

    fn update_limits(&self, map_run_arn: &str, max_concurrency: u64, tolerated_percentage: f64, tolerated_count: u64) {
        let run = self.map_runs.update_limits(map_run_arn, max_concurrency, tolerated_percentage, tolerated_count);
        if let Some(run) = run {
            self.queue(Write::Run(run));
        }
    }

    fn insert_child(&self, child: ChildExecution) {
        self.map_runs.insert_child(child);
    }

    fn finish_child(&self, execution_arn: &str, status: ExecutionStatus, stop_date: OffsetDateTime) {
        let Some(child) = self.map_runs.finish_child(execution_arn, status, stop_date) else { return };
        match ChildText::of(child) {
            Ok(text) => self.queue(Write::Child(text)),
            Err(e) => tracing::warn!(execution = execution_arn, error = %e, "could not record a map-run child"),
        }
    }

    fn keeps_child_executions(&self) -> bool {
        true
    }

    async fn describe_run(&self, map_run_arn: &str) -> Result<Option<MapRunInfo>, StoreError> {
        match self.map_runs.run(map_run_arn) {
            Some(run) => Ok(Some(run)),
            None => load_run(&self.inner.pool, map_run_arn).await,
        }
    }

    async fn list_runs(&self, execution_arn: &str) -> Result<Vec<MapRunInfo>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT info FROM map_runs WHERE execution_arn = $1 ORDER BY start")
                .bind(execution_arn)
                .fetch_all(&self.inner.pool)
                .await
                .map_err(unavailable)?;
        let stored = texts.iter().map(|t| from_json(t)).collect::<Result<Vec<MapRunInfo>, _>>()?;
        Ok(self.map_runs.with_running(execution_arn, stored))
    }

    async fn list_children(&self, map_run_arn: &str) -> Result<Vec<ChildExecution>, StoreError> {
        let texts: Vec<String> =
            sqlx::query_scalar("SELECT child FROM map_children WHERE map_run_arn = $1 ORDER BY start")
                .bind(map_run_arn)
                .fetch_all(&self.inner.pool)
                .await
                .map_err(unavailable)?;
        let stored = texts.iter().map(|t| Ok(from_json::<ChildRow>(t)?.child(None))).collect::<Result<_, _>>()?;
        Ok(in_start_order(stored, self.map_runs.children_of(map_run_arn)))
    }

    async fn child(&self, execution_arn: &str) -> Result<Option<ChildExecution>, StoreError> {
        if let Some(child) = self.map_runs.child(execution_arn) {
            return Ok(Some(child));
        }
        let row = sqlx::query("SELECT child, history FROM map_children WHERE arn = $1")
            .bind(execution_arn)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let history: Option<String> = row.get(1);
        let events = history.as_deref().map(from_json).transpose()?;
        Ok(Some(from_json::<ChildRow>(row.get(0))?.child(events)))
    }

    fn forget_execution(&self, execution_arn: &str) {
        self.map_runs.forget(execution_arn);
        self.queue(Write::Forget(execution_arn.to_owned()));
    }
}
