//! The embedding API for Distributed Map: plugging in S3 and a map-run store, and querying map runs.

use std::sync::Arc;

use super::{
    ChildExecution, MapRunInfo, MapRunLimitsUpdate, MapRunStatus, MapRunStore, S3Connector, UpdateMapRunError,
};
use crate::engine::{Engine, EngineBuilder};
use crate::store::StoreError;

impl EngineBuilder {
    /// Sets how Distributed Map reads items from and writes results to S3.
    pub fn s3(mut self, s3: Arc<dyn S3Connector>) -> EngineBuilder {
        self.map_runs.s3 = Some(s3);
        self
    }

    /// Sets where map runs and their child executions are recorded.
    pub fn map_run_store(mut self, store: Arc<dyn MapRunStore>) -> EngineBuilder {
        self.map_runs.store = store;
        self
    }

    /// Shares the children of Distributed Maps with the other engines on `queue`: this engine runs the
    /// children of its map runs itself while it runs fewer than [`ChildQueue::capacity`](super::ChildQueue::capacity)
    /// children, offers the rest through the queue to any engine, and claims the children any of them
    /// offers while it has room, for as long as it lives (from [`EngineBuilder::build`] inside a tokio runtime, or else from [`Engine::recover`]). Only the map runs of executions the store
    /// keeps go through it (their definitions are where other engines read the item processor).
    pub fn child_queue(mut self, queue: Arc<dyn super::ChildQueue>) -> EngineBuilder {
        self.map_runs.slots = Arc::new(tokio::sync::Semaphore::new(queue.capacity()));
        self.map_runs.queue = Some(queue);
        self
    }
}

impl Engine {
    /// DescribeMapRun.
    pub async fn describe_map_run(&self, map_run_arn: &str) -> Result<Option<MapRunInfo>, StoreError> {
        self.shared.map_runs.store.describe_run(map_run_arn).await
    }

    /// ListMapRuns: the map runs an execution started, oldest first.
    pub async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunInfo>, StoreError> {
        self.shared.map_runs.store.list_runs(execution_arn).await
    }

    /// ListExecutions of a map run: its child executions, in start order.
    pub async fn list_map_run_executions(&self, map_run_arn: &str) -> Result<Vec<ChildExecution>, StoreError> {
        self.shared.map_runs.store.list_children(map_run_arn).await
    }

    /// A child execution of some map run, by ARN (with its history when kept).
    pub async fn map_run_child(&self, execution_arn: &str) -> Result<Option<ChildExecution>, StoreError> {
        // A child's ARN names `machine/label` (the names of state machines and executions have no
        // '/'): any other ARN is answered without asking the store.
        if !execution_arn.contains('/') {
            return Ok(None);
        }
        self.shared.map_runs.store.child(execution_arn).await
    }

    /// UpdateMapRun: changes a running map run's limits. A raised `max_concurrency` starts more
    /// children at once; a lowered one lets running children finish and starts no more until fewer run
    /// than the new limit. The failure threshold is checked again with the new values.
    pub async fn update_map_run(
        &self,
        map_run_arn: &str,
        update: MapRunLimitsUpdate,
    ) -> Result<MapRunInfo, UpdateMapRunError> {
        if update.tolerated_failure_percentage.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(UpdateMapRunError::Invalid("toleratedFailurePercentage must be between 0 and 100".to_owned()));
        }
        let services = &self.shared.map_runs;
        let not_found = || UpdateMapRunError::NotFound(map_run_arn.to_owned());
        let run = services.store.describe_run(map_run_arn).await?.ok_or_else(not_found)?;
        let completed = || UpdateMapRunError::Completed(map_run_arn.to_owned());
        if run.status != MapRunStatus::Running {
            return Err(completed());
        }
        let limits = services.live.update(map_run_arn, &update).ok_or_else(completed)?;
        services.store.update_limits(
            map_run_arn,
            limits.max_concurrency,
            limits.tolerated_percentage.unwrap_or(0.0),
            limits.tolerated_count.unwrap_or(0),
        );
        services.store.describe_run(map_run_arn).await?.ok_or_else(not_found)
    }
}
