//! Activity tasks: a Task whose `Resource` is an activity ARN
//! (`arn:aws:states:REGION:ACCOUNT:activity:NAME`) waits in its activity's queue until a worker asks
//! for work ([`Engine::get_activity_task`], GetActivityTask), then ends through its task token like a
//! callback task (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).
//!
//! History follows AWS: `ActivityScheduled` when the task is queued, `ActivityStarted` (with the
//! worker's name) when a worker takes it, then `ActivitySucceeded`, `ActivityFailed` or
//! `ActivityTimedOut`. `TimeoutSeconds` counts from scheduling, so it covers the wait for a worker;
//! `HeartbeatSeconds` counts from the moment a worker takes the task.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use legion_asl::error::names;
use serde_json::Value;
use tokio::sync::{oneshot, Notify};

use crate::dispatch::{BoxFuture, Dispatched, TaskError};
use crate::engine::Engine;
use crate::history::{Event, Recorder};
use crate::store::{ExecutionStore, Signal};

/// How often GetActivityTask asks a shared store for the tasks of other engines' executions.
const SHARED_POLL: Duration = Duration::from_millis(200);

/// A task handed to an activity worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    /// The token the worker answers with (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).
    pub task_token: String,
    /// The task's effective input.
    pub input: Value,
}

pub use legion_asl::integrations::is_activity_arn;

/// A scheduled task waiting for a worker.
struct Pending {
    token: String,
    input: Value,
    /// Offered through a shared store too: handed out only through it, so that no two engines do.
    offered: bool,
    /// Receives the worker's name when a worker takes the task.
    started: oneshot::Sender<Option<String>>,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Pending>,
    /// Wakes one waiting worker per scheduled task.
    notify: Arc<Notify>,
}

/// The activity queues of an engine, by activity ARN.
#[derive(Default, Clone)]
pub(crate) struct ActivityQueues {
    inner: Arc<Mutex<HashMap<String, Queue>>>,
}

impl ActivityQueues {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Queue>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a task; the receiver learns the worker's name when a worker takes it.
    fn schedule(&self, arn: &str, token: &str, input: Value, offered: bool) -> oneshot::Receiver<Option<String>> {
        let (started, rx) = oneshot::channel();
        let mut queues = self.lock();
        let queue = queues.entry(arn.to_owned()).or_default();
        // Tasks whose execution has gone (stopped, timed out) are dropped on the way.
        queue.pending.retain(|p| !p.started.is_closed());
        queue.pending.push_back(Pending { token: token.to_owned(), input, offered, started });
        queue.notify.notify_one();
        rx
    }

    /// Takes the oldest task still waiting on `arn` that was not offered through a shared store,
    /// telling it which worker took it.
    fn take(&self, arn: &str, worker: Option<&str>) -> Option<ActivityTask> {
        let mut queues = self.lock();
        let queue = queues.get_mut(arn)?;
        while let Some(at) = queue.pending.iter().position(|p| !p.offered) {
            let Some(p) = queue.pending.remove(at) else { break };
            if p.started.send(worker.map(str::to_owned)).is_ok() {
                return Some(ActivityTask { task_token: p.token, input: p.input });
            }
        }
        None
    }

    /// Hands the task of `token` to a worker that took it through a shared store; false when it does
    /// not wait here (any more, or yet).
    pub(crate) fn take_token(&self, arn: &str, token: &str, worker: Option<&str>) -> bool {
        let mut queues = self.lock();
        let Some(queue) = queues.get_mut(arn) else { return false };
        let Some(at) = queue.pending.iter().position(|p| p.token == token) else { return false };
        let Some(p) = queue.pending.remove(at) else { return false };
        p.started.send(worker.map(str::to_owned)).is_ok()
    }

    /// The wake-up of `arn`'s queue, creating the queue if needed.
    fn notify(&self, arn: &str) -> Arc<Notify> {
        self.lock().entry(arn.to_owned()).or_default().notify.clone()
    }

    /// Forgets `arn`'s queue when it holds no task and no worker waits on it.
    fn tidy(&self, arn: &str) {
        let mut queues = self.lock();
        if let Some(q) = queues.get(arn) {
            if q.pending.is_empty() && Arc::strong_count(&q.notify) == 1 {
                queues.remove(arn);
            }
        }
    }

    /// Removes the task of `token` from `arn`'s queue (its execution no longer waits for it).
    fn withdraw(&self, arn: &str, token: &str) {
        let mut queues = self.lock();
        if let Some(q) = queues.get_mut(arn) {
            q.pending.retain(|p| p.token != token);
            if q.pending.is_empty() && Arc::strong_count(&q.notify) == 1 {
                queues.remove(arn);
            }
        }
    }
}

/// Withdraws a queued task when the Task state stops waiting for any reason.
struct Withdraw<'a> {
    queues: &'a ActivityQueues,
    arn: &'a str,
    token: String,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.queues.withdraw(self.arn, &self.token);
    }
}

/// Starts an activity task after `ActivityScheduled` was recorded: queues it (and offers it through
/// `shared`, a store other engines share, to their workers too) and, when a worker takes it, records
/// `ActivityStarted` and answers [`Dispatched::Submitted`], so the Task state goes on to wait for the
/// answer through the token. Dropping the future withdraws the task.
pub(crate) fn start<'a>(
    queues: &'a ActivityQueues,
    shared: Option<Arc<dyn ExecutionStore>>,
    recorder: &'a mut Recorder,
    token: String,
    resource: Arc<str>,
    input: Value,
) -> BoxFuture<'a, Result<Dispatched, TaskError>> {
    Box::pin(async move {
        let mut offered = false;
        if let Some(store) = &shared {
            match store.activity_scheduled(&resource, &token, &input).await {
                Ok(()) => offered = true,
                Err(e) => {
                    tracing::warn!(activity = %resource, error = %e, "only this instance's workers can take this activity task")
                }
            }
        }
        let started = queues.schedule(&resource, &token, input, offered);
        let guard = Withdraw { queues, arn: &resource, token: token.clone() };
        let taken = started.await;
        drop(guard);
        let Ok(worker) = taken else {
            return Err(TaskError::new(names::TASK_FAILED, "The activity task was withdrawn"));
        };
        recorder.record_with(|| Event::ActivityStarted { worker_name: worker.clone() });
        Ok(Dispatched::Submitted(Value::Null))
    })
}

impl Engine {
    /// GetActivityTask: waits up to `wait` for a task scheduled on the activity `activity_arn` and
    /// hands it to the worker `worker_name`; `None` when none arrives in time.
    pub async fn get_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
        wait: Duration,
    ) -> Option<ActivityTask> {
        let queues = &self.shared.activities;
        // A wait too long for the clock to represent is cut to about thirty years.
        let now = tokio::time::Instant::now();
        let deadline = now.checked_add(wait).unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
        let shared = self.shared.executions.store.lease().is_some();
        let notify = queues.notify(activity_arn);
        let task = loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut taken = queues.take(activity_arn, worker_name);
            if taken.is_none() && shared {
                taken = self.take_shared(activity_arn, worker_name).await;
            }
            if let Some(task) = taken {
                break Some(task);
            }
            // Tasks of other engines are not announced here: a shared store is asked again soon.
            let wake = match shared {
                true => deadline.min(tokio::time::Instant::now() + SHARED_POLL),
                false => deadline,
            };
            if tokio::time::timeout_at(wake, notified).await.is_err() && wake >= deadline {
                break None;
            }
        };
        drop(notify);
        queues.tidy(activity_arn);
        task
    }

    /// Takes a task through a shared store, so that no other engine hands it out too, and tells the
    /// engine that runs its execution (this one, or another through a signal).
    async fn take_shared(&self, activity_arn: &str, worker_name: Option<&str>) -> Option<ActivityTask> {
        let store = &self.shared.executions.store;
        let (token, input) = match store.take_activity(activity_arn).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(activity = %activity_arn, error = %e, "could not look for activity tasks");
                return None;
            }
        };
        if !self.shared.activities.take_token(activity_arn, &token, worker_name) {
            let signal = Signal::ActivityTaken {
                activity_arn: activity_arn.to_owned(),
                token: token.clone(),
                worker_name: worker_name.map(str::to_owned),
            };
            if let Err(e) = store.send(signal).await {
                tracing::warn!(activity = %activity_arn, error = %e, "could not tell the execution its activity task was taken");
            }
        }
        Some(ActivityTask { task_token: token, input })
    }

    /// How many tasks wait for a worker on the activity `activity_arn`.
    pub fn pending_activity_tasks(&self, activity_arn: &str) -> usize {
        self.shared
            .activities
            .lock()
            .get(activity_arn)
            .map_or(0, |q| q.pending.iter().filter(|p| !p.started.is_closed()).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_arns_are_recognised() {
        assert!(is_activity_arn("arn:aws:states:us-east-1:111111111111:activity:act-1"));
        assert!(!is_activity_arn("arn:aws:states:::sqs:sendMessage"));
        assert!(!is_activity_arn("arn:aws:states:us-east-1:1:stateMachine:m"));
        assert!(!is_activity_arn("arn:aws:states:us-east-1:1:activity:"));
        assert!(!is_activity_arn(":activity:"));
    }
}
