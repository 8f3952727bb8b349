//! UpdateMapRun on a running map run and RedriveExecution, through a real AWS SDK client
//! (`aws-sdk-sfn`) against `legion serve` on a real socket.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, MapRunStatus};
use common::{client, create_machine, start, wait_until_done};
use legion_engine::LocalHandlers;
use serde_json::json;

fn code<E: ProvideErrorMetadata>(e: &aws_sdk_sfn::error::SdkError<E>) -> String {
    e.as_service_error().and_then(|s| s.code()).unwrap_or("not a service error").to_owned()
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
async fn update_map_run_changes_a_running_map_run() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let running = Arc::new(AtomicU64::new(0));
    let handlers = {
        let (gate, running) = (gate.clone(), running.clone());
        LocalHandlers::new().resource("gated", move |req| {
            let (gate, running) = (gate.clone(), running.clone());
            async move {
                running.fetch_add(1, Ordering::SeqCst);
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(req.input)
            }
        })
    };
    let server = start(handlers).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "MaxConcurrency": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "gated", "End": true}}},
            "End": true}}
    })
    .to_string();
    let machine = create_machine(&sfn, "gated-map", &definition, false).await;
    let started =
        sfn.start_execution().state_machine_arn(&machine).input("[1, 2, 3, 4, 5]").send().await.expect("starts");
    wait_until("one child", || running.load(Ordering::SeqCst) == 1).await;
    let runs = sfn.list_map_runs().execution_arn(&started.execution_arn).send().await.expect("lists map runs");
    let run_arn = runs.map_runs[0].map_run_arn.clone();

    sfn.update_map_run()
        .map_run_arn(&run_arn)
        .max_concurrency(4)
        .tolerated_failure_count(2)
        .send()
        .await
        .expect("a running map run can be updated");
    wait_until("four children", || running.load(Ordering::SeqCst) == 4).await;
    let run = sfn.describe_map_run().map_run_arn(&run_arn).send().await.expect("describes");
    assert_eq!(run.status, MapRunStatus::Running);
    assert_eq!(run.max_concurrency, 4);
    assert_eq!(run.tolerated_failure_count, 2);
    assert_eq!(run.item_counts.expect("item counts").running, 4);

    gate.add_permits(10);
    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");

    let err = sfn.update_map_run().map_run_arn(&run_arn).max_concurrency(2).send().await.unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let service = err.into_service_error();
    match service {
        aws_sdk_sfn::operation::update_map_run::UpdateMapRunError::ValidationException(v) => {
            assert_eq!(v.reason.map(|r| r.as_str().to_owned()).as_deref(), Some("CANNOT_UPDATE_COMPLETED_MAP_RUN"));
        }
        other => panic!("not a ValidationException: {other:?}"),
    }
    let err = sfn.update_map_run().map_run_arn(format!("{run_arn}x")).max_concurrency(2).send().await.unwrap_err();
    assert_eq!(code(&err), "ResourceNotFound");
}

#[tokio::test]
async fn redrive_execution_resumes_a_failed_execution() {
    let calls = Arc::new(AtomicU64::new(0));
    let handlers = {
        let calls = calls.clone();
        LocalHandlers::new().resource("flaky", move |req| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(legion_engine::TaskError::new("Boom", "the first call fails"))
                } else {
                    Ok(req.input)
                }
            }
        })
    };
    let server = start(handlers).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Prep",
        "States": {
            "Prep": {"Type": "Pass", "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "flaky", "Parameters": {"n.$": "$.n", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}
        }
    })
    .to_string();
    let machine = create_machine(&sfn, "flaky", &definition, false).await;
    let started = sfn.start_execution().state_machine_arn(&machine).input(r#"{"n": 5}"#).send().await.expect("starts");
    let arn = started.execution_arn;
    let failed = wait_until_done(&sfn, &arn, 500).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.redrive_status, Some(aws_sdk_sfn::types::ExecutionRedriveStatus::Redrivable));
    assert_eq!((failed.redrive_count, failed.redrive_date), (Some(0), None));

    let redriven = sfn.redrive_execution().execution_arn(&arn).send().await.expect("a failed execution is redrivable");
    let done = wait_until_done(&sfn, &arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.redrive_count, Some(1));
    assert_eq!(done.redrive_date, Some(redriven.redrive_date));
    assert_eq!(done.redrive_status, Some(aws_sdk_sfn::types::ExecutionRedriveStatus::NotRedrivable));
    assert_eq!(done.redrive_status_reason.as_deref(), Some("Execution is SUCCEEDED and cannot be redriven"));
    let output: serde_json::Value = serde_json::from_str(done.output.as_deref().expect("an output")).expect("JSON");
    assert_eq!(output, json!({"n": 5, "redrives": 1}));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let history = sfn.get_execution_history().execution_arn(&arn).send().await.expect("history");
    let event = history
        .events
        .iter()
        .find(|e| e.r#type == aws_sdk_sfn::types::HistoryEventType::ExecutionRedriven)
        .expect("an ExecutionRedriven event");
    assert_eq!(event.execution_redriven_event_details.as_ref().and_then(|d| d.redrive_count), Some(1));
    let entered_prep =
        history.events.iter().filter(|e| e.r#type == aws_sdk_sfn::types::HistoryEventType::PassStateEntered).count();
    assert_eq!(entered_prep, 1, "the states before the failure do not run again");

    let redriven_list = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .redrive_filter(aws_sdk_sfn::types::ExecutionRedriveFilter::Redriven)
        .send()
        .await
        .expect("lists");
    assert_eq!(redriven_list.executions.len(), 1);
    assert_eq!(redriven_list.executions[0].redrive_count, Some(1));
    let not_redriven = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .redrive_filter(aws_sdk_sfn::types::ExecutionRedriveFilter::NotRedriven)
        .send()
        .await
        .expect("lists");
    assert!(not_redriven.executions.is_empty());

    let err = sfn.redrive_execution().execution_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(&err), "ExecutionNotRedrivable");
    assert_eq!(err.as_service_error().and_then(|e| e.message()), Some("Execution is SUCCEEDED and cannot be redriven"));
    let err = sfn.redrive_execution().execution_arn(format!("{arn}-nope")).send().await.unwrap_err();
    assert_eq!(code(&err), "ExecutionDoesNotExist");
}

#[tokio::test]
async fn redriving_the_parent_redrives_its_map_run() {
    let calls = Arc::new(AtomicU64::new(0));
    let handlers = {
        let calls = calls.clone();
        LocalHandlers::new().resource("flaky", move |req| {
            let calls = calls.clone();
            async move {
                // Item 2 fails the first time it runs.
                if req.input == json!(2) && calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(legion_engine::TaskError::new("Boom", "item 2 fails once"));
                }
                Ok(req.input)
            }
        })
    };
    let server = start(handlers).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "flaky", "End": true}}},
            "End": true}}
    })
    .to_string();
    let machine = create_machine(&sfn, "redriven-map", &definition, false).await;
    let started = sfn.start_execution().state_machine_arn(&machine).input("[1, 2, 3]").send().await.expect("starts");
    let arn = started.execution_arn;
    assert_eq!(wait_until_done(&sfn, &arn, 500).await.status, ExecutionStatus::Failed);
    let run_arn = sfn.list_map_runs().execution_arn(&arn).send().await.expect("lists").map_runs[0].map_run_arn.clone();
    let failed = sfn
        .list_executions()
        .map_run_arn(&run_arn)
        .status_filter(ExecutionStatus::Failed)
        .send()
        .await
        .expect("lists the children");
    assert_eq!(failed.executions.len(), 1);
    let child = &failed.executions[0].execution_arn;
    let d = sfn.describe_execution().execution_arn(child).send().await.expect("describes the child");
    assert_eq!(d.redrive_status, Some(aws_sdk_sfn::types::ExecutionRedriveStatus::Redrivable));
    let err = sfn.redrive_execution().execution_arn(child).send().await.unwrap_err();
    assert_eq!(code(&err), "ExecutionNotRedrivable", "children are rerun through their parent");
    sfn.redrive_execution().execution_arn(&arn).send().await.expect("redrives");
    let done = wait_until_done(&sfn, &arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some("[1,2,3]"));

    let runs = sfn.list_map_runs().execution_arn(&arn).send().await.expect("lists map runs");
    assert_eq!(runs.map_runs.len(), 1);
    let run = sfn.describe_map_run().map_run_arn(&runs.map_runs[0].map_run_arn).send().await.expect("describes");
    assert_eq!(run.status, MapRunStatus::Succeeded);
    assert_eq!(run.redrive_count, Some(1));
    assert!(run.redrive_date.is_some());
    let history = sfn.get_execution_history().execution_arn(&arn).send().await.expect("history");
    let event = history
        .events
        .iter()
        .find(|e| e.r#type == aws_sdk_sfn::types::HistoryEventType::MapRunRedriven)
        .expect("a MapRunRedriven event");
    let details = event.map_run_redriven_event_details.as_ref().expect("details");
    assert_eq!(details.redrive_count, Some(1));
    assert_eq!(details.map_run_arn.as_deref(), Some(runs.map_runs[0].map_run_arn.as_str()));
}
