//! The limits of running map runs, which UpdateMapRun may change while their children run.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// A running map run's limits, as its Distributed Map applies them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RunLimits {
    /// The most children running at once (0: the default bound).
    pub(crate) max_concurrency: u64,
    /// `ToleratedFailureCount`, when set.
    pub(crate) tolerated_count: Option<u64>,
    /// `ToleratedFailurePercentage`, when set.
    pub(crate) tolerated_percentage: Option<f64>,
}

/// New limits for a running map run (UpdateMapRun); `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MapRunLimitsUpdate {
    /// The most children running at once; 0 lifts the limit to the default bound.
    pub max_concurrency: Option<u64>,
    /// The tolerated percentage of failed items (0 to 100).
    pub tolerated_failure_percentage: Option<f64>,
    /// The tolerated number of failed items.
    pub tolerated_failure_count: Option<u64>,
}

/// Why UpdateMapRun was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateMapRunError {
    /// No map run has this ARN.
    #[error("Resource not found: '{0}'")]
    NotFound(String),
    /// The map run has ended.
    #[error("Map Run {0} has already completed and cannot be updated")]
    Completed(String),
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The map-run store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The running map runs of one engine, each with the channel its Distributed Map watches.
#[derive(Default)]
pub(crate) struct LiveRuns {
    runs: Mutex<HashMap<String, watch::Sender<RunLimits>>>,
}

impl LiveRuns {
    /// Registers a starting map run; its Distributed Map watches the returned receiver.
    pub(crate) fn register(&self, map_run_arn: &str, limits: RunLimits) -> watch::Receiver<RunLimits> {
        let (tx, rx) = watch::channel(limits);
        self.lock().insert(map_run_arn.to_owned(), tx);
        rx
    }

    /// Forgets a map run that has ended.
    pub(crate) fn unregister(&self, map_run_arn: &str) {
        self.lock().remove(map_run_arn);
    }

    /// Applies an update to a running map run; returns the new limits, or `None` when it is not running.
    pub(crate) fn update(&self, map_run_arn: &str, update: &MapRunLimitsUpdate) -> Option<RunLimits> {
        let runs = self.lock();
        let tx = runs.get(map_run_arn)?;
        tx.send_modify(|l| {
            if let Some(c) = update.max_concurrency {
                l.max_concurrency = c;
            }
            if let Some(p) = update.tolerated_failure_percentage {
                l.tolerated_percentage = Some(p);
            }
            if let Some(c) = update.tolerated_failure_count {
                l.tolerated_count = Some(c);
            }
        });
        let limits = *tx.borrow();
        Some(limits)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<RunLimits>>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }
}
