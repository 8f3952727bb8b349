//! Two `legion serve` instances on one PostgreSQL database (`LEGION_TEST_POSTGRES`): either answers
//! any API call (GetActivityTask included), an answer or a stop reaches the instance that runs the
//! execution, and when one instance is killed mid map run, the other takes the execution over and
//! finishes it. Driven with
//! aws-sdk-sfn.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};

/// How long an instance owns its executions without renewing, in these tests.
const LEASE_SECS: u64 = 2;
/// How many map-run children an instance runs at once: the one that runs a map run (MaxConcurrency
/// 2) offers the second child to the other.
const CHILDREN: usize = 1;

fn args(url: &str, s3_root: &std::path::Path) -> Vec<String> {
    vec![
        "--store".to_owned(),
        format!("{url}?lease={LEASE_SECS}&children={CHILDREN}"),
        "--s3-root".to_owned(),
        s3_root.display().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_instance_answers_and_the_survivor_finishes_a_map_run_the_other_was_running() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let s3_root = dir.path().join("s3");
    std::fs::create_dir_all(s3_root.join("results")).expect("a bucket folder");
    let (stop_a, _a_stopped) = tokio::sync::oneshot::channel();
    let (stop_b, _b_stopped) = tokio::sync::oneshot::channel();
    let (first, addr_a) = common::serve_binary(&args(&url, &s3_root));
    let (_second, addr_b) = common::serve_binary(&args(&url, &s3_root));
    let a = common::client(&common::Server::at(addr_a, stop_a));
    let b = common::client(&common::Server::at(addr_b, stop_b));

    // A machine and an activity made on A are there on B.
    let activity = a.create_activity().name("approve").send().await.expect("creates an activity");
    let approval = common::activity_machine(&activity.activity_arn);
    let machine = common::create_machine(&a, "approval", &approval, false).await;
    let seen = b.describe_state_machine().state_machine_arn(&machine).send().await.expect("B knows the machine");
    assert_eq!(seen.definition, approval);
    b.describe_activity().activity_arn(&activity.activity_arn).send().await.expect("B knows the activity");

    // An execution that A runs, whose activity task a worker polling B takes, answered through B.
    let started = a.start_execution().state_machine_arn(&machine).input(r#"{"order": 7}"#).send().await.unwrap();
    let task = b.get_activity_task().activity_arn(&activity.activity_arn).send().await.expect("polls");
    assert_eq!(task.input.as_deref(), Some(r#"{"order":7}"#));
    let token = task.task_token.expect("a task is handed out");
    b.send_task_success().task_token(&token).output(r#"{"approved":true}"#).send().await.expect("B routes it");
    let done = common::wait_until_done(&b, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#"{"approved":true}"#));
    let again = b.send_task_success().task_token(&token).output("{}").send().await.unwrap_err();
    assert_eq!(aws_sdk_sfn::error::ProvideErrorMetadata::code(&again), Some("TaskDoesNotExist"));
    // What it ran, asked of B (A kept the revision at the execution's start).
    let ran = b.describe_state_machine_for_execution().execution_arn(&started.execution_arn).send().await;
    assert_eq!(ran.expect("B describes what A's execution ran").definition, approval);

    // An execution that A runs, stopped through B.
    let waiting = a.start_execution().state_machine_arn(&machine).input("{}").send().await.unwrap();
    common::wait_for_event(&b, &waiting.execution_arn, HistoryEventType::ActivityScheduled).await;
    b.stop_execution().execution_arn(&waiting.execution_arn).error("Halt").send().await.expect("B stops it");
    let stopped = a.describe_execution().execution_arn(&waiting.execution_arn).send().await.unwrap();
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    assert_eq!(stopped.error.as_deref(), Some("Halt"));

    // A Distributed Map that A runs; A is killed mid map run; B finishes it.
    let machine = common::create_machine(&a, "fan", common::SLOW_FAN, false).await;
    let input = common::ten_items();
    let started = a.start_execution().state_machine_arn(&machine).input(&input).send().await.expect("starts");
    common::wait_for_event(&a, &started.execution_arn, HistoryEventType::MapRunStarted).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(first); // SIGKILL mid map run.
    let killed_at = Instant::now();

    let d = b.describe_execution().execution_arn(&started.execution_arn).send().await.expect("B describes it");
    assert_eq!(d.status, ExecutionStatus::Running);
    let done = common::wait_until_done(&b, &started.execution_arn, 1000).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    // Taken over within the lease plus half a lease, then the children that were left.
    assert!(killed_at.elapsed() < Duration::from_secs(3 * LEASE_SECS + 8), "took {:?}", killed_at.elapsed());
    let seen = common::succeeded_items(&s3_root, done.output.as_deref());
    assert_eq!(seen, (0..10).collect::<Vec<_>>(), "every item once");
    let history = b.get_execution_history().execution_arn(&started.execution_arn).send().await.expect("history");
    let ids: Vec<i64> = history.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "every event once");
    // The map run and its children are in the database: B describes them.
    let runs = b.list_map_runs().execution_arn(&started.execution_arn).send().await.expect("ListMapRuns");
    assert_eq!(runs.map_runs.len(), 1);
    let run = b.describe_map_run().map_run_arn(&runs.map_runs[0].map_run_arn).send().await.expect("DescribeMapRun");
    assert_eq!(run.status, aws_sdk_sfn::types::MapRunStatus::Succeeded);
    assert_eq!(run.item_counts.map(|c| (c.succeeded, c.total)), Some((10, 10)));
    let children =
        b.list_executions().map_run_arn(&runs.map_runs[0].map_run_arn).send().await.expect("lists the children");
    let succeeded = children.executions.iter().filter(|c| c.status == ExecutionStatus::Succeeded).count();
    assert!(succeeded >= 10, "children of both instances are listed: {succeeded}");
    let names: std::collections::HashSet<&str> = children.executions.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), children.executions.len(), "a child offered again keeps its name, listed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_stops_the_server_at_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_legion"))
        .args(["serve", "--bind", "127.0.0.1:0", "--store", "postgres://legion@127.0.0.1:9/legion"])
        .env_remove("LEGION_STORE")
        .output()
        .expect("legion runs");
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("cannot connect to postgres://legion@127.0.0.1:9/legion"), "{err}");
}
