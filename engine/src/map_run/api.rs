//! The embedding API for Distributed Map: plugging in S3 and a map-run store, and querying map runs.

use std::sync::Arc;

use super::{ChildExecution, MapRunInfo, MapRunStore, S3Connector};
use crate::engine::{Engine, EngineBuilder};

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
}

impl Engine {
    /// DescribeMapRun.
    pub fn describe_map_run(&self, map_run_arn: &str) -> Option<MapRunInfo> {
        self.shared.map_runs.store.describe_run(map_run_arn)
    }

    /// ListMapRuns: the map runs an execution started, oldest first.
    pub fn list_map_runs(&self, execution_arn: &str) -> Vec<MapRunInfo> {
        self.shared.map_runs.store.list_runs(execution_arn)
    }

    /// ListExecutions of a map run: its child executions, in start order.
    pub fn list_map_run_executions(&self, map_run_arn: &str) -> Vec<ChildExecution> {
        self.shared.map_runs.store.list_children(map_run_arn)
    }

    /// A child execution of some map run, by ARN.
    pub fn map_run_child(&self, execution_arn: &str) -> Option<ChildExecution> {
        self.shared.map_runs.store.child(execution_arn)
    }
}
