//! Runs the `activity` cases: each case's activity worker (a `fixture`/`sfn_activity_consumer` setup
//! call, itself a state machine polling with `aws-sdk:sfn:getActivityTask` and answering with
//! `sendTaskSuccess`/`sendTaskHeartbeat`) runs as a second execution on the same engine, its
//! `aws-sdk:sfn` tasks answered by the engine's own activity and task-token calls.
//!
//! Both executions share one paused-clock runtime, so the worker's Wait states and the activity's
//! timeouts keep their real ordering while taking no wall-clock time.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use legion_asl::parse::{parse, ParseOptions};
use legion_engine::{Engine, LocalHandlers, StartRequest, TaskError, TaskRequest};
use serde_json::{json, Value};

use crate::case::{SetupCall, ACCOUNT_ID, REGION};
use crate::runner::Actual;

/// An activity worker of a case: its state machine and the activity it polls.
struct Consumer {
    template: Value,
    activity_arn: String,
}

fn consumers(calls: &[SetupCall]) -> Vec<Consumer> {
    calls
        .iter()
        .filter(|c| c.service == "fixture" && c.op == "sfn_activity_consumer")
        .filter_map(|c| {
            let kwargs = c.kwargs.as_ref()?;
            Some(Consumer {
                template: kwargs.get("template")?.clone(),
                activity_arn: kwargs.get("activity_arn")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

fn text(input: &Value, key: &str) -> Option<String> {
    input.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn sfn_error(e: legion_engine::TokenError) -> TaskError {
    let name = match e {
        legion_engine::TokenError::InvalidToken(_) => "Sfn.InvalidTokenException",
        legion_engine::TokenError::TaskDoesNotExist => "Sfn.TaskDoesNotExistException",
        legion_engine::TokenError::TaskTimedOut => "Sfn.TaskTimedOutException",
        legion_engine::TokenError::Store(_) => "States.Runtime",
    };
    TaskError::new(name, e.to_string())
}

/// The `aws-sdk:sfn` calls an activity worker makes, answered by `engine`.
fn sfn_handlers(engine: Arc<OnceLock<Engine>>) -> LocalHandlers {
    let (e1, e2, e3, e4) = (engine.clone(), engine.clone(), engine.clone(), engine);
    LocalHandlers::new()
        .resource("arn:aws:states:::aws-sdk:sfn:getActivityTask", move |r: TaskRequest| {
            let engine = e1.clone();
            async move {
                let engine = engine.get().ok_or_else(|| TaskError::bare("States.TaskFailed"))?;
                let arn = text(&r.input, "ActivityArn").unwrap_or_default();
                let worker = text(&r.input, "WorkerName");
                Ok(match engine.get_activity_task(&arn, worker.as_deref(), Duration::from_secs(60)).await {
                    Some(t) => json!({"TaskToken": t.task_token, "Input": t.input.to_string()}),
                    None => json!({}),
                })
            }
        })
        .resource("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess", move |r: TaskRequest| {
            let engine = e2.clone();
            async move {
                let engine = engine.get().ok_or_else(|| TaskError::bare("States.TaskFailed"))?;
                let output = text(&r.input, "Output").unwrap_or_default();
                let output: Value = serde_json::from_str(&output)
                    .map_err(|e| TaskError::new("Sfn.InvalidOutputException", e.to_string()))?;
                engine
                    .send_task_success(&text(&r.input, "TaskToken").unwrap_or_default(), output)
                    .map_err(sfn_error)?;
                Ok(json!({}))
            }
        })
        .resource("arn:aws:states:::aws-sdk:sfn:sendTaskFailure", move |r: TaskRequest| {
            let engine = e3.clone();
            async move {
                let engine = engine.get().ok_or_else(|| TaskError::bare("States.TaskFailed"))?;
                let token = text(&r.input, "TaskToken").unwrap_or_default();
                engine
                    .send_task_failure(&token, text(&r.input, "Error"), text(&r.input, "Cause"))
                    .map_err(sfn_error)?;
                Ok(json!({}))
            }
        })
        .resource("arn:aws:states:::aws-sdk:sfn:sendTaskHeartbeat", move |r: TaskRequest| {
            let engine = e4.clone();
            async move {
                let engine = engine.get().ok_or_else(|| TaskError::bare("States.TaskFailed"))?;
                engine.send_task_heartbeat(&text(&r.input, "TaskToken").unwrap_or_default()).map_err(sfn_error)?;
                Ok(json!({}))
            }
        })
}

/// Runs one activity case to its end on a paused-clock runtime, with its workers alongside.
pub(crate) fn run_paused(calls: &[SetupCall], request: StartRequest) -> Actual {
    let workers = consumers(calls);
    if workers.is_empty() {
        return Actual::Skipped("needs the 'activity' integration: the case names no activity worker".to_owned());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build() {
        Ok(rt) => rt,
        Err(e) => return Actual::Skipped(format!("cannot start a runtime: {e}")),
    };
    runtime.block_on(async move {
        let cell = Arc::new(OnceLock::new());
        let engine = Engine::builder()
            .account(ACCOUNT_ID, REGION)
            .time_scale(1.0)
            .dispatcher(Arc::new(sfn_handlers(cell.clone())))
            .build();
        let _ = cell.set(engine.clone());
        let mut running = Vec::new();
        for (i, w) in workers.into_iter().enumerate() {
            let machine = match parse(&w.template, ParseOptions::default()) {
                Ok(m) => Arc::new(m),
                Err(d) => return Actual::Skipped(format!("the activity worker's definition is invalid: {d:?}")),
            };
            let input = json!({"ActivityArn": w.activity_arn});
            running.push(
                engine
                    .start(StartRequest::new(machine, format!("activity-worker-{i}"), input))
                    .await
                    .expect("the execution starts"),
            );
        }
        let (execution, outcome) = engine.run(request).await.expect("the execution starts");
        for worker in running {
            worker.stop(None, None);
        }
        crate::engine_runner::actual(&execution, outcome)
    })
}
