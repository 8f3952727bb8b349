//! Callback tasks end through their task token: SendTaskSuccess, SendTaskFailure and heartbeats,
//! with `HeartbeatSeconds` and `TimeoutSeconds` enforced on a paused clock.

use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::history::Event;
use legion_engine::{
    Dispatched, Engine, ExecutionStatus, LocalHandlers, StartRequest, TaskDispatcher, TaskError, TaskRequest,
    TokenError,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const RESOURCE: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

fn machine(extra: &str) -> Arc<legion_asl::model::StateMachine> {
    let text = format!(
        r#"{{"StartAt": "Wait", "States": {{"Wait": {{"Type": "Task", "Resource": "{RESOURCE}",
            "Parameters": {{"QueueUrl": "q", "MessageBody": {{"TaskToken.$": "$$.Task.Token"}}}} {extra},
            "End": true}}}}}}"#
    );
    Arc::new(parse_str(&text, ParseOptions::default()).expect("valid definition"))
}

/// An engine whose SQS handler hands every token it receives to the test.
fn engine() -> (Engine, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handlers = LocalHandlers::new().resource(RESOURCE, move |req: TaskRequest| {
        let tx = tx.clone();
        async move {
            let token = req.input["MessageBody"]["TaskToken"].as_str().unwrap_or_default().to_owned();
            assert_eq!(req.task_token.as_deref(), Some(token.as_str()));
            let _ = tx.send(token);
            Ok(json!({"MessageId": "m-1"}))
        }
    });
    (Engine::builder().dispatcher(Arc::new(handlers)).build(), rx)
}

fn types(execution: &legion_engine::Execution) -> Vec<&'static str> {
    execution.history().iter().map(|e| e.event_type().name()).collect()
}

#[tokio::test]
async fn send_task_success_completes_the_task_with_its_output() {
    let (engine, mut tokens) = engine();
    let execution = engine.start(StartRequest::new(machine(""), "cb", json!({}))).await.expect("the execution starts");
    let token = tokens.recv().await.expect("the task was dispatched");
    engine.send_task_success(&token, json!({"approved": true})).expect("the token is open");
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"approved": true})));
    let t = types(&execution);
    assert_eq!(&t[2..6], ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]);
    let Event::TaskSubmitted { output, .. } = &execution.history()[4].event else {
        panic!("the task was submitted: {:?}", execution.history()[4]);
    };
    assert_eq!(output.text(), "{\"MessageId\":\"m-1\"}");
    assert_eq!(engine.send_task_success(&token, json!(1)), Err(TokenError::TaskDoesNotExist));
}

#[tokio::test]
async fn send_task_failure_fails_the_task_with_the_given_error() {
    let (engine, mut tokens) = engine();
    let execution = engine.start(StartRequest::new(machine(""), "cb", json!({}))).await.expect("the execution starts");
    let token = tokens.recv().await.expect("the task was dispatched");
    engine.send_task_failure(&token, Some("Rejected".into()), Some("no stock".into())).unwrap();
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("Rejected"));
    assert_eq!(outcome.cause.as_deref(), Some("no stock"));
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_the_task_alive_until_they_stop() {
    let (engine, mut tokens) = engine();
    let execution = engine
        .start(StartRequest::new(machine(r#", "HeartbeatSeconds": 10"#), "cb", json!({})))
        .await
        .expect("the execution starts");
    let token = tokens.recv().await.expect("the task was dispatched");
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(8)).await;
        engine.send_task_heartbeat(&token).expect("still open after 8 s since the last heartbeat");
    }
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(types(&execution)[5], "TaskTimedOut");
    assert_eq!(engine.send_task_heartbeat(&token), Err(TokenError::TaskTimedOut));
}

#[tokio::test(start_paused = true)]
async fn timeout_seconds_covers_the_wait_for_the_callback() {
    let (engine, mut tokens) = engine();
    let execution = engine
        .start(StartRequest::new(machine(r#", "TimeoutSeconds": 30"#), "cb", json!({})))
        .await
        .expect("the execution starts");
    let token = tokens.recv().await.expect("the task was dispatched");
    tokio::time::sleep(Duration::from_secs(20)).await;
    engine.send_task_heartbeat(&token).expect("open at 20 s");
    let outcome = execution.outcome().await;
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
}

/// A dispatcher that completes tasks on its own resource through the token it is given, after
/// answering the submission: the shape of an asynchronous target with a callback.
struct Posting {
    tokens: legion_engine::TaskTokens,
}

impl TaskDispatcher for Posting {
    fn invoke(&self, request: TaskRequest) -> legion_engine::dispatch::BoxFuture<'static, Result<Value, TaskError>> {
        let tokens = self.tokens.clone();
        Box::pin(async move {
            let token = request.task_token.clone().ok_or_else(|| TaskError::bare("NoToken"))?;
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                let _ = tokens.succeed(&token, json!({"echo": request.input}));
            });
            Ok(json!({"accepted": true}))
        })
    }

    fn completes_by_callback(&self, resource: &str) -> bool {
        resource.ends_with(":async")
    }
}

#[tokio::test]
async fn a_dispatcher_can_claim_callback_completion_for_its_resources() {
    let tokens = legion_engine::TaskTokens::new();
    let engine =
        Engine::builder().task_tokens(tokens.clone()).dispatcher(Arc::new(Posting { tokens: tokens.clone() })).build();
    let text = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:legion:states:::demo:async", "End": true}}}"#;
    let m = Arc::new(parse_str(text, ParseOptions::default()).unwrap());
    let (execution, outcome) =
        engine.run(StartRequest::new(m, "cb", json!({"n": 1}))).await.expect("the execution starts");
    assert_eq!(outcome.output, Some(json!({"echo": {"n": 1}})));
    assert!(types(&execution).contains(&"TaskSubmitted"));
    assert_eq!(tokens.open_count(), 0);
}

/// A dispatcher that answers a callback task at once, as a mock does.
struct Immediate;

impl TaskDispatcher for Immediate {
    fn invoke(&self, _request: TaskRequest) -> legion_engine::dispatch::BoxFuture<'static, Result<Value, TaskError>> {
        Box::pin(async { Ok(json!("unused")) })
    }

    fn dispatch(
        &self,
        _request: TaskRequest,
    ) -> legion_engine::dispatch::BoxFuture<'static, Result<Dispatched, TaskError>> {
        Box::pin(async { Ok(Dispatched::Done(json!({"mocked": true}))) })
    }
}

#[tokio::test]
async fn a_done_answer_ends_a_callback_task_without_waiting() {
    let engine = Engine::builder().dispatcher(Arc::new(Immediate)).build();
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(""), "cb", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.output, Some(json!({"mocked": true})));
    assert!(!types(&execution).contains(&"TaskSubmitted"));
    assert_eq!(engine.task_tokens().open_count(), 0);
}
