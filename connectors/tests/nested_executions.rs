//! Nested executions through the real Router on one engine: `states:startExecution` in every mode,
//! `aws-sdk:sfn:*`, failures, timeouts and aborts of the child, and a parent stopped while its
//! `.sync` child runs.

use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::nested::{NestedMachine, StaticCatalog};
use legion_connectors::{Config, Router};
use legion_engine::{Engine, ExecutionStatus, Outcome, StartRequest, TaskTokens};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")
}

fn machine(definition: &Value) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"))
}

/// An engine whose Router knows the `children` machines.
async fn engine(children: &[(&str, Value)]) -> Engine {
    let tokens = TaskTokens::new();
    let router = Router::builder(Config::default(), tokens.clone()).region(REGION).build().await.expect("router");
    let engine = Engine::builder()
        .account(ACCOUNT, REGION)
        .time_scale(1.0)
        .task_tokens(tokens)
        .dispatcher(Arc::new(router.clone()))
        .build();
    let mut catalog = StaticCatalog::new();
    for (name, def) in children {
        let nested = NestedMachine {
            machine: machine(def),
            name: (*name).to_owned(),
            machine_type: legion_asl::model::StateMachineType::Standard,
            role_arn: None,
        };
        catalog.insert(arn(name), nested);
    }
    router.step_functions().attach(engine.clone(), Arc::new(catalog));
    engine
}

fn start_task(resource: &str, child: &str, input: Value) -> Value {
    json!({"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": resource,
        "Parameters": {"StateMachineArn": arn(child), "Input": input, "Name": "child-run"},
        "End": true}}})
}

async fn run(engine: &Engine, parent: Value) -> (legion_engine::Execution, Outcome) {
    let request = StartRequest::new(machine(&parent), "parent", json!({}));
    tokio::time::timeout(Duration::from_secs(20), engine.run(request))
        .await
        .expect("the parent ends")
        .expect("the parent starts")
}

fn doubler() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.n, $.n)"}, "End": true}}})
}

#[tokio::test]
async fn start_execution_returns_the_child_arn_at_once() {
    let e = engine(&[("doubler", doubler())]).await;
    let (_, outcome) = run(&e, start_task("arn:aws:states:::states:startExecution", "doubler", json!({"n": 1}))).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let out = outcome.output.unwrap();
    let child = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:doubler:child-run");
    assert_eq!(out["ExecutionArn"], json!(child));
    assert_eq!(out["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    assert!(out["StartDate"].is_number());
    // The child runs to its own end on the same engine.
    for _ in 0..100 {
        if e.describe_execution(&child)
            .await
            .expect("the store answers")
            .is_some_and(|r| r.status == ExecutionStatus::Succeeded)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the child did not succeed");
}

#[tokio::test]
async fn sync_gives_output_as_text_and_sync2_as_json() {
    let e = engine(&[("doubler", doubler())]).await;
    let (history, outcome) =
        run(&e, start_task("arn:aws:states:::states:startExecution.sync", "doubler", json!({"n": 21}))).await;
    let out = outcome.output.expect("output");
    assert_eq!(out["Output"], json!("{\"twice\":42}"));
    assert_eq!(out["Input"], json!("{\"n\":21}"));
    assert_eq!(out["Status"], json!("SUCCEEDED"));
    let types: Vec<&str> = history.history().iter().map(|h| h.event_type().name()).collect();
    assert!(types.contains(&"TaskSubmitted"), "{types:?}");

    let e = engine(&[("doubler", doubler())]).await;
    let (_, outcome) =
        run(&e, start_task("arn:aws:states:::states:startExecution.sync:2", "doubler", json!({"n": 2}))).await;
    let out = outcome.output.expect("output");
    assert_eq!(out["Output"], json!({"twice": 4}));
    assert_eq!(out["Input"], json!({"n": 2}));
}

#[tokio::test]
async fn a_failed_child_fails_the_task_with_its_description() {
    let failing = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}});
    let e = engine(&[("failing", failing)]).await;
    let (_, outcome) = run(&e, start_task("arn:aws:states:::states:startExecution.sync", "failing", json!(null))).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.TaskFailed"));
    let cause: Value = serde_json::from_str(outcome.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["Error"], json!("Boom"));
    assert_eq!(cause["Cause"], json!("it broke"));
    assert_eq!(cause["Status"], json!("FAILED"));
    assert_eq!(cause["Input"], json!("{}"));
}

#[tokio::test]
async fn a_timed_out_child_fails_the_task() {
    let slow =
        json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}});
    let e = engine(&[("slow", slow)]).await;
    let (_, outcome) = run(&e, start_task("arn:aws:states:::states:startExecution.sync:2", "slow", json!({}))).await;
    assert_eq!(outcome.error.as_deref(), Some("States.TaskFailed"));
    let cause: Value = serde_json::from_str(outcome.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["Status"], json!("TIMED_OUT"));
}

#[tokio::test]
async fn stopping_the_parent_stops_its_sync_child_and_an_aborted_child_fails_its_parent() {
    let slow = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}});
    let e = engine(&[("slow", slow)]).await;
    let parent = start_task("arn:aws:states:::states:startExecution.sync", "slow", json!({}));
    let execution =
        e.start(StartRequest::new(machine(&parent), "parent", json!({}))).await.expect("the execution starts");
    let child = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:slow:child-run");
    for _ in 0..200 {
        if e.running_execution(&child).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(e.running_execution(&child).is_some(), "the child runs");
    e.stop_execution(execution.arn(), None, None).await.unwrap();
    assert_eq!(execution.outcome().await.status, ExecutionStatus::Aborted);
    let mut status = ExecutionStatus::Running;
    for _ in 0..200 {
        status = e
            .describe_execution(&child)
            .await
            .expect("the store answers")
            .map(|r| r.status)
            .unwrap_or(ExecutionStatus::Running);
        if status != ExecutionStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, ExecutionStatus::Aborted, "the child is stopped with its parent");

    // The other way round: a child stopped from outside fails its parent's task.
    let e = engine(&[("slow", json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}))])
        .await;
    let execution =
        e.start(StartRequest::new(machine(&parent), "parent", json!({}))).await.expect("the execution starts");
    for _ in 0..200 {
        if e.running_execution(&child).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    e.stop_execution(&child, None, None).await.unwrap();
    let outcome = execution.outcome().await;
    assert_eq!(outcome.error.as_deref(), Some("States.TaskFailed"));
    assert!(outcome.cause.unwrap().contains("\"Status\":\"ABORTED\""));
}

#[tokio::test]
async fn wait_for_task_token_ends_when_the_child_answers_through_aws_sdk_sfn() {
    let answering = json!({"StartAt": "Answer", "States": {"Answer": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
        "Parameters": {"TaskToken.$": "$.token", "Output": {"answer.$": "$.question"}}, "End": true}}});
    let e = engine(&[("answering", answering)]).await;
    let parent = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
        "Parameters": {"StateMachineArn": arn("answering"),
                       "Input": {"token.$": "$$.Task.Token", "question": 42,
                                 "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
        "End": true}}});
    let (_, outcome) = run(&e, parent).await;
    assert_eq!(outcome.output, Some(json!({"answer": 42})), "{outcome:?}");
}

#[tokio::test]
async fn aws_sdk_sfn_starts_describes_and_names_its_errors() {
    let e = engine(&[("doubler", doubler())]).await;
    let parent = json!({"StartAt": "Start", "States": {
        "Start": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                  "Parameters": {"StateMachineArn": arn("doubler"), "Input": "{\"n\": 5}"}, "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Describe"},
        "Describe": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                     "Parameters": {"ExecutionArn.$": "$.ExecutionArn"}, "Next": "Answer"},
        "Answer": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                   "Parameters": {"TaskToken": "NoSuchToken", "Output": "{}"},
                   "Catch": [{"ErrorEquals": ["Sfn.InvalidTokenException"], "ResultPath": "$.caught", "Next": "Done"}],
                   "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    let (_, outcome) = run(&e, parent).await;
    let out = outcome.output.expect("output");
    assert_eq!(out["Status"], json!("SUCCEEDED"));
    assert_eq!(out["Output"], json!("{\"twice\":10}"));
    assert_eq!(out["caught"]["Error"], json!("Sfn.InvalidTokenException"));

    let missing = start_task("arn:aws:states:::aws-sdk:sfn:startExecution", "nobody", json!({}));
    let (_, outcome) = run(&e, missing).await;
    assert_eq!(outcome.error.as_deref(), Some("Sfn.StateMachineDoesNotExistException"));
}
