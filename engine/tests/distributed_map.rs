//! Distributed Map through the engine with in-memory item sources and result files: child executions,
//! batching, concurrency with backpressure, tolerated failures, result files and map-run records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::dispatch::BoxFuture;
use legion_engine::map_run::{
    ItemReaderError, ItemSource, MapRunStatus, MemoryS3, ReaderRequest, ResultObject, ResultWriterError, S3Connector,
};
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, Outcome, StartRequest};
use serde_json::{json, Value};

fn machine(definition: Value) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"))
}

async fn run(engine: &Engine, definition: Value, input: Value) -> (legion_engine::Execution, Outcome) {
    engine.run(StartRequest::new(machine(definition), "sm", input)).await.expect("the execution starts")
}

fn distributed(extra: Value, child: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Child",
            "States": {"Child": child}
        },
        "End": true
    });
    if let (Some(m), Some(e)) = (map.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    json!({"StartAt": "Map", "States": {"Map": map}})
}

fn event_types(execution: &legion_engine::Execution) -> Vec<&'static str> {
    execution.history().iter().map(|e| e.event_type().name()).collect()
}

#[tokio::test]
async fn batches_run_as_child_executions_with_their_own_history() {
    let engine = Engine::builder().time_scale(0.0).build();
    let items: Vec<Value> = (0..250).map(|i| json!({"n": i})).collect();
    let definition = distributed(
        json!({"ItemsPath": "$.items", "ItemBatcher": {"MaxItemsPerBatch": 100, "BatchInput": {"tag": "b"}}, "Label": "L"}),
        json!({"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.Items)", "tag.$": "$.BatchInput.tag"}, "End": true}),
    );
    let (execution, outcome) = run(&engine, definition, json!({"items": items})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.output,
        Some(json!([{"count": 100, "tag": "b"}, {"count": 100, "tag": "b"}, {"count": 50, "tag": "b"}]))
    );
    let types = event_types(&execution);
    assert_eq!(
        &types[..],
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let runs = engine.list_map_runs(execution.arn()).await.expect("the map-run store answers");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(run.map_run_arn.starts_with("arn:aws:states:us-east-1:123456789012:mapRun:sm/L:"), "{}", run.map_run_arn);
    assert_eq!(run.state_machine_arn, "arn:aws:states:us-east-1:123456789012:stateMachine:sm/L");
    assert_eq!(run.status, MapRunStatus::Succeeded);
    assert_eq!((run.item_counts.total, run.item_counts.succeeded, run.item_counts.running), (250, 250, 0));
    assert_eq!((run.execution_counts.total, run.execution_counts.succeeded), (3, 3));
    assert_eq!(engine.describe_map_run(&run.map_run_arn).await.expect("the map-run store answers").as_ref(), Some(run));
    let children = engine.list_map_run_executions(&run.map_run_arn).await.expect("the map-run store answers");
    assert_eq!(children.iter().map(|c| c.item_count).collect::<Vec<_>>(), [100, 100, 50]);
    for child in &children {
        assert!(child.execution_arn.starts_with("arn:aws:states:us-east-1:123456789012:execution:sm/L:"));
        assert_eq!(child.status, ExecutionStatus::Succeeded);
        let history = child.history.as_ref().expect("kept");
        let types: Vec<&str> = history.events().iter().map(|e| e.event_type().name()).collect();
        assert_eq!(types, ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    }
}

#[tokio::test]
async fn express_children_are_kept_without_a_history() {
    let engine = Engine::builder().time_scale(0.0).build();
    let mut definition = distributed(json!({"ItemsPath": "$.items"}), json!({"Type": "Pass", "End": true}));
    definition["States"]["Map"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = json!("EXPRESS");
    let (execution, outcome) = run(&engine, definition, json!({"items": [1, 2, 3]})).await;
    assert_eq!(outcome.output, Some(json!([1, 2, 3])), "{outcome:?}");
    let runs = engine.list_map_runs(execution.arn()).await.expect("the map-run store answers");
    let children = engine.list_map_run_executions(&runs[0].map_run_arn).await.expect("the map-run store answers");
    assert_eq!(children.len(), 3);
    for child in &children {
        assert!(child.execution_arn.contains(":express:sm/"), "{}", child.execution_arn);
        assert_eq!(child.status, ExecutionStatus::Succeeded);
        assert!(child.history.is_none(), "AWS records no history for an Express execution");
    }
}

#[tokio::test]
async fn a_child_reads_its_own_context_whatever_the_parent_reads() {
    let engine = Engine::builder().time_scale(0.0).build();
    let child =
        json!({"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "state.$": "$$.State.Name"}, "End": true});
    // The parent never names the context; the child does.
    let (_, outcome) = run(&engine, distributed(json!({"ItemsPath": "$.items"}), child), json!({"items": [1]})).await;
    let output = outcome.output.expect("an output");
    assert!(output[0]["id"].as_str().is_some_and(|id| id.contains(":execution:sm/")), "{output}");
    assert_eq!(output[0]["state"], "Child");
}

#[tokio::test]
async fn an_express_execution_records_its_history_unless_asked_not_to() {
    let engine = Engine::builder().time_scale(0.0).build();
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    for (machine_type, record, events) in [
        (legion_asl::model::StateMachineType::Express, true, 4),
        (legion_asl::model::StateMachineType::Express, false, 0),
        // A Standard execution records it all the same: DescribeExecution and redrive read it.
        (legion_asl::model::StateMachineType::Standard, false, 4),
    ] {
        let mut request = StartRequest::new(machine(definition.clone()), "sm", json!({}));
        request.machine_type = machine_type;
        request.record_history = record;
        let (execution, outcome) = engine.run(request).await.expect("the execution starts");
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(execution.history().len(), events, "{machine_type:?}, record_history {record}");
    }
}

#[tokio::test]
async fn item_reader_and_selector_see_the_item_index_and_value() {
    let s3 = MemoryS3::new();
    s3.put("bkt", "data.json", r#"[{"a": 1}, {"a": 2}, {"a": 3}]"#);
    let engine = Engine::builder().time_scale(0.0).s3(Arc::new(s3)).build();
    let definition = distributed(
        json!({
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON", "MaxItems": 2},
                           "Parameters": {"Bucket.$": "$.bucket", "Key": "data.json"}},
            "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value.a", "from.$": "$.bucket"}
        }),
        json!({"Type": "Pass", "End": true}),
    );
    let (_, outcome) = run(&engine, definition, json!({"bucket": "bkt"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.output,
        Some(json!([{"index": 0, "value": 1, "from": "bkt"}, {"index": 1, "value": 2, "from": "bkt"}]))
    );
}

#[tokio::test]
async fn children_do_not_see_the_parent_variables() {
    let engine = Engine::builder().time_scale(0.0).build();
    let definition = json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"secret": 1}, "Next": "Map"},
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Read",
                    "States": {"Read": {"Type": "Pass", "Parameters": {"s.$": "$secret"}, "End": true}}
                },
                "End": true
            }
        }
    });
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(definition), "sm", json!([1]))).await.expect("the execution starts");
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    let child = &engine.list_map_run_executions(&run.map_run_arn).await.expect("the map-run store answers")[0];
    assert!(child.execution_arn.contains(":express:sm/Map:"), "{}", child.execution_arn);
    assert_eq!(child.status, ExecutionStatus::Failed);
}

/// A child that fails when its item says so.
fn failing_child() -> Value {
    json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Boom"}],
        "Default": "Ok",
    })
}

fn failing_definition(tolerated_percentage: f64) -> Value {
    let mut d = distributed(
        json!({
            "ItemsPath": "$.items",
            "MaxConcurrency": 50,
            "ToleratedFailurePercentage": tolerated_percentage,
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs"}}
        }),
        failing_child(),
    );
    let states = &mut d["States"]["Map"]["ItemProcessor"]["States"];
    states["Boom"] = json!({"Type": "Fail", "Error": "Item.Bad", "Cause": "bad item"});
    states["Ok"] = json!({"Type": "Pass", "End": true});
    d
}

/// Every record in the result files named by the manifest, by file kind.
fn result_records(s3: &MemoryS3, manifest_key: &str) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let manifest: Value = serde_json::from_slice(&s3.get("out", manifest_key).expect("manifest")).expect("json");
    let read = |kind: &str| -> Vec<Value> {
        let mut out = Vec::new();
        for f in manifest["ResultFiles"][kind].as_array().expect("list") {
            let key = f["Key"].as_str().expect("key");
            let body = s3.get("out", key).expect("file");
            assert_eq!(f["Size"], json!(body.len()), "size of {key}");
            let records: Vec<Value> = serde_json::from_slice(&body).expect("array");
            out.extend(records);
        }
        out
    };
    (read("SUCCEEDED"), read("FAILED"), read("PENDING"))
}

fn items_one_percent_failing() -> Value {
    let items: Vec<Value> = (0..1000).map(|i| json!({"i": i, "fail": i % 100 == 7})).collect();
    json!({"items": items})
}

#[tokio::test]
async fn one_percent_failing_within_five_percent_succeeds_and_results_account_for_every_item() {
    let s3 = MemoryS3::new();
    let engine = Engine::builder().time_scale(0.0).s3(Arc::new(s3.clone())).build();
    let (execution, outcome) = run(&engine, failing_definition(5.0), items_one_percent_failing()).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let output = outcome.output.expect("output");
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(output["MapRunArn"], json!(run.map_run_arn));
    assert_eq!(output["ResultWriterDetails"]["Bucket"], "out");
    let key = output["ResultWriterDetails"]["Key"].as_str().expect("key").to_owned();
    let run_id = run.map_run_arn.rsplit(':').next().expect("id");
    assert_eq!(key, format!("runs/{run_id}/manifest.json"));
    let (succeeded, failed, pending) = result_records(&s3, &key);
    assert_eq!((succeeded.len(), failed.len(), pending.len()), (990, 10, 0));
    let mut seen: Vec<i64> = succeeded
        .iter()
        .chain(&failed)
        .map(|r| {
            serde_json::from_str::<Value>(r["Input"].as_str().expect("input")).expect("json")["i"].as_i64().expect("i")
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<i64>>());
    assert!(failed.iter().all(|r| r["Status"] == "FAILED" && r["Error"] == "Item.Bad" && r["Cause"] == "bad item"));
    assert!(succeeded.iter().all(|r| r["Status"] == "SUCCEEDED" && r["Output"].is_string()));
    assert_eq!(run.item_counts.failed, 10);
    assert_eq!(run.item_counts.succeeded, 990);
}

#[tokio::test]
async fn one_percent_failing_past_half_a_percent_fails_and_results_still_account_for_every_item() {
    let s3 = MemoryS3::new();
    let engine = Engine::builder().time_scale(0.0).s3(Arc::new(s3.clone())).build();
    let (execution, outcome) = run(&engine, failing_definition(0.5), items_one_percent_failing()).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    assert_eq!(outcome.cause.as_deref(), Some("The specified tolerated failure threshold was exceeded"));
    let types = event_types(&execution);
    assert!(types.contains(&"MapRunFailed"), "{types:?}");
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(run.status, MapRunStatus::Failed);
    let run_id = run.map_run_arn.rsplit(':').next().expect("id");
    let (succeeded, failed, pending) = result_records(&s3, &format!("runs/{run_id}/manifest.json"));
    assert_eq!(succeeded.len() + failed.len() + pending.len(), 1000);
    assert!(!pending.is_empty(), "the run stops early");
    let c = run.item_counts;
    assert_eq!(c.succeeded + c.failed + c.aborted + c.pending, 1000, "{c:?}");
}

/// A source of `n` numbers that counts how many were pulled.
struct Counting {
    next: u64,
    n: u64,
    pulled: Arc<AtomicU64>,
}

impl ItemSource for Counting {
    fn next_item(&mut self) -> BoxFuture<'_, Result<Option<Value>, ItemReaderError>> {
        let item = (self.next < self.n).then(|| {
            self.next += 1;
            self.pulled.fetch_add(1, Ordering::SeqCst);
            json!(self.next)
        });
        Box::pin(async move { Ok(item) })
    }
}

struct CountingS3 {
    n: u64,
    pulled: Arc<AtomicU64>,
}

impl S3Connector for CountingS3 {
    fn open_items(&self, _: ReaderRequest) -> BoxFuture<'static, Result<Box<dyn ItemSource>, ItemReaderError>> {
        let source = Counting { next: 0, n: self.n, pulled: self.pulled.clone() };
        Box::pin(async move { Ok(Box::new(source) as Box<dyn ItemSource>) })
    }

    fn create_object(&self, _: &str, _: &str) -> BoxFuture<'static, Result<Box<dyn ResultObject>, ResultWriterError>> {
        Box::pin(async { Err(ResultWriterError::new("read-only")) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_bounds_children_and_the_reader_never_runs_ahead() {
    let pulled = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let ahead = Arc::new(AtomicU64::new(0));
    let handlers = {
        let (pulled, running, done, peak, ahead) =
            (pulled.clone(), running.clone(), done.clone(), peak.clone(), ahead.clone());
        LocalHandlers::new().resource("work", move |req| {
            let (pulled, running, done, peak, ahead) =
                (pulled.clone(), running.clone(), done.clone(), peak.clone(), ahead.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let read_not_done = pulled.load(Ordering::SeqCst) - done.load(Ordering::SeqCst);
                ahead.fetch_max(read_not_done, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                Ok(req.input)
            }
        })
    };
    let s3 = CountingS3 { n: 300, pulled: pulled.clone() };
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).s3(Arc::new(s3)).build();
    let definition = distributed(
        json!({"MaxConcurrency": 7, "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}}),
        json!({"Type": "Task", "Resource": "work", "End": true}),
    );
    let (_, outcome) = run(&engine, definition, json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output.as_ref().and_then(Value::as_array).map(Vec::len), Some(300));
    assert_eq!(pulled.load(Ordering::SeqCst), 300);
    assert!(peak.load(Ordering::SeqCst) <= 7, "peak {}", peak.load(Ordering::SeqCst));
    assert!(peak.load(Ordering::SeqCst) >= 2, "children ran concurrently");
    // Items read but not finished: the running children (≤ 7), never a read-ahead backlog.
    assert!(ahead.load(Ordering::SeqCst) <= 7, "read ahead {}", ahead.load(Ordering::SeqCst));
}

#[tokio::test]
async fn without_a_connector_the_item_reader_fails() {
    let engine = Engine::builder().time_scale(0.0).build();
    let definition = distributed(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": "b", "Key": "k"}}}),
        json!({"Type": "Pass", "End": true}),
    );
    let (execution, outcome) = run(&engine, definition, json!({})).await;
    assert_eq!(outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    assert_eq!(
        event_types(&execution)[2..6],
        ["MapStateStarted", "MapRunStarted", "MapRunFailed", "MapStateFailed"].map(String::from)
    );
}

#[tokio::test]
async fn stopping_the_parent_aborts_the_map_run() {
    let handlers = LocalHandlers::new().resource("slow", |_req| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(json!(null))
    });
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition = distributed(json!({}), json!({"Type": "Task", "Resource": "slow", "End": true}));
    let execution = engine
        .start(StartRequest::new(machine(definition), "sm", json!([1, 2, 3])))
        .await
        .expect("the execution starts");
    while engine
        .list_map_runs(execution.arn())
        .await
        .expect("the map-run store answers")
        .first()
        .map(|r| r.execution_counts.running)
        != Some(3)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    execution.stop(None, None);
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Aborted);
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(run.status, MapRunStatus::Aborted);
    let types = event_types(&execution);
    assert_eq!(types[types.len() - 2..], ["MapRunAborted", "ExecutionAborted"].map(String::from));
    // The children were stopped too.
    for _ in 0..200 {
        let children = engine.list_map_run_executions(&run.map_run_arn).await.expect("the map-run store answers");
        if children.iter().all(|c| c.status == ExecutionStatus::Aborted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "children still running: {:?}",
        engine.list_map_run_executions(&run.map_run_arn).await.expect("the map-run store answers")
    );
}

/// A handler that counts running children and holds each one until `gate` lets it go; items with
/// `"fail": true` fail at once.
fn gated_handlers(gate: Arc<tokio::sync::Semaphore>, running: Arc<AtomicU64>) -> LocalHandlers {
    LocalHandlers::new().resource("gated", move |req| {
        let (gate, running) = (gate.clone(), running.clone());
        async move {
            if req.input.get("fail") == Some(&json!(true)) {
                return Err(legion_engine::TaskError::new("Boom", "failed on purpose"));
            }
            running.fetch_add(1, Ordering::SeqCst);
            // Each permit lets one child through, once.
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(req.input)
        }
    })
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_map_run_raises_the_concurrency_of_a_running_map_run() {
    use legion_engine::map_run::{MapRunLimitsUpdate, UpdateMapRunError};
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let running = Arc::new(AtomicU64::new(0));
    let handlers = gated_handlers(gate.clone(), running.clone());
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition =
        distributed(json!({"MaxConcurrency": 2}), json!({"Type": "Task", "Resource": "gated", "End": true}));
    let items: Vec<Value> = (0..10).map(|i| json!({"n": i})).collect();
    let execution =
        engine.start(StartRequest::new(machine(definition), "sm", json!(items))).await.expect("the execution starts");
    wait_until("two children", || running.load(Ordering::SeqCst) == 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(running.load(Ordering::SeqCst), 2, "the state's MaxConcurrency holds");
    let run_arn =
        engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0].map_run_arn.clone();
    let update = MapRunLimitsUpdate { max_concurrency: Some(5), ..MapRunLimitsUpdate::default() };
    let updated = engine.update_map_run(&run_arn, update).await.expect("running map run");
    assert_eq!(updated.max_concurrency, 5);
    wait_until("five children", || running.load(Ordering::SeqCst) == 5).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(running.load(Ordering::SeqCst), 5, "the new limit holds");
    // Lowered to 1: the five running finish, then one at a time.
    let update = MapRunLimitsUpdate { max_concurrency: Some(1), ..MapRunLimitsUpdate::default() };
    engine.update_map_run(&run_arn, update).await.expect("running map run");
    gate.add_permits(5);
    wait_until("one child", || {
        described(&engine, &run_arn).map(|r| r.item_counts.succeeded) == Some(5) && running.load(Ordering::SeqCst) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(running.load(Ordering::SeqCst), 1);
    gate.add_permits(100);
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let run = engine.describe_map_run(&run_arn).await.expect("the map-run store answers").expect("recorded");
    assert_eq!((run.max_concurrency, run.item_counts.succeeded), (1, 10));
    let late = MapRunLimitsUpdate { max_concurrency: Some(3), ..MapRunLimitsUpdate::default() };
    assert_eq!(engine.update_map_run(&run_arn, late).await, Err(UpdateMapRunError::Completed(run_arn.clone())));
    assert!(matches!(engine.update_map_run("arn:nope", late).await, Err(UpdateMapRunError::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_map_run_re_evaluates_the_failure_threshold() {
    use legion_engine::map_run::MapRunLimitsUpdate;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let running = Arc::new(AtomicU64::new(0));
    let handlers = gated_handlers(gate.clone(), running.clone());
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let definition =
        distributed(json!({"ToleratedFailureCount": 5}), json!({"Type": "Task", "Resource": "gated", "End": true}));
    let mut items: Vec<Value> = (0..3).map(|_| json!({"fail": true})).collect();
    items.extend((0..4).map(|i| json!({"n": i})));
    let execution =
        engine.start(StartRequest::new(machine(definition), "sm", json!(items))).await.expect("the execution starts");
    let run_arn = loop {
        if let Some(r) = engine.list_map_runs(execution.arn()).await.expect("the map-run store answers").first() {
            break r.map_run_arn.clone();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    wait_until("three failures and four running", || {
        described(&engine, &run_arn).map(|r| r.item_counts.failed) == Some(3) && running.load(Ordering::SeqCst) == 4
    })
    .await;
    assert_eq!(execution.try_outcome(), None, "three failures are tolerated");
    let update = MapRunLimitsUpdate { tolerated_failure_count: Some(1), ..MapRunLimitsUpdate::default() };
    let updated = engine.update_map_run(&run_arn, update).await.expect("running map run");
    assert_eq!(updated.tolerated_failure_count, 1);
    let outcome = tokio::time::timeout(Duration::from_secs(5), execution.outcome()).await.expect("the run ends");
    assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"), "{outcome:?}");
    assert_eq!(
        engine.describe_map_run(&run_arn).await.expect("the map-run store answers").map(|r| r.status),
        Some(MapRunStatus::Failed)
    );
}

/// DescribeMapRun from a synchronous check: the in-memory map-run store answers at once.
fn described(engine: &Engine, run_arn: &str) -> Option<legion_engine::map_run::MapRunInfo> {
    use futures::FutureExt;
    engine.describe_map_run(run_arn).now_or_never().and_then(Result::ok).flatten()
}
