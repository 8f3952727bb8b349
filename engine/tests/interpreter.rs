//! Interpreter behaviour through the public API: Retry timing, Catch, timeouts, the time scale,
//! task dispatch to local handlers, and the history it records.
//!
//! Time-dependent tests run on tokio's paused clock, so virtual seconds are measured exactly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse, ParseOptions};
use legion_engine::history::{Event, HistoryEvent, StateType};
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, Outcome, StartRequest, TaskError};
use serde_json::{json, Value};

fn machine(definition: Value) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse(&definition, ParseOptions::default()).expect("valid definition"))
}

async fn run_with(engine: &Engine, definition: Value, input: Value) -> (Outcome, Vec<HistoryEvent>) {
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(definition), "test", input)).await.expect("the execution starts");
    (outcome, execution.history())
}

fn types(history: &[HistoryEvent]) -> Vec<&'static str> {
    history.iter().map(|e| e.event_type().name()).collect()
}

/// A handler that fails `failures` times with `error`, then returns its input.
fn flaky(failures: usize, error: &'static str) -> (LocalHandlers, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handlers = LocalHandlers::new().resource("flaky", move |req| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < failures {
                Err(TaskError::new(error, format!("attempt {n}")))
            } else {
                Ok(req.input)
            }
        }
    });
    (handlers, calls)
}

#[tokio::test(start_paused = true)]
async fn retry_waits_interval_times_backoff_rate_capped_by_max_delay() {
    let (handlers, calls) = flaky(4, "Busy");
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "flaky", "End": true,
        "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 5, "MaxDelaySeconds": 10}]}}});
    let started = tokio::time::Instant::now();
    let (outcome, history) = run_with(&engine, definition, json!({"k": 1})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"k": 1})));
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    // Delays: 2, 6, min(18, 10), min(54, 10) = 28 s.
    assert_eq!(started.elapsed().as_secs(), 28);
    assert_eq!(types(&history).iter().filter(|t| **t == "TaskScheduled").count(), 5);
}

#[tokio::test(start_paused = true)]
async fn time_scale_shrinks_waits_and_retries() {
    let (handlers, _) = flaky(1, "Busy");
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).time_scale(0.01).build();
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1000, "Next": "T"},
        "T": {"Type": "Task", "Resource": "flaky", "End": true,
              "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100}]}}});
    let started = tokio::time::Instant::now();
    let (outcome, _) = run_with(&engine, definition, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(started.elapsed(), Duration::from_secs(11));
}

#[tokio::test(start_paused = true)]
async fn retries_exhausted_then_caught_with_result_path() {
    let (handlers, calls) = flaky(10, "Boom");
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "flaky", "Next": "Done",
              "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}]},
        "Done": {"Type": "Succeed"},
        "Handled": {"Type": "Pass", "End": true}}});
    let (outcome, history) = run_with(&engine, definition, json!({"order": 7})).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"order": 7, "error": {"Error": "Boom", "Cause": "attempt 2"}})));
    assert_eq!(
        types(&history),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn states_all_does_not_catch_runtime_errors() {
    let engine = Engine::builder().build();
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.missing", "End": true}}}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}], "End": true},
        "Handled": {"Type": "Succeed"}}});
    let (outcome, _) = run_with(&engine, definition, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        outcome.cause.as_deref(),
        Some("An error occurred while executing the state 'B' (entered at the event id #4). Invalid path '$.missing' : No results for path: $['missing']")
    );
}

#[tokio::test(start_paused = true)]
async fn task_timeout_is_states_timeout() {
    let handlers = LocalHandlers::new().resource("slow", |_| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(json!("late"))
    });
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "slow", "TimeoutSeconds": 5, "End": true}}});
    let (outcome, history) = run_with(&engine, definition, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert!(types(&history).contains(&"TaskTimedOut"));
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_is_timed_out() {
    let engine = Engine::builder().build();
    let definition =
        json!({"TimeoutSeconds": 10, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let (outcome, history) = run_with(&engine, definition, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
    assert_eq!(types(&history).last(), Some(&"ExecutionTimedOut"));
}

#[tokio::test(start_paused = true)]
async fn stop_aborts_a_running_execution() {
    let engine = Engine::builder().build();
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let execution =
        engine.start(StartRequest::new(machine(definition), "test", json!({}))).await.expect("the execution starts");
    tokio::time::sleep(Duration::from_secs(1)).await;
    execution.stop(Some("Operator".into()), Some("stopped by hand".into()));
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Aborted);
    assert_eq!(outcome.error.as_deref(), Some("Operator"));
}

#[tokio::test]
async fn inline_map_keeps_item_order_under_concurrency() {
    let handlers = LocalHandlers::new().resource("square", |req| async move {
        let n = req.input.as_i64().unwrap_or_default();
        // Later items finish first.
        tokio::time::sleep(Duration::from_millis(20 - n as u64)).await;
        Ok(json!(n * n))
    });
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 4, "End": true,
        "ItemProcessor": {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "square", "End": true}}}}}});
    let input: Vec<i64> = (0..10).collect();
    let (outcome, _) = run_with(&engine, definition, json!(input)).await;
    let expected: Vec<i64> = (0..10).map(|n| n * n).collect();
    assert_eq!(outcome.output, Some(json!(expected)));
}

#[tokio::test]
async fn oversized_output_fails_with_data_limit_exceeded() {
    let engine = Engine::builder().build();
    let big = "x".repeat(300_000);
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": big, "End": true}}});
    let (outcome, _) = run_with(&engine, definition, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[tokio::test]
async fn variables_flow_between_states_and_into_branches() {
    let engine = Engine::builder().build();
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"base": 40}, "Next": "P"},
        "P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($base, 2)"}, "End": true}}}]}}});
    let (outcome, history) = run_with(&engine, definition, json!({})).await;
    assert_eq!(outcome.output, Some(json!([{"sum": 42}])));
    let Event::StateExited { state_type: StateType::Pass, assigned: Some(assigned), .. } = &history[2].event else {
        panic!("a Pass state exited with its assignments: {:?}", history[2]);
    };
    let assigned: Vec<(&str, String)> = assigned.iter().map(|(k, v)| (k.as_str(), v.text().into_owned())).collect();
    assert_eq!(assigned, [("base", "40".to_owned())]);
}

#[tokio::test]
async fn express_executions_are_not_kept_after_they_end() {
    let engine = Engine::builder().time_scale(0.0).build();
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let mut express = StartRequest::new(machine(definition.clone()), "m", json!({"a": 1}));
    express.machine_type = legion_asl::model::StateMachineType::Express;
    let (execution, outcome) = engine.run(express).await.expect("the execution starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(execution.history().len(), 4, "the caller still has the history");
    assert!(
        engine.describe_execution(execution.arn()).await.expect("the store answers").is_none(),
        "AWS keeps no record of an Express execution"
    );

    let (standard, _) =
        engine.run(StartRequest::new(machine(definition), "m", json!({"a": 1}))).await.expect("the execution starts");
    let record = engine
        .describe_execution(standard.arn())
        .await
        .expect("the store answers")
        .expect("a Standard execution is kept");
    assert_eq!(record.status, ExecutionStatus::Succeeded);
}
