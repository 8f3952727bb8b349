//! Activity workers through a real AWS SDK client (`aws-sdk-sfn`) against `legion serve`:
//! CreateActivity, a state machine with an activity Task, GetActivityTask, and the worker's answer
//! (SendTaskSuccess, SendTaskFailure, or silence until the heartbeat runs out).

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use common::{client, create_machine, wait_until_done, Server, ACCOUNT};
use legion_engine::{Engine, LocalHandlers};
use legion_server::serve::serve;
use legion_server::AppState;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Starts `legion serve` whose GetActivityTask waits at most `poll` for a task.
async fn start(poll: Duration) -> Server {
    let engine = Engine::builder()
        .account(ACCOUNT, "us-east-1")
        .time_scale(0.0)
        .dispatcher(Arc::new(LocalHandlers::new()))
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port on 127.0.0.1");
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let state = AppState::new(engine).with_activity_poll(poll);
    tokio::spawn(serve(listener, state, legion_server::DEFAULT_BODY_LIMIT, shutdown));
    Server::at(addr, stop)
}

/// Creates the activity `name` and a machine `name` whose one Task runs it, with `extra` fields.
async fn setup(sfn: &aws_sdk_sfn::Client, name: &str, extra: &str) -> (String, String) {
    let activity = sfn.create_activity().name(name).send().await.expect("CreateActivity succeeds").activity_arn;
    let definition = format!(
        r#"{{"StartAt": "Work", "States": {{"Work": {{"Type": "Task", "Resource": "{activity}"{extra}, "End": true}}}}}}"#
    );
    let machine = create_machine(sfn, name, &definition, false).await;
    (activity, machine)
}

async fn start_execution(sfn: &aws_sdk_sfn::Client, machine: &str, input: &str) -> String {
    sfn.start_execution().state_machine_arn(machine).input(input).send().await.expect("starts").execution_arn
}

async fn history_types(sfn: &aws_sdk_sfn::Client, execution: &str) -> Vec<HistoryEventType> {
    let history = sfn.get_execution_history().execution_arn(execution).send().await.expect("history");
    history.events.iter().map(|e| e.r#type.clone()).collect()
}

#[tokio::test]
async fn a_worker_takes_the_task_and_send_task_success_ends_it() {
    let server = start(Duration::from_secs(5)).await;
    let sfn = client(&server);
    let (activity, machine) = setup(&sfn, "work", "").await;
    let execution = start_execution(&sfn, &machine, r#"{"order": 7}"#).await;

    let task = sfn
        .get_activity_task()
        .activity_arn(&activity)
        .worker_name("worker-1")
        .send()
        .await
        .expect("GetActivityTask succeeds");
    let token = task.task_token.expect("a task was waiting");
    let input: Value = serde_json::from_str(task.input.as_deref().expect("an input")).expect("JSON input");
    assert_eq!(input, json!({"order": 7}));
    sfn.send_task_success().task_token(&token).output(r#"{"shipped": true}"#).send().await.expect("accepted");

    let done = wait_until_done(&sfn, &execution, 250).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output.as_deref().expect("an output")).expect("JSON output");
    assert_eq!(output, json!({"shipped": true}));

    let history = sfn.get_execution_history().execution_arn(&execution).send().await.expect("history");
    let types: Vec<HistoryEventType> = history.events.iter().map(|e| e.r#type.clone()).collect();
    assert_eq!(
        types[2..5],
        [HistoryEventType::ActivityScheduled, HistoryEventType::ActivityStarted, HistoryEventType::ActivitySucceeded]
    );
    let scheduled = history.events[2].activity_scheduled_event_details.as_ref().expect("scheduled details");
    assert_eq!(scheduled.resource, activity);
    let started = history.events[3].activity_started_event_details.as_ref().expect("started details");
    assert_eq!(started.worker_name.as_deref(), Some("worker-1"));

    let again = sfn.send_task_success().task_token(&token).output("{}").send().await.expect_err("already answered");
    assert_eq!(again.as_service_error().and_then(|e| e.code()), Some("TaskDoesNotExist"));
}

#[tokio::test]
async fn send_task_failure_fails_the_execution() {
    let server = start(Duration::from_secs(5)).await;
    let sfn = client(&server);
    let (activity, machine) = setup(&sfn, "fragile", "").await;
    let execution = start_execution(&sfn, &machine, "{}").await;

    let task = sfn.get_activity_task().activity_arn(&activity).send().await.expect("GetActivityTask succeeds");
    let token = task.task_token.expect("a task was waiting");
    sfn.send_task_failure().task_token(&token).error("Broken").cause("it broke").send().await.expect("accepted");

    let done = wait_until_done(&sfn, &execution, 250).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Broken"));
    assert_eq!(done.cause.as_deref(), Some("it broke"));
    let history = sfn.get_execution_history().execution_arn(&execution).send().await.expect("history");
    let started = history.events[3].activity_started_event_details.as_ref().expect("started details");
    assert_eq!(started.worker_name, None);
    let failed = history.events[4].activity_failed_event_details.as_ref().expect("failed details");
    assert_eq!(failed.error.as_deref(), Some("Broken"));
}

#[tokio::test]
async fn a_silent_worker_times_out_on_its_heartbeat() {
    let server = start(Duration::from_secs(5)).await;
    let sfn = client(&server);
    let (activity, machine) = setup(&sfn, "silent", r#", "HeartbeatSeconds": 1"#).await;
    let execution = start_execution(&sfn, &machine, "{}").await;

    let task = sfn.get_activity_task().activity_arn(&activity).send().await.expect("GetActivityTask succeeds");
    let token = task.task_token.expect("a task was waiting");
    let done = wait_until_done(&sfn, &execution, 250).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(history_types(&sfn, &execution).await[4], HistoryEventType::ActivityTimedOut);
    let late = sfn.send_task_success().task_token(&token).output("{}").send().await.expect_err("too late");
    assert_eq!(late.as_service_error().and_then(|e| e.code()), Some("TaskTimedOut"));
}

#[tokio::test]
async fn a_poll_without_work_answers_without_a_token_and_unknown_activities_are_refused() {
    let server = start(Duration::from_millis(300)).await;
    let sfn = client(&server);
    let activity = sfn.create_activity().name("idle").send().await.expect("CreateActivity succeeds").activity_arn;

    let empty = sfn.get_activity_task().activity_arn(&activity).send().await.expect("GetActivityTask succeeds");
    assert_eq!(empty.task_token, None);
    assert_eq!(empty.input, None);

    let missing = format!("arn:aws:states:us-east-1:{ACCOUNT}:activity:missing");
    let e = sfn.get_activity_task().activity_arn(&missing).send().await.expect_err("no such activity");
    assert_eq!(e.as_service_error().and_then(|e| e.code()), Some("ActivityDoesNotExist"));
    let e = sfn.get_activity_task().activity_arn("not-an-arn").send().await.expect_err("not an ARN");
    assert_eq!(e.as_service_error().and_then(|e| e.code()), Some("InvalidArn"));
}

#[tokio::test]
async fn a_waiting_worker_receives_a_task_started_during_its_poll() {
    let server = start(Duration::from_secs(5)).await;
    let sfn = client(&server);
    let (activity, machine) = setup(&sfn, "later", "").await;
    let poll = {
        let sfn = sfn.clone();
        let activity = activity.clone();
        tokio::spawn(async move { sfn.get_activity_task().activity_arn(activity).worker_name("w").send().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let execution = start_execution(&sfn, &machine, r#"{"n": 1}"#).await;
    let task = poll.await.expect("the poll ran").expect("GetActivityTask succeeds");
    let token = task.task_token.expect("the task reached the waiting worker");
    sfn.send_task_success().task_token(&token).output(task.input.as_deref().unwrap_or("{}")).send().await.unwrap();
    let done = wait_until_done(&sfn, &execution, 250).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some(r#"{"n":1}"#));
}
