//! The API through a real AWS SDK client (`aws-sdk-sfn`) against `legion serve` on a real socket.

mod common;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus, HistoryEventType, InspectionLevel, SyncExecutionStatus};
use common::{client, create_machine, start, wait_until_done};
use legion_engine::LocalHandlers;
use serde_json::{json, Value};

const PASS: &str = r#"{"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.name)"}, "End": true}}}"#;

/// The one map run of `execution_arn` and its child executions.
async fn map_run_children(sfn: &aws_sdk_sfn::Client, execution_arn: &str) -> (String, Vec<ExecutionListItem>) {
    let runs = sfn.list_map_runs().execution_arn(execution_arn).send().await.expect("lists map runs");
    assert_eq!(runs.map_runs.len(), 1);
    let run_arn = runs.map_runs[0].map_run_arn.clone();
    let children = sfn.list_executions().map_run_arn(&run_arn).send().await.expect("lists the children");
    (run_arn, children.executions)
}

fn code<E: ProvideErrorMetadata>(e: &aws_sdk_sfn::error::SdkError<E>) -> String {
    e.as_service_error().and_then(|s| s.code()).unwrap_or("not a service error").to_owned()
}

#[tokio::test]
async fn create_start_describe_history_list() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let machine = create_machine(&sfn, "greeter", PASS, false).await;
    assert_eq!(machine, "arn:aws:states:us-east-1:123456789012:stateMachine:greeter");

    let described = sfn.describe_state_machine().state_machine_arn(&machine).send().await.expect("describes");
    assert_eq!(described.name, "greeter");
    assert_eq!(described.definition, PASS);

    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("first")
        .input(r#"{"name": "Ada"}"#)
        .send()
        .await
        .expect("starts");
    assert_eq!(started.execution_arn, "arn:aws:states:us-east-1:123456789012:execution:greeter:first");

    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output.as_deref().expect("an output")).expect("JSON output");
    assert_eq!(output, json!({"greeting": "hello Ada"}));
    assert_eq!(done.state_machine_arn, machine);
    assert!(done.stop_date.is_some());

    let history = sfn.get_execution_history().execution_arn(&started.execution_arn).send().await.expect("history");
    let types: Vec<HistoryEventType> = history.events.iter().map(|e| e.r#type.clone()).collect();
    assert_eq!(
        types,
        [
            HistoryEventType::ExecutionStarted,
            HistoryEventType::PassStateEntered,
            HistoryEventType::PassStateExited,
            HistoryEventType::ExecutionSucceeded
        ]
    );
    let reversed = sfn
        .get_execution_history()
        .execution_arn(&started.execution_arn)
        .reverse_order(true)
        .max_results(1)
        .send()
        .await
        .expect("a page of history");
    assert_eq!(reversed.events.len(), 1);
    assert_eq!(reversed.events[0].r#type, HistoryEventType::ExecutionSucceeded);
    assert!(reversed.next_token.is_some());

    let listed = sfn.list_executions().state_machine_arn(&machine).send().await.expect("lists");
    assert_eq!(listed.executions.len(), 1);
    assert_eq!(listed.executions[0].name, "first");
    assert_eq!(listed.executions[0].status, ExecutionStatus::Succeeded);
    let machines = sfn.list_state_machines().send().await.expect("lists machines");
    assert_eq!(machines.state_machines.len(), 1);

    let snapshot = sfn
        .describe_state_machine_for_execution()
        .execution_arn(&started.execution_arn)
        .send()
        .await
        .expect("the definition that ran");
    assert_eq!(snapshot.definition, PASS);
}

#[tokio::test]
async fn sync_express_execution_returns_its_result() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let machine = create_machine(&sfn, "fast", PASS, true).await;
    let result = sfn
        .start_sync_execution()
        .state_machine_arn(&machine)
        .input(r#"{"name": "Grace"}"#)
        .send()
        .await
        .expect("runs to its end");
    assert_eq!(result.status, SyncExecutionStatus::Succeeded);
    assert!(result.execution_arn.contains(":express:fast:"));
    let output: Value = serde_json::from_str(result.output.as_deref().expect("an output")).expect("JSON");
    assert_eq!(output, json!({"greeting": "hello Grace"}));

    let failing = create_machine(
        &sfn,
        "failing",
        r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "because"}}}"#,
        true,
    )
    .await;
    let failed =
        sfn.start_sync_execution().state_machine_arn(&failing).send().await.expect("HTTP 200 even when it fails");
    assert_eq!(failed.status, SyncExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("Nope"));
    assert_eq!(failed.cause.as_deref(), Some("because"));

    // Standard machines have no synchronous executions; Express ones are not described.
    let standard = create_machine(&sfn, "standard", PASS, false).await;
    let err = sfn.start_sync_execution().state_machine_arn(&standard).send().await.unwrap_err();
    assert_eq!(code(&err), "StateMachineTypeNotSupported");
    let err = sfn.describe_execution().execution_arn(&result.execution_arn).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidArn");
}

#[tokio::test]
async fn distributed_map_runs_are_listed_and_described() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "Label": "each",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}}},
            "End": true}}
    })
    .to_string();
    let machine = create_machine(&sfn, "mapper", &definition, false).await;
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .input(r#"{"items": [1, 2, 3]}"#)
        .send()
        .await
        .expect("starts");
    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output.as_deref().expect("an output")).expect("JSON");
    assert_eq!(output, json!([{"v": 2}, {"v": 4}, {"v": 6}]));

    let (run_arn, children) = map_run_children(&sfn, &started.execution_arn).await;
    let run_arn = &run_arn;
    assert!(run_arn.contains(":mapRun:mapper/each:"), "{run_arn}");
    let run = sfn.describe_map_run().map_run_arn(run_arn).send().await.expect("describes the map run");
    assert_eq!(run.status, aws_sdk_sfn::types::MapRunStatus::Succeeded);
    assert_eq!(run.item_counts.expect("item counts").succeeded, 3);
    assert_eq!(children.len(), 3);
    for child in &children {
        assert_eq!(child.status, ExecutionStatus::Succeeded);
        assert_eq!(child.map_run_arn.as_deref(), Some(run_arn.as_str()));
        let d = sfn.describe_execution().execution_arn(&child.execution_arn).send().await.expect("describes a child");
        assert_eq!(d.map_run_arn.as_deref(), Some(run_arn.as_str()));
        // Its input and output are read back from its history.
        let input: Value = serde_json::from_str(d.input.as_deref().unwrap_or_default()).expect("an input");
        let output: Value = serde_json::from_str(d.output.as_deref().unwrap_or_default()).expect("an output");
        assert_eq!(output, json!({"v": input.as_i64().expect("an item") * 2}));
    }
    let err = sfn.describe_map_run().map_run_arn(format!("{run_arn}x")).send().await.unwrap_err();
    assert_eq!(code(&err), "ResourceNotFound");
}

#[tokio::test]
async fn a_failed_child_is_described_with_its_error_and_cause() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "ToleratedFailurePercentage": 100,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Bad", "Cause": "not this one"}}},
            "End": true}}
    })
    .to_string();
    let machine = create_machine(&sfn, "failing-mapper", &definition, false).await;
    let started = sfn.start_execution().state_machine_arn(&machine).input(r#"{"items": [1]}"#).send().await;
    let done = wait_until_done(&sfn, &started.expect("starts").execution_arn, 500).await;
    let (_, children) = map_run_children(&sfn, &done.execution_arn).await;
    let child = &children[0];
    let d = sfn.describe_execution().execution_arn(&child.execution_arn).send().await.expect("describes a child");
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!((d.error.as_deref(), d.cause.as_deref()), (Some("Bad"), Some("not this one")));
    assert_eq!(d.input.as_deref(), Some("1"));
    assert_eq!(d.output, None);
}

#[tokio::test]
async fn express_children_are_described_but_record_no_history() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Same", "States": {"Same": {"Type": "Pass", "End": true}}},
            "End": true}}
    })
    .to_string();
    let machine = create_machine(&sfn, "express-mapper", &definition, false).await;
    let started = sfn.start_execution().state_machine_arn(&machine).input(r#"{"items": [1, 2]}"#).send().await;
    let started = started.expect("starts");
    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let (run_arn, children) = map_run_children(&sfn, &started.execution_arn).await;
    let run_arn = &run_arn;
    assert_eq!(children.len(), 2);
    for child in &children {
        assert!(child.execution_arn.contains(":express:express-mapper/"), "{}", child.execution_arn);
        let d = sfn.describe_execution().execution_arn(&child.execution_arn).send().await.expect("describes a child");
        assert_eq!((d.status, d.map_run_arn.as_deref()), (ExecutionStatus::Succeeded, Some(run_arn.as_str())));
        let err = sfn.get_execution_history().execution_arn(&child.execution_arn).send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidArn");
    }
    // The Standard parent's history is there.
    let history = sfn.get_execution_history().execution_arn(&started.execution_arn).send().await.expect("history");
    assert_eq!(history.events.last().map(|e| e.r#type.clone()), Some(HistoryEventType::ExecutionSucceeded));
}

#[tokio::test]
async fn a_task_token_completes_its_task() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let handlers = LocalHandlers::new().resource("arn:aws:states:::sqs:sendMessage.waitForTaskToken", move |req| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(req.task_token.unwrap_or_default());
            Ok(json!({"MessageId": "m-1"}))
        }
    });
    let server = start(handlers).await;
    let sfn = client(&server);
    let definition = json!({
        "StartAt": "Wait for approval",
        "States": {"Wait for approval": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": true}}
    })
    .to_string();
    let machine = create_machine(&sfn, "approval", &definition, false).await;
    let started = sfn.start_execution().state_machine_arn(&machine).send().await.expect("starts");
    let token = rx.recv().await.expect("the task token reaches the target");
    let running = sfn.describe_execution().execution_arn(&started.execution_arn).send().await.expect("describes");
    assert_eq!(running.status, ExecutionStatus::Running);

    let err = sfn.send_task_success().task_token("not-a-token").output("{}").send().await.unwrap_err();
    assert_eq!(code(&err), "TaskDoesNotExist");
    let err = sfn.send_task_success().task_token(&token).output("not json").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidOutput");
    sfn.send_task_heartbeat().task_token(&token).send().await.expect("a heartbeat");
    sfn.send_task_success().task_token(&token).output(r#"{"approved": true}"#).send().await.expect("completes");

    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output.as_deref().expect("an output")).expect("JSON");
    assert_eq!(output, json!({"approved": true}));
    let err = sfn.send_task_failure().task_token(&token).send().await.unwrap_err();
    assert_eq!(code(&err), "TaskDoesNotExist", "a closed task's token is dead");
}

#[tokio::test]
async fn errors_carry_aws_exception_names() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let machine = create_machine(&sfn, "m", PASS, false).await;

    let err = sfn
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:123456789012:execution:m:nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_execution_does_not_exist()), "{err:?}");

    let err = sfn
        .start_execution()
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:absent")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_state_machine_does_not_exist()), "{err:?}");

    let err = sfn.describe_state_machine().state_machine_arn("not-an-arn").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_arn()), "{err:?}");

    let err = sfn
        .create_state_machine()
        .name("broken")
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Nxet": "B"}}}"#)
        .role_arn(common::ROLE)
        .send()
        .await
        .unwrap_err();
    let service = err.as_service_error().expect("a service error");
    assert!(service.is_invalid_definition(), "{err:?}");
    assert!(service.message().is_some_and(|m| m.contains("SCHEMA_VALIDATION_FAILED")), "{err:?}");

    let err =
        sfn.create_state_machine().name("bad name").definition(PASS).role_arn(common::ROLE).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_name()), "{err:?}");

    let once = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .input(r#"{"name": "x"}"#)
        .send()
        .await
        .expect("first start");
    let done = wait_until_done(&sfn, &once.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let err =
        sfn.start_execution().state_machine_arn(&machine).name("once").input(r#"{"x": 1}"#).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_execution_already_exists()), "{err:?}");

    let err = sfn.start_execution().state_machine_arn(&machine).input("{not json").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_execution_input()), "{err:?}");

    let err = sfn.list_executions().state_machine_arn(&machine).next_token("forged").send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_invalid_token()), "{err:?}");
}

#[tokio::test]
async fn test_state_goes_through_the_sdk() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let result = sfn
        .test_state()
        .definition(r#"{"Type": "Pass", "InputPath": "$.a", "Next": "After"}"#)
        .input(r#"{"a": {"b": 1}}"#)
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .expect("TestState answers");
    assert_eq!(result.status, Some(aws_sdk_sfn::types::TestExecutionStatus::Succeeded));
    assert_eq!(result.next_state.as_deref(), Some("After"));
    let data = result.inspection_data.expect("DEBUG shows the data flow");
    assert_eq!(data.after_input_path.as_deref(), Some(r#"{"b":1}"#));

    let err = sfn
        .test_state()
        .definition(r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_on_a_mocked_map_reports_its_iterations_through_the_sdk() {
    use aws_sdk_sfn::types::{MockInput, TestStateConfiguration};
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let definition = r#"{"Type": "Map", "End": true,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k.json"},
                       "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/data/rows"}},
        "ItemSelector": {"id.$": "$$.Map.Item.Value.id", "at.$": "$$.Map.Item.Index"},
        "ItemBatcher": {"MaxItemsPerBatch": 2},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}"#;
    let result = sfn
        .test_state()
        .definition(definition)
        .inspection_level(InspectionLevel::Debug)
        .mock(MockInput::builder().result(r#"["a", "b"]"#).build())
        .state_configuration(
            TestStateConfiguration::builder()
                .map_item_reader_data(r#"{"data": {"rows": [{"id": 1}, {"id": 2}, {"id": 3}]}}"#)
                .build(),
        )
        .send()
        .await
        .expect("TestState answers");
    assert_eq!(result.status, Some(aws_sdk_sfn::types::TestExecutionStatus::Succeeded));
    assert_eq!(result.output.as_deref(), Some(r#"["a","b"]"#));
    let data = result.inspection_data.expect("DEBUG shows the iterations");
    let parsed = |s: Option<&str>| serde_json::from_str::<serde_json::Value>(s.expect("present")).expect("JSON");
    assert_eq!(parsed(data.after_items_pointer()), serde_json::json!([{"id": 1}, {"id": 2}, {"id": 3}]));
    let selected = serde_json::json!([{"id": 1, "at": 0}, {"id": 2, "at": 1}, {"id": 3, "at": 2}]);
    assert_eq!(parsed(data.after_item_selector()), selected);
    assert_eq!(
        parsed(data.after_item_batcher()),
        serde_json::json!([{"Items": [selected[0], selected[1]]}, {"Items": [selected[2]]}])
    );
    assert_eq!(data.max_concurrency(), Some(0));

    // The API reference's rule: a context object only with a mock.
    let err = sfn
        .test_state()
        .definition(r#"{"Type": "Pass", "End": true}"#)
        .context(r#"{"Execution": {"Name": "n"}}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}
