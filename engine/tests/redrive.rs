//! RedriveExecution through the engine: a failed, timed-out or stopped Standard execution runs again
//! from the top-level state it stopped in, and Parallel and inline Map states rerun only the branches
//! and iterations that did not succeed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use legion_asl::parse::{parse, ParseOptions};
use legion_engine::history::Event;
use legion_engine::{
    Engine, ExecutionStatus, ListQuery, LocalHandlers, RedriveError, RedriveFilter, StartRequest, TaskError,
};
use serde_json::{json, Value};

fn machine(definition: Value) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse(&definition, ParseOptions::default()).expect("valid definition"))
}

fn types(execution: &legion_engine::Execution) -> Vec<&'static str> {
    execution.history().iter().map(|e| e.event_type().name()).collect()
}

/// A handler on `resource` that fails its first `failures` calls, then returns its input.
fn flaky(resource: &str, failures: usize) -> (LocalHandlers, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handlers = LocalHandlers::new().resource(resource, move |req| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < failures {
                Err(TaskError::new("Boom", format!("attempt {n}")))
            } else {
                Ok(req.input)
            }
        }
    });
    (handlers, calls)
}

/// A `hang-once` resource whose first call never answers and whose later calls echo their input,
/// with the count of calls.
fn hang_once() -> (LocalHandlers, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handlers = LocalHandlers::new().resource("hang-once", move |req| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                std::future::pending::<()>().await;
            }
            Ok(req.input)
        }
    });
    (handlers, calls)
}

#[tokio::test]
async fn a_failed_task_runs_again_with_its_input_and_variables_and_the_history_goes_on() {
    // Three failures: two attempts (one retry) before the redrive, then a fresh retry budget.
    let (handlers, calls) = flaky("flaky", 3);
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition = json!({
        "StartAt": "Prep",
        "States": {
            "Prep": {"Type": "Pass", "Result": {"v": 1}, "Assign": {"x": "from prep"}, "Next": "Work"},
            "Work": {
                "Type": "Task", "Resource": "flaky",
                "Parameters": {"v.$": "$.v", "x.$": "$x", "count.$": "$$.Execution.RedriveCount"},
                "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "End": true
            }
        }
    });
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!({}))).await.expect("the execution starts");
    let outcome = first.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let record = engine.describe_execution(first.arn()).await.expect("the store answers").expect("recorded");
    assert_eq!((record.redrive_count, record.redrive_date), (0, None));

    let redriven = engine.redrive(first.arn()).await.expect("a failed execution can be redriven");
    assert_eq!(redriven.redrive_count, 1);
    assert_eq!(redriven.execution.arn(), first.arn());
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 4, "one failure and one retry after the redrive");
    let output = outcome.output.expect("an output");
    assert_eq!((&output["v"], &output["x"], &output["count"]), (&json!(1), &json!("from prep"), &json!(1)));

    let history = first.history();
    let names: Vec<&str> = history.iter().map(|e| e.event_type().name()).collect();
    assert_eq!(
        names,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "ExecutionFailed",
            "ExecutionRedriven",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, e) in history.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1, "event ids go on in sequence");
    }
    assert_eq!(history[11].event, Event::ExecutionRedriven { redrive_count: 1 });
    assert_eq!(history[11].previous_event_id, 11);
    assert_eq!(history[12].previous_event_id, 12);

    let record = engine.describe_execution(first.arn()).await.expect("the store answers").expect("recorded");
    assert_eq!((record.status, record.redrive_count), (ExecutionStatus::Succeeded, 1));
    assert_eq!(record.redrive_date, Some(redriven.redrive_date));
    assert_eq!(
        engine.redrive(first.arn()).await.err(),
        Some(RedriveError::NotRedrivable("Execution is SUCCEEDED and cannot be redriven".to_owned()))
    );
    assert!(matches!(
        engine.redrive("arn:aws:states:us-east-1:123456789012:execution:sm:nope").await,
        Err(RedriveError::DoesNotExist(_))
    ));

    let other = engine
        .start(StartRequest::new(
            machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})),
            "sm",
            json!({}),
        ))
        .await
        .expect("the execution starts");
    other.outcome().await;
    let list = |filter| {
        let query = ListQuery { redrive_filter: Some(filter), max_results: 10, ..ListQuery::default() };
        let engine = engine.clone();
        async move {
            engine.list_executions(&query).await.expect("lists").items.into_iter().map(|r| r.arn).collect::<Vec<_>>()
        }
    };
    assert_eq!(list(RedriveFilter::Redriven).await, [first.arn().to_owned()]);
    assert_eq!(list(RedriveFilter::NotRedriven).await, [other.arn().to_owned()]);
}

#[tokio::test]
async fn a_running_execution_cannot_be_redriven_and_a_stopped_one_resumes_with_a_fresh_timeout() {
    let (handlers, calls) = hang_once();
    let engine = Engine::builder().time_scale(1.0).dispatcher(Arc::new(handlers)).build();
    let definition = json!({
        "TimeoutSeconds": 1,
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": "hang-once", "End": true}}
    });
    let first = engine
        .start(StartRequest::new(machine(definition), "sm", json!({"n": 7})))
        .await
        .expect("the execution starts");
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        engine.redrive(first.arn()).await.err(),
        Some(RedriveError::NotRedrivable("Execution is RUNNING and cannot be redriven".to_owned()))
    );
    let outcome = first.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
    let redriven = engine.redrive(first.arn()).await.expect("a timed-out execution can be redriven");
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "the timeout restarted: {outcome:?}");
    assert_eq!(outcome.output, Some(json!({"n": 7})));
    let t = types(&first);
    assert_eq!(
        t[t.len() - 8..],
        [
            "ExecutionTimedOut",
            "ExecutionRedriven",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
        .map(String::from)
    );
}

#[tokio::test]
async fn a_stopped_execution_can_be_redriven() {
    let (handlers, calls) = hang_once();
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "hang-once", "Next": "When"},
        "When": {"Type": "Pass", "Parameters": {"n.$": "$.n", "count.$": "$$.Execution.RedriveCount", "time.$": "$$.Execution.RedriveTime"}, "End": true}
    }});
    let first = engine
        .start(StartRequest::new(machine(definition), "sm", json!({"n": 8})))
        .await
        .expect("the execution starts");
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    engine.stop_execution(first.arn(), None, None).await.expect("stops");
    let redriven = engine.redrive(first.arn()).await.expect("an aborted execution can be redriven");
    let outcome = redriven.execution.outcome().await;
    let output = outcome.output.expect("an output");
    assert_eq!((&output["n"], &output["count"]), (&json!(8), &json!(1)));
    let time = output["time"].as_str().expect("RedriveTime after a redrive");
    let expected = legion_asl::timestamp::format(legion_asl::timestamp::truncate_to_millis(redriven.redrive_date));
    assert_eq!(time, expected);
}

/// Counts calls per branch; branch "b" fails its first call once the others have finished.
fn counting_handlers() -> (LocalHandlers, Arc<Mutex<HashMap<String, usize>>>) {
    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counter = calls.clone();
    let handlers = LocalHandlers::new().resource("count", move |req| {
        let counter = counter.clone();
        async move {
            let key = req.input["key"].as_str().unwrap_or_default().to_owned();
            let n = {
                let mut calls = counter.lock().unwrap_or_else(|e| e.into_inner());
                let n = calls.entry(key.clone()).or_default();
                *n += 1;
                *n
            };
            if req.input["fail_first"] == json!(true) && n == 1 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(TaskError::new("Boom", format!("{key} failed")));
            }
            Ok(json!({"key": key, "call": n}))
        }
    });
    (handlers, calls)
}

fn branch(key: &str, fail_first: bool) -> Value {
    json!({"StartAt": key, "States": {key: {"Type": "Task", "Resource": "count", "Parameters": {"key": key, "fail_first": fail_first}, "End": true}}})
}

#[tokio::test]
async fn a_parallel_state_reruns_only_its_failed_branches() {
    let (handlers, calls) = counting_handlers();
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition = json!({
        "StartAt": "Fan",
        "States": {"Fan": {"Type": "Parallel", "Branches": [branch("a", false), branch("b", true), branch("c", false)], "End": true}}
    });
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!({}))).await.expect("the execution starts");
    assert_eq!(first.outcome().await.status, ExecutionStatus::Failed);
    let redriven = engine.redrive(first.arn()).await.expect("redrivable");
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.output,
        Some(json!([{"key": "a", "call": 1}, {"key": "b", "call": 2}, {"key": "c", "call": 1}]))
    );
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(calls, HashMap::from([("a".to_owned(), 1), ("b".to_owned(), 2), ("c".to_owned(), 1)]));
    let t = types(&first);
    let after = &t[t.iter().position(|e| *e == "ExecutionRedriven").expect("redriven") + 1..];
    assert_eq!(after.iter().filter(|e| **e == "TaskScheduled").count(), 1, "only branch b runs again: {after:?}");
}

#[tokio::test]
async fn an_inline_map_reruns_only_its_failed_iterations() {
    let (handlers, calls) = counting_handlers();
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "count", "End": true}}},
            "End": true}}
    });
    let items: Vec<Value> = (0..5).map(|i| json!({"key": format!("i{i}"), "fail_first": i == 3})).collect();
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!(items))).await.expect("the execution starts");
    assert_eq!(first.outcome().await.status, ExecutionStatus::Failed);
    let redriven = engine.redrive(first.arn()).await.expect("redrivable");
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let output = outcome.output.expect("an output");
    let calls_out: Vec<&Value> = output.as_array().expect("an array").iter().map(|o| &o["call"]).collect();
    assert_eq!(calls_out, [&json!(1), &json!(1), &json!(1), &json!(2), &json!(1)]);
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(calls.values().sum::<usize>(), 6, "{calls:?}");
}

#[tokio::test]
async fn a_parallel_state_reruns_in_full_after_a_data_limit_failure() {
    let calls = Arc::new(AtomicUsize::new(0));
    let handlers = {
        let calls = calls.clone();
        LocalHandlers::new().resource("big", move |_req| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                // The first two calls (both branches of the first run) return too much together.
                let size = if n < 2 { 200_000 } else { 10 };
                Ok(json!("x".repeat(size)))
            }
        })
    };
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let big = |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Task", "Resource": "big", "End": true}}});
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "Branches": [big("B1"), big("B2")], "End": true}}});
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!({}))).await.expect("the execution starts");
    let outcome = first.outcome().await;
    assert_eq!(outcome.error.as_deref(), Some("States.DataLimitExceeded"), "{outcome:?}");
    let redriven = engine.redrive(first.arn()).await.expect("redrivable");
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 4, "both branches ran again");
}

#[tokio::test]
async fn a_distributed_map_continues_its_map_run_with_the_children_that_did_not_succeed() {
    let (handlers, calls) = counting_handlers();
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "count", "End": true}}
            },
            "End": true}}
    });
    let items: Vec<Value> = (0..6).map(|i| json!({"key": format!("i{i}"), "fail_first": i == 2 || i == 4})).collect();
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!(items))).await.expect("the execution starts");
    assert_eq!(first.outcome().await.status, ExecutionStatus::Failed);
    let runs = engine.list_map_runs(first.arn()).await.expect("the map-run store answers");
    assert_eq!(runs.len(), 1);
    let run_arn = runs[0].map_run_arn.clone();

    let redriven = engine.redrive(first.arn()).await.expect("redrivable");
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let output = outcome.output.expect("an output");
    let calls_out: Vec<&Value> = output.as_array().expect("an array").iter().map(|o| &o["call"]).collect();
    assert_eq!(calls_out, [&json!(1), &json!(1), &json!(2), &json!(1), &json!(2), &json!(1)]);
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(calls.values().sum::<usize>(), 8, "only the two failed children ran again: {calls:?}");

    let runs = engine.list_map_runs(first.arn()).await.expect("the map-run store answers");
    assert_eq!(runs.len(), 1, "the same map run goes on");
    let run = engine.describe_map_run(&run_arn).await.expect("the map-run store answers").expect("recorded");
    assert_eq!((run.status, run.redrive_count), (legion_engine::map_run::MapRunStatus::Succeeded, 1));
    assert!(run.redrive_date.is_some());
    assert_eq!((run.item_counts.succeeded, run.item_counts.total, run.item_counts.failed), (6, 6, 0));
    let history = first.history();
    let event = history.iter().find(|e| e.event_type().name() == "MapRunRedriven").expect("a MapRunRedriven event");
    assert_eq!(event.event, Event::MapRunRedriven { map_run_arn: run_arn.to_string(), redrive_count: 1 });
}

#[tokio::test]
async fn a_redriven_map_run_writes_every_success_and_only_the_latest_failures() {
    let (handlers, calls) = counting_handlers();
    let s3 = Arc::new(legion_engine::map_run::MemoryS3::new());
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).s3(s3.clone()).build();
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "count", "End": true}}
            },
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs"}},
            "End": true}}
    });
    let items: Vec<Value> = (0..4).map(|i| json!({"key": format!("i{i}"), "fail_first": i == 1})).collect();
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!(items))).await.expect("the execution starts");
    assert_eq!(first.outcome().await.status, ExecutionStatus::Failed);
    let run_arn = engine.list_map_runs(first.arn()).await.expect("the map-run store answers")[0].map_run_arn.clone();
    let uuid = run_arn.rsplit(':').next().expect("a UUID").to_owned();
    let manifest_key = format!("runs/{uuid}/manifest.json");
    let files = |kind: &str| -> Vec<Value> {
        let manifest: Value = serde_json::from_slice(&s3.get("out", &manifest_key).expect("manifest")).expect("JSON");
        let mut out = Vec::new();
        for f in manifest["ResultFiles"][kind].as_array().expect("a list") {
            let body = s3.get("out", f["Key"].as_str().expect("a key")).expect("a file");
            out.extend(serde_json::from_slice::<Vec<Value>>(&body).expect("an array"));
        }
        out
    };
    assert_eq!(files("FAILED").len(), 1);

    let redriven = engine.redrive(first.arn()).await.expect("redrivable");
    let outcome = redriven.execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output.as_ref().map(|o| &o["ResultWriterDetails"]["Key"]), Some(&json!(manifest_key)));
    let succeeded = files("SUCCEEDED");
    let mut keys: Vec<String> = succeeded
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r["Input"].as_str()?).ok())
        .filter_map(|input| input["key"].as_str().map(str::to_owned))
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["i0", "i1", "i2", "i3"], "successes of both attempts: {succeeded:?}");
    let manifest: Value = serde_json::from_slice(&s3.get("out", &manifest_key).expect("manifest")).expect("JSON");
    let listed: Vec<&str> = manifest["ResultFiles"]["SUCCEEDED"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|f| f["Key"].as_str())
        .collect();
    assert_eq!(
        listed,
        [format!("runs/{uuid}/SUCCEEDED_0.json"), format!("runs/{uuid}/SUCCEEDED_1.json")],
        "the first attempt's file, then the redrive's"
    );
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(calls.values().sum::<usize>(), 5, "only the failed child ran again: {calls:?}");
    assert!(files("FAILED").is_empty(), "only the latest attempt's failures");
    assert!(files("PENDING").is_empty());
}

#[tokio::test]
async fn a_map_run_is_redriven_at_most_a_thousand_times() {
    let engine = Engine::builder().time_scale(0.0).build();
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Always"}}
            },
            "End": true}}
    });
    let first =
        engine.start(StartRequest::new(machine(definition), "sm", json!([1]))).await.expect("the execution starts");
    assert_eq!(first.outcome().await.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    for _ in 0..1000 {
        let outcome = engine.redrive(first.arn()).await.expect("redrivable").execution.outcome().await;
        assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    }
    let run = &engine.list_map_runs(first.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(run.redrive_count, 1000);
    let outcome = engine.redrive(first.arn()).await.expect("redrivable").execution.outcome().await;
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"), "{outcome:?}");
    assert_eq!(engine.list_map_runs(first.arn()).await.expect("the map-run store answers").len(), 1);
}
