//! Inputs that once reached a panic end as ordinary executions; a panic inside the interpreter (a
//! bug) fails its execution instead of leaving it RUNNING; every start reserves its name.

use std::sync::Arc;

use legion_asl::parse::{parse, ParseOptions};
use legion_engine::store::{ListQuery, StoreError};
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, StartRequest, TaskError};
use serde_json::{json, Value};

fn machine(definition: Value) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse(&definition, ParseOptions::default()).expect("valid definition"))
}

fn task(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": "work", "End": true});
    for (k, v) in extra.as_object().into_iter().flatten() {
        state[k] = v.clone();
    }
    json!({"StartAt": "T", "States": {"T": state}})
}

fn event_types(execution: &legion_engine::Execution) -> Vec<&'static str> {
    execution.history().iter().map(|e| e.event_type().name()).collect()
}

#[tokio::test]
async fn a_timeout_beyond_the_clock_is_no_timeout() {
    let handlers = LocalHandlers::new().resource("work", |req| async move { Ok(req.input) });
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).time_scale(0.0).build();
    let definition = task(json!({"TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.t"}));
    let input = json!({"t": 10_000_000_000_000_000_000u64});
    let (_, outcome) = engine.run(StartRequest::new(machine(definition), "huge", input.clone())).await.expect("starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(input));
}

#[tokio::test]
async fn an_infinite_backoff_at_time_scale_zero_retries_at_once() {
    for jitter in ["NONE", "FULL"] {
        let handlers =
            LocalHandlers::new().resource("work", |_| async move { Err(TaskError::new("Busy", "try again")) });
        let engine = Engine::builder().dispatcher(Arc::new(handlers)).time_scale(0.0).build();
        let retry =
            json!([{"ErrorEquals": ["Busy"], "BackoffRate": 1e308, "MaxAttempts": 5, "JitterStrategy": jitter}]);
        let definition = task(json!({ "Retry": retry }));
        let (execution, outcome) =
            engine.run(StartRequest::new(machine(definition), "backoff", json!({}))).await.expect("starts");
        assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
        assert_eq!(outcome.error.as_deref(), Some("Busy"));
        let scheduled = event_types(&execution).iter().filter(|t| **t == "TaskScheduled").count();
        assert_eq!(scheduled, 6, "the first attempt and five retries");
    }
}

#[tokio::test]
async fn a_panic_in_a_task_fails_the_execution_and_finishes_its_record() {
    let handlers = LocalHandlers::new().resource("work", |req| async move {
        if req.input["boom"] == json!(true) {
            panic!("handler exploded");
        }
        Ok(req.input)
    });
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(task(json!({}))), "panics", json!({"boom": true}))).await.expect("starts");
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
    let cause = outcome.cause.unwrap_or_default();
    assert!(cause.contains("internal error") && cause.contains("handler exploded"), "{cause}");
    assert_eq!(event_types(&execution).last().copied(), Some("ExecutionFailed"));
    let record =
        engine.describe_execution(execution.arn()).await.expect("the store answers").expect("the record is kept");
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert!(record.stop_date.is_some());
    // The engine goes on running other executions.
    let (_, fine) = engine
        .run(StartRequest::new(machine(task(json!({}))), "panics", json!({"boom": false})))
        .await
        .expect("starts");
    assert_eq!(fine.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn a_panic_in_a_map_run_child_fails_that_child_only() {
    let handlers = LocalHandlers::new().resource("work", |req| async move {
        if req.input.as_u64().is_some_and(|n| n % 10 == 3) {
            panic!("item {} exploded", req.input);
        }
        Ok(req.input)
    });
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let definition = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "End": true, "ToleratedFailurePercentage": 100,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "work", "End": true}}
        }
    }}});
    let items: Vec<Value> = (0..50).map(|i| json!(i)).collect();
    let (_, outcome) = engine.run(StartRequest::new(machine(definition), "map", json!(items))).await.expect("starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let results = outcome.output.expect("an output");
    let results = results.as_array().expect("one result per item");
    assert_eq!(results.len(), 50);
    for (i, r) in results.iter().enumerate() {
        if i % 10 == 3 {
            assert_eq!(r["Error"], "States.Runtime", "item {i}: {r}");
        } else {
            assert_eq!(r, &json!(i), "item {i}");
        }
    }
}

#[tokio::test]
async fn every_start_reserves_its_name() {
    let (release, wait) = tokio::sync::watch::channel(false);
    let handlers = LocalHandlers::new().resource("work", move |req| {
        let mut wait = wait.clone();
        async move {
            let _ = wait.wait_for(|go| *go).await;
            Ok(req.input)
        }
    });
    let engine = Engine::builder().dispatcher(Arc::new(handlers)).build();
    let request = |input: Value| {
        let mut r = StartRequest::new(machine(task(json!({}))), "names", input);
        r.execution_name = Some("once".to_owned());
        r
    };
    let first = engine.start(request(json!({"a": 1}))).await.expect("a free name");
    // The same name and input while it runs is the same execution.
    let again = engine.start(request(json!({"a": 1}))).await.expect("an idempotent start");
    assert_eq!(again.arn(), first.arn());
    // Another input under the same name is refused, while running and after.
    let taken = engine.start(request(json!({"a": 2}))).await.err();
    assert!(matches!(taken, Some(StoreError::AlreadyExists(_))), "{taken:?}");
    release.send_replace(true);
    assert_eq!(first.outcome().await.status, ExecutionStatus::Succeeded);
    let after = engine.start(request(json!({"a": 1}))).await.err();
    assert!(matches!(after, Some(StoreError::AlreadyExists(_))), "{after:?}");
    let query = ListQuery { max_results: 100, ..ListQuery::default() };
    let listed = engine.list_executions(&query).await.expect("a listing");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].status, ExecutionStatus::Succeeded);
}
