//! Map-run records: what DescribeMapRun, ListMapRuns and ListExecutions (of a map run) report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::engine::ExecutionStatus;
use crate::history::History;
use crate::store::StoreError;

/// A map run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MapRunStatus {
    /// Children are still running.
    Running,
    /// Every item was processed within the tolerated failures.
    Succeeded,
    /// The run failed (too many failures, a reader or writer error).
    Failed,
    /// The parent execution was stopped.
    Aborted,
}

impl MapRunStatus {
    /// AWS's spelling (`RUNNING`…).
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }
}

/// Item or execution counts of a map run (`itemCounts`, `executionCounts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Read but not yet started.
    pub pending: u64,
    /// Running.
    pub running: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Timed out.
    pub timed_out: u64,
    /// Aborted.
    pub aborted: u64,
    /// Every one counted so far.
    pub total: u64,
    /// Written to result files (or to the state output).
    pub results_written: u64,
}

/// A map run, as DescribeMapRun reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MapRunInfo {
    /// `arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:UUID`.
    pub map_run_arn: String,
    /// The parent execution.
    pub execution_arn: String,
    /// The children's state machine: `…:stateMachine:MACHINE/LABEL`.
    pub state_machine_arn: String,
    /// Status.
    pub status: MapRunStatus,
    /// When it started.
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    pub start_date: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::timestamp::nanoseconds::option")]
    pub stop_date: Option<OffsetDateTime>,
    /// The effective `MaxConcurrency` (0: the default bound).
    pub max_concurrency: u64,
    /// `ToleratedFailurePercentage`.
    pub tolerated_failure_percentage: f64,
    /// `ToleratedFailureCount`.
    pub tolerated_failure_count: u64,
    /// Items by status.
    pub item_counts: Counts,
    /// Child executions by status.
    pub execution_counts: Counts,
    /// How many times the map run has been redriven.
    pub redrive_count: u32,
    /// When it was last redriven.
    #[serde(with = "time::serde::timestamp::nanoseconds::option")]
    pub redrive_date: Option<OffsetDateTime>,
}

impl MapRunInfo {
    /// Marks the map run as running again after a redrive at `date`; returns its new redrive count.
    pub fn redrive(&mut self, date: OffsetDateTime) -> u32 {
        self.status = MapRunStatus::Running;
        self.stop_date = None;
        self.redrive_count += 1;
        self.redrive_date = Some(date);
        self.redrive_count
    }

    /// Applies an update of its counts and status.
    pub fn apply(&mut self, update: MapRunUpdate) {
        self.status = update.status;
        self.stop_date = update.stop_date;
        self.item_counts = update.item_counts;
        self.execution_counts = update.execution_counts;
    }
}

/// A change to a running map run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapRunUpdate {
    /// The new status.
    pub status: MapRunStatus,
    /// When it ended, once it has.
    pub stop_date: Option<OffsetDateTime>,
    /// Items by status.
    pub item_counts: Counts,
    /// Child executions by status.
    pub execution_counts: Counts,
}

/// One child execution of a map run.
#[derive(Clone)]
pub struct ChildExecution {
    /// The map run (shared by all its children).
    pub map_run_arn: Arc<str>,
    /// The child's ARN.
    pub execution_arn: Arc<str>,
    /// The child's name (a UUID).
    pub name: Arc<str>,
    /// The labelled state machine ARN (shared by all children of the map run).
    pub state_machine_arn: Arc<str>,
    /// Its status.
    pub status: ExecutionStatus,
    /// When it started.
    pub start_date: OffsetDateTime,
    /// When it ended.
    pub stop_date: Option<OffsetDateTime>,
    /// How many items it processes.
    pub item_count: u64,
    /// Its history (input and output included), when the store keeps it.
    pub history: Option<History>,
}

impl std::fmt::Debug for ChildExecution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildExecution")
            .field("execution_arn", &self.execution_arn)
            .field("status", &self.status)
            .field("item_count", &self.item_count)
            .finish_non_exhaustive()
    }
}

/// Where map runs and their children are recorded.
///
/// Writes come from a running Distributed Map, on its path for every child: they are synchronous and
/// may be queued (a durable store writes them in order, later; a crash loses only what was queued,
/// and the map run's children are accounted for by the execution store's progress). Reads serve the
/// API: they are async and fallible, so a store may be a database.
#[async_trait::async_trait]
pub trait MapRunStore: Send + Sync {
    /// A map run started.
    fn insert_run(&self, run: MapRunInfo);
    /// A map run's counts or status changed.
    fn update_run(&self, map_run_arn: &str, update: MapRunUpdate);
    /// A redriven parent execution continues this map run: it runs again from `date`; returns the
    /// new redrive count (`None` for an unknown map run).
    async fn redrive_run(&self, map_run_arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError>;
    /// UpdateMapRun changed a running map run's limits.
    fn update_limits(&self, map_run_arn: &str, max_concurrency: u64, tolerated_percentage: f64, tolerated_count: u64);
    /// A child execution started.
    fn insert_child(&self, child: ChildExecution);
    /// A child execution ended.
    fn finish_child(&self, execution_arn: &str, status: ExecutionStatus, stop_date: OffsetDateTime);
    /// Whether children should be kept with their histories (costly for large runs).
    fn keeps_child_executions(&self) -> bool;
    /// DescribeMapRun.
    async fn describe_run(&self, map_run_arn: &str) -> Result<Option<MapRunInfo>, StoreError>;
    /// ListMapRuns of a parent execution, oldest first.
    async fn list_runs(&self, execution_arn: &str) -> Result<Vec<MapRunInfo>, StoreError>;
    /// ListExecutions of a map run, in start order (without their histories).
    async fn list_children(&self, map_run_arn: &str) -> Result<Vec<ChildExecution>, StoreError>;
    /// A child execution by ARN, with its history when the store keeps it.
    async fn child(&self, execution_arn: &str) -> Result<Option<ChildExecution>, StoreError>;
    /// Removes the map runs of a parent execution that is no longer kept, with their children.
    fn forget_execution(&self, execution_arn: &str);
}

/// Maps keyed by ARNs that Legion makes (long strings, hashed for every child): foldhash, seeded
/// per map, instead of SipHash.
type ArnMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Inner {
    runs: Vec<MapRunInfo>,
    run_index: ArnMap<String, usize>,
    children: ArnMap<Arc<str>, Vec<ChildExecution>>,
    /// Each child's map run and place in its list; the ARNs are the child's own, shared.
    child_index: ArnMap<Arc<str>, (Arc<str>, usize)>,
}

/// The default store: everything in memory.
#[derive(Clone)]
pub struct InMemoryMapRunStore {
    inner: Arc<Mutex<Inner>>,
    keep_children: bool,
}

impl Default for InMemoryMapRunStore {
    fn default() -> InMemoryMapRunStore {
        InMemoryMapRunStore::new()
    }
}

impl InMemoryMapRunStore {
    /// A store that keeps every child execution with its history.
    pub fn new() -> InMemoryMapRunStore {
        InMemoryMapRunStore { inner: Arc::default(), keep_children: true }
    }

    /// Whether to keep each map run's child executions (summaries and histories, for ListExecutions
    /// and GetExecutionHistory of a child). Without them a map run still keeps its counts, and its
    /// children record no history. Turn it off where nothing can ask for them (`legion run`), or for
    /// runs of millions of items.
    pub fn keep_child_executions(mut self, keep: bool) -> InMemoryMapRunStore {
        self.keep_children = keep;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl MapRunStore for InMemoryMapRunStore {
    fn insert_run(&self, run: MapRunInfo) {
        let mut inner = self.lock();
        let i = inner.runs.len();
        inner.run_index.insert(run.map_run_arn.clone(), i);
        inner.runs.push(run);
    }

    fn update_run(&self, map_run_arn: &str, update: MapRunUpdate) {
        let mut inner = self.lock();
        let Some(&i) = inner.run_index.get(map_run_arn) else { return };
        if let Some(run) = inner.runs.get_mut(i) {
            run.apply(update);
        }
    }

    async fn redrive_run(&self, map_run_arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError> {
        let mut inner = self.lock();
        let Some(&i) = inner.run_index.get(map_run_arn) else { return Ok(None) };
        let Some(run) = inner.runs.get_mut(i) else { return Ok(None) };
        Ok(Some(run.redrive(date)))
    }

    fn update_limits(&self, map_run_arn: &str, max_concurrency: u64, tolerated_percentage: f64, tolerated_count: u64) {
        let mut inner = self.lock();
        let Some(&i) = inner.run_index.get(map_run_arn) else { return };
        if let Some(run) = inner.runs.get_mut(i) {
            run.max_concurrency = max_concurrency;
            run.tolerated_failure_percentage = tolerated_percentage;
            run.tolerated_failure_count = tolerated_count;
        }
    }

    fn forget_execution(&self, execution_arn: &str) {
        let mut inner = self.lock();
        let arns: Vec<String> =
            inner.runs.iter().filter(|r| r.execution_arn == execution_arn).map(|r| r.map_run_arn.clone()).collect();
        if arns.is_empty() {
            return;
        }
        for arn in &arns {
            for child in inner.children.remove(arn.as_str()).unwrap_or_default() {
                inner.child_index.remove(&child.execution_arn);
            }
        }
        inner.runs.retain(|r| r.execution_arn != execution_arn);
        let index: ArnMap<String, usize> =
            inner.runs.iter().enumerate().map(|(i, r)| (r.map_run_arn.clone(), i)).collect();
        inner.run_index = index;
    }

    fn insert_child(&self, child: ChildExecution) {
        if !self.keep_children {
            return;
        }
        let mut inner = self.lock();
        let Inner { children, child_index, .. } = &mut *inner;
        let list = children.entry(child.map_run_arn.clone()).or_default();
        child_index.insert(child.execution_arn.clone(), (child.map_run_arn.clone(), list.len()));
        list.push(child);
    }

    fn finish_child(&self, execution_arn: &str, status: ExecutionStatus, stop_date: OffsetDateTime) {
        if !self.keep_children {
            return;
        }
        let mut inner = self.lock();
        let Inner { children, child_index, .. } = &mut *inner;
        let Some((run, i)) = child_index.get(execution_arn) else { return };
        if let Some(child) = children.get_mut(run).and_then(|l| l.get_mut(*i)) {
            child.status = status;
            child.stop_date = Some(stop_date);
        }
    }

    fn keeps_child_executions(&self) -> bool {
        self.keep_children
    }

    async fn describe_run(&self, map_run_arn: &str) -> Result<Option<MapRunInfo>, StoreError> {
        let inner = self.lock();
        Ok(inner.run_index.get(map_run_arn).and_then(|&i| inner.runs.get(i)).cloned())
    }

    async fn list_runs(&self, execution_arn: &str) -> Result<Vec<MapRunInfo>, StoreError> {
        Ok(self.lock().runs.iter().filter(|r| r.execution_arn == execution_arn).cloned().collect())
    }

    async fn list_children(&self, map_run_arn: &str) -> Result<Vec<ChildExecution>, StoreError> {
        Ok(self.lock().children.get(map_run_arn).cloned().unwrap_or_default())
    }

    async fn child(&self, execution_arn: &str) -> Result<Option<ChildExecution>, StoreError> {
        let inner = self.lock();
        let Some((run, i)) = inner.child_index.get(execution_arn) else { return Ok(None) };
        Ok(inner.children.get(run).and_then(|l| l.get(*i)).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "arn:aws:states:us-east-1:123456789012:mapRun:m/Map:1";

    fn run() -> MapRunInfo {
        MapRunInfo {
            map_run_arn: RUN.to_owned(),
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".to_owned(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/Map".to_owned(),
            status: MapRunStatus::Running,
            start_date: OffsetDateTime::UNIX_EPOCH,
            stop_date: None,
            max_concurrency: 0,
            tolerated_failure_percentage: 0.0,
            tolerated_failure_count: 0,
            item_counts: Counts::default(),
            execution_counts: Counts::default(),
            redrive_count: 0,
            redrive_date: None,
        }
    }

    fn child(run: &Arc<str>, n: u32) -> ChildExecution {
        ChildExecution {
            map_run_arn: run.clone(),
            execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:m/Map:c{n}").into(),
            name: format!("c{n}").into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m/Map".into(),
            status: ExecutionStatus::Running,
            start_date: OffsetDateTime::UNIX_EPOCH,
            stop_date: None,
            item_count: 1,
            history: Some(History::default()),
        }
    }

    /// Starts two children, ends the second, and counts one of each.
    fn two_children(store: &InMemoryMapRunStore) {
        store.insert_run(run());
        let arn: Arc<str> = RUN.into();
        store.insert_child(child(&arn, 0));
        store.insert_child(child(&arn, 1));
        store.finish_child(&child(&arn, 1).execution_arn, ExecutionStatus::Succeeded, OffsetDateTime::UNIX_EPOCH);
        let counts = Counts { total: 2, running: 1, succeeded: 1, results_written: 1, ..Counts::default() };
        store.update_run(
            RUN,
            MapRunUpdate {
                status: MapRunStatus::Running,
                stop_date: None,
                item_counts: counts,
                execution_counts: counts,
            },
        );
    }

    #[tokio::test]
    async fn children_are_kept_in_start_order_and_found_by_arn() {
        let store = InMemoryMapRunStore::new();
        two_children(&store);
        let listed = store.list_children(RUN).await.expect("a list");
        let names: Vec<_> = listed.iter().map(|c| (&*c.name, c.status)).collect();
        assert_eq!(names, [("c0", ExecutionStatus::Running), ("c1", ExecutionStatus::Succeeded)]);
        let one = store.child(&listed[1].execution_arn).await.expect("a read").expect("the child");
        assert_eq!(one.stop_date, Some(OffsetDateTime::UNIX_EPOCH));
        assert!(one.history.is_some());
        store.forget_execution(&run().execution_arn);
        assert!(store.list_children(RUN).await.expect("a list").is_empty());
        assert!(store.child(&listed[0].execution_arn).await.expect("a read").is_none());
    }

    #[tokio::test]
    async fn a_store_that_keeps_no_children_still_counts_them() {
        let store = InMemoryMapRunStore::new().keep_child_executions(false);
        assert!(!store.keeps_child_executions());
        two_children(&store);
        assert!(store.list_children(RUN).await.expect("a list").is_empty());
        let run = store.describe_run(RUN).await.expect("a read").expect("the run");
        assert_eq!((run.execution_counts.total, run.execution_counts.succeeded), (2, 1));
    }
}
