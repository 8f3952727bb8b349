//! Activity tasks: a Task on an activity ARN waits for a worker (`get_activity_task`), then ends
//! through its token, with `TimeoutSeconds` and `HeartbeatSeconds` enforced on a paused clock.

use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::history::{ActivityScheduledDetails, ErrorDetails, Event, Payload};
use legion_engine::{Engine, ExecutionStatus, StartRequest, TokenError};
use serde_json::json;

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:work";

fn machine(extra: &str) -> Arc<legion_asl::model::StateMachine> {
    let text = format!(
        r#"{{"StartAt": "Work", "States": {{"Work": {{"Type": "Task", "Resource": "{ACTIVITY}" {extra},
            "End": true}}}}}}"#
    );
    Arc::new(parse_str(&text, ParseOptions::default()).expect("valid definition"))
}

fn types(execution: &legion_engine::Execution) -> Vec<&'static str> {
    execution.history().iter().map(|e| e.event_type().name()).collect()
}

fn event(execution: &legion_engine::Execution, index: usize) -> Event {
    execution.history()[index].event.clone()
}

#[tokio::test]
async fn a_worker_takes_the_task_and_its_answer_is_the_result() {
    let engine = Engine::builder().build();
    let execution =
        engine.start(StartRequest::new(machine(""), "act", json!({"n": 1}))).await.expect("the execution starts");
    let task = engine
        .get_activity_task(ACTIVITY, Some("worker-1"), Duration::from_secs(5))
        .await
        .expect("the task was scheduled");
    assert_eq!(task.input, json!({"n": 1}));
    engine.send_task_success(&task.task_token, json!({"done": true})).expect("the token is open");
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"done": true})));
    assert_eq!(
        types(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let scheduled = Event::ActivityScheduled(Box::new(ActivityScheduledDetails {
        resource: ACTIVITY.into(),
        input: Payload::of(&json!({"n": 1})),
        timeout: None,
        heartbeat: None,
    }));
    assert_eq!(event(&execution, 2), scheduled);
    assert_eq!(event(&execution, 3), Event::ActivityStarted { worker_name: Some("worker-1".into()) });
    assert_eq!(event(&execution, 4), Event::ActivitySucceeded { output: Payload::of(&json!({"done": true})) });
    assert_eq!(engine.send_task_success(&task.task_token, json!(1)), Err(TokenError::TaskDoesNotExist));
    assert_eq!(engine.pending_activity_tasks(ACTIVITY), 0);
}

#[tokio::test]
async fn a_waiting_worker_gets_a_task_scheduled_later_and_a_nameless_worker_is_recorded_without_name() {
    let engine = Engine::builder().build();
    let worker = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.get_activity_task(ACTIVITY, None, Duration::from_secs(30)).await })
    };
    tokio::task::yield_now().await;
    let execution =
        engine.start(StartRequest::new(machine(""), "act", json!({"n": 2}))).await.expect("the execution starts");
    let task = worker.await.expect("the worker ran").expect("a task arrived while waiting");
    engine.send_task_success(&task.task_token, task.input).unwrap();
    let outcome = execution.outcome().await;
    assert_eq!(outcome.output, Some(json!({"n": 2})));
    assert_eq!(event(&execution, 3), Event::ActivityStarted { worker_name: None });
}

#[tokio::test]
async fn send_task_failure_fails_the_activity() {
    let engine = Engine::builder().build();
    let execution = engine.start(StartRequest::new(machine(""), "act", json!({}))).await.expect("the execution starts");
    let task = engine.get_activity_task(ACTIVITY, Some("w"), Duration::from_secs(5)).await.expect("scheduled");
    engine.send_task_failure(&task.task_token, Some("Broken".into()), Some("it broke".into())).unwrap();
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("Broken"));
    assert_eq!(outcome.cause.as_deref(), Some("it broke"));
    assert_eq!(types(&execution)[4], "ActivityFailed");
    assert_eq!(event(&execution, 4), Event::ActivityFailed(ErrorDetails::new("Broken", Some("it broke".into()))));
}

#[tokio::test(start_paused = true)]
async fn no_task_means_an_empty_answer_after_the_wait() {
    let engine = Engine::builder().build();
    let before = tokio::time::Instant::now();
    assert_eq!(engine.get_activity_task(ACTIVITY, Some("w"), Duration::from_secs(60)).await, None);
    assert!(before.elapsed() >= Duration::from_secs(60));
    let other = "arn:aws:states:us-east-1:123456789012:activity:other";
    let _execution =
        engine.start(StartRequest::new(machine(""), "act", json!({}))).await.expect("the execution starts");
    // A task on another activity is not handed out.
    assert_eq!(engine.get_activity_task(other, None, Duration::from_secs(1)).await, None);
    assert!(engine.get_activity_task(ACTIVITY, None, Duration::from_secs(1)).await.is_some());
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_the_activity_alive_until_they_stop() {
    let engine = Engine::builder().build();
    let execution = engine
        .start(StartRequest::new(machine(r#", "HeartbeatSeconds": 10, "TimeoutSeconds": 600"#), "act", json!({})))
        .await
        .expect("the execution starts");
    // The heartbeat clock starts when a worker takes the task, not when it is scheduled.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let task = engine.get_activity_task(ACTIVITY, Some("w"), Duration::from_secs(5)).await.expect("scheduled");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(8)).await;
        engine.send_task_heartbeat(&task.task_token).expect("still open 8 s after the last heartbeat");
    }
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(types(&execution)[2..5], ["ActivityScheduled", "ActivityStarted", "ActivityTimedOut"]);
    let Event::ActivityScheduled(scheduled) = event(&execution, 2) else {
        panic!("the activity was scheduled: {:?}", event(&execution, 2));
    };
    assert_eq!((scheduled.timeout, scheduled.heartbeat), (Some(600), Some(10)));
    assert_eq!(event(&execution, 4), Event::ActivityTimedOut(ErrorDetails::new("States.Timeout", None)));
    assert_eq!(engine.send_task_success(&task.task_token, json!(1)), Err(TokenError::TaskTimedOut));
}

#[tokio::test(start_paused = true)]
async fn timeout_seconds_covers_the_wait_for_a_worker() {
    let engine = Engine::builder().build();
    let execution = engine
        .start(StartRequest::new(machine(r#", "TimeoutSeconds": 5"#), "act", json!({})))
        .await
        .expect("the execution starts");
    let outcome = execution.outcome().await;
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(types(&execution)[2..4], ["ActivityScheduled", "ActivityTimedOut"]);
    // The timed-out task is no longer handed out.
    assert_eq!(engine.pending_activity_tasks(ACTIVITY), 0);
    assert_eq!(engine.get_activity_task(ACTIVITY, None, Duration::from_secs(1)).await, None);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_execution_withdraws_its_task() {
    let engine = Engine::builder().build();
    let execution = engine.start(StartRequest::new(machine(""), "act", json!({}))).await.expect("the execution starts");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(engine.pending_activity_tasks(ACTIVITY), 1);
    execution.stop(None, None);
    assert_eq!(execution.outcome().await.status, ExecutionStatus::Aborted);
    assert_eq!(engine.pending_activity_tasks(ACTIVITY), 0);
    assert_eq!(engine.get_activity_task(ACTIVITY, None, Duration::from_secs(1)).await, None);
}

#[tokio::test]
async fn retry_and_catch_see_activity_errors() {
    let text = format!(
        r#"{{"StartAt": "Work", "States": {{
            "Work": {{"Type": "Task", "Resource": "{ACTIVITY}",
                "Retry": [{{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}}],
                "Catch": [{{"ErrorEquals": ["States.ALL"], "Next": "Caught"}}], "End": true}},
            "Caught": {{"Type": "Pass", "End": true}}}}}}"#
    );
    let machine = Arc::new(parse_str(&text, ParseOptions::default()).expect("valid definition"));
    let engine = Engine::builder().time_scale(0.0).build();
    let execution =
        engine.start(StartRequest::new(machine, "act", json!({"a": 1}))).await.expect("the execution starts");
    let first = engine.get_activity_task(ACTIVITY, None, Duration::from_secs(5)).await.expect("first attempt");
    engine.send_task_failure(&first.task_token, Some("Flaky".into()), None).unwrap();
    let second = engine.get_activity_task(ACTIVITY, None, Duration::from_secs(5)).await.expect("the retry");
    assert_ne!(first.task_token, second.task_token);
    engine.send_task_failure(&second.task_token, Some("Fatal".into()), Some("no".into())).unwrap();
    let outcome = execution.outcome().await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, Some(json!({"Error": "Fatal", "Cause": "no"})));
}
