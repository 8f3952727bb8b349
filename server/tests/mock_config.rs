//! Step Functions Local mock configurations through the API: StartExecution with
//! `stateMachineArn#TestCase` answers the mocked states from that test case.

mod common;

use std::sync::Arc;

use aws_sdk_sfn::types::ExecutionStatus;
use common::{client, create_machine, wait_until_done, ACCOUNT};
use legion_connectors::mock::{MockConfig, Mocks};
use legion_engine::{Engine, TaskTokens};
use legion_server::AppState;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[tokio::test]
async fn test_cases_pick_the_mocked_answers() {
    let config = MockConfig::from_value(&json!({
        "StateMachines": {"orders": {"TestCases": {
            "Happy": {"Charge": "Charged"},
            "Declined": {"Charge": "Declined"}
        }}},
        "MockedResponses": {
            "Charged": {"0": {"Return": {"receipt": "r-1"}}},
            "Declined": {"0": {"Throw": {"Error": "Card.Declined", "Cause": "insufficient funds"}}}
        }
    }))
    .expect("a valid mock configuration");
    let tokens = TaskTokens::new();
    let router = legion_connectors::Router::builder(legion_connectors::Config::default(), tokens.clone())
        .mocks(Mocks::new(config))
        .build()
        .await
        .expect("a router");
    let mocks = router.mocks().cloned();
    let engine = Engine::builder()
        .account(ACCOUNT, "us-east-1")
        .time_scale(0.0)
        .task_tokens(tokens)
        .dispatcher(Arc::new(router))
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(legion_server::serve::serve(
        listener,
        AppState::with_mocks(engine, mocks),
        legion_server::DEFAULT_BODY_LIMIT,
        async move {
            let _ = stopped.await;
        },
    ));
    let server = common::Server::at(addr, stop);
    let sfn = client(&server);
    let definition = json!({"StartAt": "Charge", "States": {"Charge": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge", "End": true}}})
    .to_string();
    let machine = create_machine(&sfn, "orders", &definition, false).await;

    let happy = sfn.start_execution().state_machine_arn(format!("{machine}#Happy")).send().await.expect("starts");
    assert!(happy.execution_arn.starts_with(&machine.replace(":stateMachine:", ":execution:")));
    let done = wait_until_done(&sfn, &happy.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output.as_deref().expect("an output")).expect("JSON");
    assert_eq!(output, json!({"receipt": "r-1"}));

    let declined = sfn.start_execution().state_machine_arn(format!("{machine}#Declined")).send().await.expect("starts");
    let done = wait_until_done(&sfn, &declined.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Card.Declined"));
    assert_eq!(done.cause.as_deref(), Some("insufficient funds"));
}
