//! What a durable store keeps in memory of map runs: the running ones (whose counters change with
//! every child) and their running children. A child is written once it ends, with its history when
//! children are kept; a running map run is written when it starts, at most every quarter second
//! while it runs, and when it ends. Memory is bounded by what runs, not by what ran.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use legion_engine::history::{History, HistoryEvent};
use legion_engine::map_run::{ChildExecution, MapRunInfo, MapRunStatus, MapRunUpdate};
use legion_engine::{ExecutionStatus, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How often a running map run's counters are written at most.
const WRITE_EVERY: Duration = Duration::from_millis(250);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running map runs and children.
#[derive(Default)]
pub(crate) struct MapRunCache {
    runs: Mutex<HashMap<String, (MapRunInfo, Instant)>>,
    children: Mutex<HashMap<Arc<str>, ChildExecution>>,
}

impl MapRunCache {
    /// Notes a running map run.
    pub(crate) fn insert_run(&self, run: MapRunInfo) {
        lock(&self.runs).insert(run.map_run_arn.clone(), (run, Instant::now()));
    }

    /// Applies an update; returns the map run when it is due to be written (it ended, or was last
    /// written a while ago). An ended map run leaves the cache.
    pub(crate) fn update_run(&self, map_run_arn: &str, update: MapRunUpdate) -> Option<MapRunInfo> {
        let mut runs = lock(&self.runs);
        let (run, written) = runs.get_mut(map_run_arn)?;
        run.apply(update);
        if update.status != MapRunStatus::Running {
            return runs.remove(map_run_arn).map(|(run, _)| run);
        }
        if written.elapsed() < WRITE_EVERY {
            return None;
        }
        *written = Instant::now();
        Some(run.clone())
    }

    /// Changes a running map run's limits; returns it to be written.
    pub(crate) fn update_limits(
        &self,
        map_run_arn: &str,
        concurrency: u64,
        percentage: f64,
        count: u64,
    ) -> Option<MapRunInfo> {
        let mut runs = lock(&self.runs);
        let (run, _) = runs.get_mut(map_run_arn)?;
        run.max_concurrency = concurrency;
        run.tolerated_failure_percentage = percentage;
        run.tolerated_failure_count = count;
        Some(run.clone())
    }

    /// A running map run.
    pub(crate) fn run(&self, map_run_arn: &str) -> Option<MapRunInfo> {
        lock(&self.runs).get(map_run_arn).map(|(run, _)| run.clone())
    }

    /// The running map runs of a parent execution.
    fn runs_of(&self, execution_arn: &str) -> Vec<MapRunInfo> {
        lock(&self.runs).values().filter(|(r, _)| r.execution_arn == execution_arn).map(|(r, _)| r.clone()).collect()
    }

    /// The map runs of a parent execution: `stored` (oldest first) with the running ones as they
    /// are now in place of their stored copies, then the running ones not stored yet.
    pub(crate) fn with_running(&self, execution_arn: &str, stored: Vec<MapRunInfo>) -> Vec<MapRunInfo> {
        let mut running = self.runs_of(execution_arn);
        let mut runs: Vec<MapRunInfo> = stored
            .into_iter()
            .map(|r| match running.iter().position(|c| c.map_run_arn == r.map_run_arn) {
                Some(i) => running.swap_remove(i),
                None => r,
            })
            .collect();
        runs.extend(running);
        runs
    }

    /// Notes a running child.
    pub(crate) fn insert_child(&self, child: ChildExecution) {
        lock(&self.children).insert(child.execution_arn.clone(), child);
    }

    /// Takes an ended child out of the cache, to be written.
    pub(crate) fn finish_child(
        &self,
        execution_arn: &str,
        status: ExecutionStatus,
        stop_date: OffsetDateTime,
    ) -> Option<ChildExecution> {
        let mut child = lock(&self.children).remove(execution_arn)?;
        child.status = status;
        child.stop_date = Some(stop_date);
        Some(child)
    }

    /// A running child.
    pub(crate) fn child(&self, execution_arn: &str) -> Option<ChildExecution> {
        lock(&self.children).get(execution_arn).cloned()
    }

    /// The running children of a map run.
    pub(crate) fn children_of(&self, map_run_arn: &str) -> Vec<ChildExecution> {
        let children = lock(&self.children);
        children.values().filter(|c| *c.map_run_arn == *map_run_arn).map(without_history).collect()
    }

    /// Forgets what a parent execution ran.
    pub(crate) fn forget(&self, execution_arn: &str) {
        let mut runs = lock(&self.runs);
        let gone: Vec<String> = runs
            .values()
            .filter(|(r, _)| r.execution_arn == execution_arn)
            .map(|(r, _)| r.map_run_arn.clone())
            .collect();
        for arn in &gone {
            runs.remove(arn);
        }
        drop(runs);
        lock(&self.children).retain(|_, c| !gone.iter().any(|g| **g == *c.map_run_arn));
    }
}

fn without_history(child: &ChildExecution) -> ChildExecution {
    ChildExecution { history: None, ..child.clone() }
}

/// A child as a row: its summary (the history goes into a column of its own).
#[derive(Serialize, Deserialize)]
pub(crate) struct ChildRow {
    map_run_arn: Arc<str>,
    execution_arn: Arc<str>,
    name: Arc<str>,
    state_machine_arn: Arc<str>,
    status: ExecutionStatus,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    start_date: OffsetDateTime,
    #[serde(with = "time::serde::timestamp::nanoseconds::option")]
    stop_date: Option<OffsetDateTime>,
    item_count: u64,
}

/// An ended child as both backends write it: its keys, its summary and its history as JSON text,
/// serialised by the caller (off a writer thread).
pub(crate) struct ChildText {
    pub(crate) arn: String,
    pub(crate) map_run_arn: String,
    /// Its start, in nanoseconds since the epoch (listings come in start order).
    pub(crate) start: i64,
    pub(crate) summary: String,
    pub(crate) history: Option<String>,
}

impl ChildText {
    /// Serialises an ended child.
    pub(crate) fn of(child: ChildExecution) -> Result<ChildText, StoreError> {
        let (row, events) = ChildRow::of(child);
        Ok(ChildText {
            arn: row.execution_arn.to_string(),
            map_run_arn: row.map_run_arn.to_string(),
            start: crate::rows::nanos(row.start_date),
            summary: crate::rows::json(&row)?,
            history: events.as_ref().map(crate::rows::json).transpose()?,
        })
    }
}

impl ChildRow {
    /// The row of `child`, and its history's events when it has one.
    fn of(child: ChildExecution) -> (ChildRow, Option<Vec<HistoryEvent>>) {
        let events = child.history.as_ref().map(History::events);
        let row = ChildRow {
            map_run_arn: child.map_run_arn,
            execution_arn: child.execution_arn,
            name: child.name,
            state_machine_arn: child.state_machine_arn,
            status: child.status,
            start_date: child.start_date,
            stop_date: child.stop_date,
            item_count: child.item_count,
        };
        (row, events)
    }

    /// The child again, with its history when it was kept.
    pub(crate) fn child(self, events: Option<Vec<HistoryEvent>>) -> ChildExecution {
        ChildExecution {
            map_run_arn: self.map_run_arn,
            execution_arn: self.execution_arn,
            name: self.name,
            state_machine_arn: self.state_machine_arn,
            status: self.status,
            start_date: self.start_date,
            stop_date: self.stop_date,
            item_count: self.item_count,
            history: events.map(History::from_events),
        }
    }
}

/// Merges the stored and the running children of a map run, in start order.
pub(crate) fn in_start_order(mut stored: Vec<ChildExecution>, running: Vec<ChildExecution>) -> Vec<ChildExecution> {
    stored.extend(running);
    stored.sort_by_key(|c| c.start_date);
    stored
}
