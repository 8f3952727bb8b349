//! Nested executions through `legion serve`: a parent created with CreateStateMachine starts a child
//! the registry knows (`states:startExecution.sync:2`), driven with the AWS SDK; and mocks answer the
//! new integrations (SQS, nested executions) like any other resource.

mod common;

use std::sync::Arc;

use aws_sdk_sfn::types::ExecutionStatus;
use common::{client, create_machine, wait_until_done, ACCOUNT};
use legion_connectors::mock::{MockConfig, Mocks};
use legion_engine::{Engine, TaskTokens};
use legion_server::AppState;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// `legion serve` as the binary wires it: the Router's Step Functions connector attached to the
/// engine and the server's registry.
async fn serve(mocks: Option<Mocks>) -> common::Server {
    let tokens = TaskTokens::new();
    let mut builder = legion_connectors::Router::builder(legion_connectors::Config::default(), tokens.clone());
    if let Some(m) = mocks {
        builder = builder.mocks(m);
    }
    let router = builder.build().await.expect("a router");
    let engine = Engine::builder()
        .account(ACCOUNT, "us-east-1")
        .time_scale(0.0)
        .task_tokens(tokens)
        .dispatcher(Arc::new(router.clone()))
        .build();
    let state = AppState::with_mocks(engine.clone(), router.mocks().cloned());
    router.step_functions().attach(engine, Arc::new(legion_server::catalog::RegistryCatalog::new(state.clone())));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(legion_server::serve::serve(listener, state, legion_server::DEFAULT_BODY_LIMIT, async move {
        let _ = stopped.await;
    }));
    common::Server::at(addr, stop)
}

#[tokio::test]
async fn a_parent_starts_a_child_of_the_registry_and_waits_for_it() {
    let server = serve(None).await;
    let sfn = client(&server);
    let child = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"sum.$": "States.MathAdd($.a, $.b)", "by.$": "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"}, "End": true}}});
    let child_arn = create_machine(&sfn, "adder", &child.to_string(), false).await;
    let parent = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child_arn, "Input": {"a": 2, "b": 3, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
        "OutputPath": "$.Output", "End": true}}});
    let parent_arn = create_machine(&sfn, "caller", &parent.to_string(), false).await;
    let started = sfn.start_execution().state_machine_arn(&parent_arn).name("p1").send().await.expect("starts");
    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output.as_deref().expect("output")).expect("JSON");
    assert_eq!(output, json!({"sum": 5, "by": started.execution_arn}));
    // The child is an execution of the registry's machine, listed by the API.
    let children = sfn.list_executions().state_machine_arn(&child_arn).send().await.expect("lists");
    assert_eq!(children.executions.len(), 1);
    assert_eq!(children.executions[0].status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn mocks_answer_sqs_and_nested_execution_tasks() {
    let config = MockConfig::from_value(&json!({
        "StateMachines": {"flow": {"TestCases": {"Happy": {"Send": "Sent", "Child": "ChildDone"}}}},
        "MockedResponses": {
            "Sent": {"0": {"Return": {"MessageId": "m-1"}}},
            "ChildDone": {"0": {"Return": {"Output": "{\"ok\":true}", "Status": "SUCCEEDED"}}}
        }
    }))
    .expect("a valid mock configuration");
    let server = serve(Some(Mocks::new(config))).await;
    let sfn = client(&server);
    let def = json!({"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "x"},
                 "ResultPath": "$.sent", "Next": "Child"},
        "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                  "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:absent"},
                  "ResultPath": "$.child", "End": true}}});
    let arn = create_machine(&sfn, "flow", &def.to_string(), false).await;
    let started = sfn.start_execution().state_machine_arn(format!("{arn}#Happy")).send().await.expect("starts");
    let done = wait_until_done(&sfn, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output.as_deref().expect("output")).expect("JSON");
    assert_eq!(output["sent"], json!({"MessageId": "m-1"}));
    assert_eq!(output["child"]["Status"], json!("SUCCEEDED"));
}
