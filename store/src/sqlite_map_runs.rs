//! [`SqliteStore`] as a [`MapRunStore`]: map runs and ended children in the same file, so that
//! DescribeMapRun, ListMapRuns and the ListExecutions of a map run answer after a restart, and a map
//! run of a million children keeps only its running ones in memory.

use async_trait::async_trait;
use legion_engine::map_run::{ChildExecution, MapRunInfo, MapRunStore, MapRunUpdate};
use legion_engine::{ExecutionStatus, StoreError};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use time::OffsetDateTime;

use crate::map_runs::{in_start_order, ChildRow, ChildText};
use crate::rows::{from_json, json, nanos, unavailable};
use crate::SqliteStore;

impl SqliteStore {
    fn write_run(&self, run: MapRunInfo) {
        self.writer.queue(move |tx| save_run(tx, &run));
    }
}

/// Writes a map run; one that is there already keeps its first start date (a restart resumes it).
fn save_run(tx: &Transaction<'_>, run: &MapRunInfo) -> Result<(), StoreError> {
    let mut run = run.clone();
    if let Some(earlier) = load_run(tx, &run.map_run_arn)? {
        run.start_date = earlier.start_date;
    }
    let info = json(&run)?;
    tx.prepare_cached(
        "INSERT INTO map_runs (arn, execution_arn, start, info) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (arn) DO UPDATE SET info = excluded.info",
    )
    .and_then(|mut s| s.execute(params![run.map_run_arn, run.execution_arn, nanos(run.start_date), info]))
    .map_err(unavailable)?;
    Ok(())
}

fn load_run(conn: &Connection, arn: &str) -> Result<Option<MapRunInfo>, StoreError> {
    let mut select = conn.prepare_cached("SELECT info FROM map_runs WHERE arn = ?1").map_err(unavailable)?;
    let text: Option<String> = select.query_row([arn], |r| r.get(0)).optional().map_err(unavailable)?;
    text.as_deref().map(from_json).transpose()
}

/// Writes an ended child (serialised by the caller, off the writer thread).
fn save_child(tx: &Transaction<'_>, child: &ChildText) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO map_children (arn, map_run_arn, start, child, history) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![child.arn, child.map_run_arn, child.start, child.summary, child.history]))
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl MapRunStore for SqliteStore {
    fn insert_run(&self, run: MapRunInfo) {
        self.map_runs.insert_run(run.clone());
        self.write_run(run);
    }

    fn update_run(&self, map_run_arn: &str, update: MapRunUpdate) {
        if let Some(run) = self.map_runs.update_run(map_run_arn, update) {
            self.write_run(run);
        }
    }

    async fn redrive_run(&self, map_run_arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError> {
        let arn = map_run_arn.to_owned();
        let run = self
            .writer
            .write(move |tx| {
                let Some(mut run) = load_run(tx, &arn)? else { return Ok(None) };
                run.redrive(date);
                save_run(tx, &run)?;
                Ok(Some(run))
            })
            .await?;
        Ok(run.map(|run| {
            let count = run.redrive_count;
            self.map_runs.insert_run(run);
            count
        }))
    }

    fn update_limits(&self, map_run_arn: &str, max_concurrency: u64, tolerated_percentage: f64, tolerated_count: u64) {
        let run = self.map_runs.update_limits(map_run_arn, max_concurrency, tolerated_percentage, tolerated_count);
        if let Some(run) = run {
            self.write_run(run);
        }
    }

    fn insert_child(&self, child: ChildExecution) {
        self.map_runs.insert_child(child);
    }

    fn finish_child(&self, execution_arn: &str, status: ExecutionStatus, stop_date: OffsetDateTime) {
        let Some(child) = self.map_runs.finish_child(execution_arn, status, stop_date) else { return };
        match ChildText::of(child) {
            Ok(text) => self.writer.queue(move |tx| save_child(tx, &text)),
            Err(e) => tracing::warn!(execution = execution_arn, error = %e, "could not record a map-run child"),
        }
    }

    fn keeps_child_executions(&self) -> bool {
        true
    }

    async fn describe_run(&self, map_run_arn: &str) -> Result<Option<MapRunInfo>, StoreError> {
        if let Some(run) = self.map_runs.run(map_run_arn) {
            return Ok(Some(run));
        }
        let arn = map_run_arn.to_owned();
        self.reader.read(move |conn| load_run(conn, &arn)).await
    }

    async fn list_runs(&self, execution_arn: &str) -> Result<Vec<MapRunInfo>, StoreError> {
        let arn = execution_arn.to_owned();
        let stored: Vec<MapRunInfo> = self
            .reader
            .read(move |conn| {
                let mut select = conn
                    .prepare_cached("SELECT info FROM map_runs WHERE execution_arn = ?1 ORDER BY start")
                    .map_err(unavailable)?;
                let rows = select.query_map([&arn], |r| r.get::<_, String>(0)).map_err(unavailable)?;
                rows.map(|t| from_json(&t.map_err(unavailable)?)).collect()
            })
            .await?;
        Ok(self.map_runs.with_running(execution_arn, stored))
    }

    async fn list_children(&self, map_run_arn: &str) -> Result<Vec<ChildExecution>, StoreError> {
        let arn = map_run_arn.to_owned();
        let stored: Vec<ChildExecution> = self
            .reader
            .read(move |conn| {
                let mut select = conn
                    .prepare_cached("SELECT child FROM map_children WHERE map_run_arn = ?1 ORDER BY start")
                    .map_err(unavailable)?;
                let rows = select.query_map([&arn], |r| r.get::<_, String>(0)).map_err(unavailable)?;
                rows.map(|t| Ok(from_json::<ChildRow>(&t.map_err(unavailable)?)?.child(None))).collect()
            })
            .await?;
        Ok(in_start_order(stored, self.map_runs.children_of(map_run_arn)))
    }

    async fn child(&self, execution_arn: &str) -> Result<Option<ChildExecution>, StoreError> {
        if let Some(child) = self.map_runs.child(execution_arn) {
            return Ok(Some(child));
        }
        let arn = execution_arn.to_owned();
        self.reader
            .read(move |conn| {
                let mut select = conn
                    .prepare_cached("SELECT child, history FROM map_children WHERE arn = ?1")
                    .map_err(unavailable)?;
                let row: Option<(String, Option<String>)> =
                    select.query_row([&arn], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(unavailable)?;
                let Some((child, history)) = row else { return Ok(None) };
                let events = history.as_deref().map(from_json).transpose()?;
                Ok(Some(from_json::<ChildRow>(&child)?.child(events)))
            })
            .await
    }

    fn forget_execution(&self, execution_arn: &str) {
        self.map_runs.forget(execution_arn);
        let arn = execution_arn.to_owned();
        self.writer.queue(move |tx| {
            tx.execute(
                "DELETE FROM map_children WHERE map_run_arn IN (SELECT arn FROM map_runs WHERE execution_arn = ?1)",
                [&arn],
            )
            .map_err(unavailable)?;
            tx.execute("DELETE FROM map_runs WHERE execution_arn = ?1", [&arn]).map_err(unavailable)?;
            Ok(())
        });
    }
}
