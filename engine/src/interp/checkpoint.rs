//! Where a Standard execution stands, so that a redrive can resume it.
//!
//! The top-level loop records a [`Checkpoint`] each time it enters a state: the state, its input and
//! the variables as they were on entry. A Parallel or inline Map state at the top level also notes the
//! output of every branch or iteration that succeeds. When the execution fails, times out or is
//! stopped, the last checkpoint is where a redrive starts again: the same state, with the same input
//! and variables, reusing the outputs of the branches and iterations that had succeeded (and, for a
//! Distributed Map, continuing the same map run with the children that had succeeded).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use time::OffsetDateTime;

use crate::store::{Ordinals, SavedCheckpoint, SavedRetry};
use crate::vars::Vars;

/// The top-level state an execution was in, with what it needs to run it again.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    /// The state's index in the top-level program.
    pub(crate) state: usize,
    /// The state's input.
    pub(crate) input: Arc<Value>,
    /// The variables when the state was entered.
    pub(crate) vars: Vars,
    /// When the state was entered, for a checkpoint read back from a durable store.
    entered_at: Option<OffsetDateTime>,
    /// The Retry back-off the state is in (committed to a durable store).
    retry: Option<SavedRetry>,
    /// Outputs of the branches (or iterations) that succeeded in the state's latest attempt, by index.
    done: HashMap<usize, Value>,
    /// Outputs a redriven attempt reuses instead of running those branches again.
    reuse: HashMap<usize, Value>,
    /// Children of a Distributed Map that succeeded in the latest attempt, with their results in its
    /// result files (no output to keep).
    written: Ordinals,
    /// Those a redriven attempt counts as succeeded instead of running them again.
    reuse_written: Ordinals,
    /// The map run of the state's latest attempt (a Distributed Map).
    map_run: Option<MapRunMemo>,
    /// The map run a redriven attempt continues.
    reuse_map_run: Option<MapRunMemo>,
}

/// A Distributed Map's map run, as a redrive continues it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MapRunMemo {
    /// The map run's ARN.
    pub(crate) map_run_arn: String,
    /// The SUCCEEDED result files of its attempts so far (key and size).
    pub(crate) succeeded_files: Vec<(String, u64)>,
}

/// The latest checkpoint of one execution, shared by its runs (the first one and each redrive).
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckpointSlot(Arc<Mutex<Option<Checkpoint>>>);

impl CheckpointSlot {
    fn lock(&self) -> MutexGuard<'_, Option<Checkpoint>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The top-level loop entered `state` with `input`.
    pub(crate) fn enter(&self, state: usize, input: &Arc<Value>, vars: &Vars) {
        *self.lock() = Some(Checkpoint {
            state,
            input: input.clone(),
            vars: vars.clone(),
            entered_at: None,
            retry: None,
            done: HashMap::new(),
            reuse: HashMap::new(),
            written: Ordinals::new(),
            reuse_written: Ordinals::new(),
            map_run: None,
            reuse_map_run: None,
        });
    }

    /// A slot holding a checkpoint read back from a durable store.
    pub(crate) fn restore(saved: Option<SavedCheckpoint>) -> CheckpointSlot {
        let checkpoint = saved.map(|c| Checkpoint {
            state: c.state,
            input: Arc::new(c.input),
            vars: Vars::from_map(c.vars),
            entered_at: Some(c.entered_at),
            retry: c.retry,
            done: c.done,
            reuse: HashMap::new(),
            written: c.written,
            reuse_written: Ordinals::new(),
            map_run: None,
            reuse_map_run: None,
        });
        CheckpointSlot(Arc::new(Mutex::new(checkpoint)))
    }

    /// The checkpoint in the form a durable store writes, stamped as entered at `entered_at`.
    pub(crate) fn saved(&self, entered_at: OffsetDateTime) -> Option<SavedCheckpoint> {
        self.lock().as_ref().map(|c| SavedCheckpoint {
            state: c.state,
            entered_at,
            input: (*c.input).clone(),
            vars: c.vars.local().clone(),
            done: c.done.clone(),
            written: c.written.clone(),
            retry: c.retry.clone(),
        })
    }

    /// Notes that the state waits out a Retry back-off (to be committed).
    pub(crate) fn set_retry(&self, retry: SavedRetry) {
        if let Some(c) = self.lock().as_mut() {
            c.retry = Some(retry);
        }
    }

    /// The Retry back-off the checkpoint's state was in.
    pub(crate) fn retry(&self) -> Option<SavedRetry> {
        self.lock().as_ref().and_then(|c| c.retry.clone())
    }

    /// Forgets the back-off (a redrive starts its retries afresh).
    pub(crate) fn clear_retry(&self) {
        if let Some(c) = self.lock().as_mut() {
            c.retry = None;
        }
    }

    /// The state failed in a way that a redrive must run in full (`States.DataLimitExceeded`).
    pub(crate) fn forget_done(&self) {
        if let Some(c) = self.lock().as_mut() {
            c.done.clear();
            c.written = Ordinals::new();
            c.map_run = None;
        }
    }

    /// Prepares a redrive: the succeeded branches of the latest attempt are reused; returns where to start.
    pub(crate) fn resume(&self) -> Option<Checkpoint> {
        let mut guard = self.lock();
        let c = guard.as_mut()?;
        c.reuse = std::mem::take(&mut c.done);
        c.reuse_written = std::mem::take(&mut c.written);
        c.reuse_map_run = c.map_run.take();
        Some(c.clone())
    }

    /// When the checkpoint's state was entered, for a checkpoint read back from a durable store.
    pub(crate) fn entered_at(&self) -> Option<OffsetDateTime> {
        self.lock().as_ref().and_then(|c| c.entered_at)
    }

    /// The state the checkpoint is at.
    pub(crate) fn state(&self) -> Option<usize> {
        self.lock().as_ref().map(|c| c.state)
    }

    /// Starts an attempt of the checkpoint's state: hands over the outputs to reuse (only to the first
    /// attempt after a redrive) and starts noting this attempt's successes.
    pub(crate) fn attempt(&self) -> BranchMemo {
        let (reuse, reuse_written, map_run) = match self.lock().as_mut() {
            Some(c) => {
                c.done.clear();
                c.written = Ordinals::new();
                c.map_run = None;
                (std::mem::take(&mut c.reuse), std::mem::take(&mut c.reuse_written), c.reuse_map_run.take())
            }
            None => (HashMap::new(), Ordinals::new(), None),
        };
        BranchMemo { reuse, reuse_written, map_run, slot: self.clone() }
    }
}

/// One attempt of a top-level Parallel or inline Map: outputs to reuse and a place to note successes.
pub(crate) struct BranchMemo {
    reuse: HashMap<usize, Value>,
    reuse_written: Ordinals,
    map_run: Option<MapRunMemo>,
    slot: CheckpointSlot,
}

impl BranchMemo {
    /// The output of branch (or iteration) `index` from before the redrive, if it succeeded then.
    pub(crate) fn reused(&self, index: usize) -> Option<Value> {
        match self.reuse.get(&index) {
            Some(output) => Some(output.clone()),
            None => self.reuse_written.contains(index).then_some(Value::Null),
        }
    }

    /// The map run a redriven Distributed Map continues.
    pub(crate) fn map_run(&self) -> Option<&MapRunMemo> {
        self.map_run.as_ref()
    }

    /// Notes the map run this attempt of a Distributed Map runs, with the SUCCEEDED result files it
    /// has written so far.
    pub(crate) fn started_map_run(&self, map_run: MapRunMemo) {
        if let Some(c) = self.slot.lock().as_mut() {
            c.map_run = Some(map_run);
        }
    }

    /// Notes the children of a Distributed Map whose results this attempt's (now complete) result
    /// files hold: a redrive counts them as succeeded (their output is in those files).
    pub(crate) fn written(&self, ordinals: Ordinals) {
        if let Some(c) = self.slot.lock().as_mut() {
            c.written = ordinals;
        }
    }

    /// Notes that branch (or iteration) `index` succeeded with `output`.
    pub(crate) fn succeeded(&self, index: usize, output: &Value) {
        if let Some(c) = self.slot.lock().as_mut() {
            c.done.insert(index, output.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_redrive_reuses_the_successes_of_the_latest_attempt_only_once() {
        let slot = CheckpointSlot::default();
        slot.enter(3, &Arc::new(json!({"in": 1})), &Vars::new());
        let first = slot.attempt();
        assert_eq!(first.reused(0), None);
        first.succeeded(0, &json!("a"));
        let resumed = slot.resume().expect("a checkpoint");
        assert_eq!((resumed.state, &*resumed.input), (3, &json!({"in": 1})));
        let redriven = slot.attempt();
        assert_eq!(redriven.reused(0), Some(json!("a")));
        redriven.succeeded(0, &json!("a"));
        // A retry of the redriven attempt runs everything again.
        assert_eq!(slot.attempt().reused(0), None);
        let run = MapRunMemo { map_run_arn: "arn:run".to_owned(), succeeded_files: Vec::new() };
        slot.attempt().started_map_run(run.clone());
        slot.resume();
        assert_eq!(slot.attempt().map_run(), Some(&run));
        assert_eq!(slot.attempt().map_run(), None, "a retry starts a new map run");
        slot.forget_done();
        slot.resume();
        assert_eq!(slot.attempt().reused(0), None);
    }

    #[test]
    fn children_in_result_files_are_reused_without_outputs_and_saved_as_ranges() {
        let slot = CheckpointSlot::default();
        slot.enter(0, &Arc::new(json!({})), &Vars::new());
        slot.attempt().written((0..1000).filter(|i| i % 100 != 7).collect());
        let saved = slot.saved(OffsetDateTime::UNIX_EPOCH).expect("a checkpoint");
        assert_eq!(saved.written.ranges().len(), 11);
        assert!(saved.done.is_empty());
        let restored = CheckpointSlot::restore(Some(saved));
        restored.resume();
        let redriven = restored.attempt();
        assert_eq!((redriven.reused(6), redriven.reused(7)), (Some(Value::Null), None));
        assert_eq!(restored.attempt().reused(6), None, "only the first attempt after a redrive reuses");
    }
}
