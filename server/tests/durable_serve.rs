//! `legion serve --store sqlite:PATH` survives `kill -9`: state machines, versions, aliases, tags and
//! activities are there after a restart, and an execution that was RUNNING is RUNNING again and
//! then finishes, its history continuing where the committed part ended. Driven with aws-sdk-sfn.

mod common;

use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, RoutingConfigurationListItem};

const DEFINITION: &str = r#"{
  "StartAt": "Before",
  "States": {
    "Before": {"Type": "Pass", "Result": {"step": 1}, "ResultPath": "$.before", "Next": "Nap"},
    "Nap": {"Type": "Wait", "Seconds": 2, "Next": "After"},
    "After": {"Type": "Pass", "Parameters": {"done.$": "$.before.step", "name.$": "$$.Execution.Name"}, "End": true}
  }
}"#;

/// What the machine is updated to after its first execution started: that execution still describes
/// the revision it ran.
fn updated() -> String {
    DEFINITION.replace(r#""Seconds": 2"#, r#""Seconds": 1"#)
}

fn store_args(dir: &std::path::Path) -> Vec<String> {
    vec!["--store".to_owned(), format!("sqlite:{}", dir.join("legion.db").display())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_its_running_executions_and_keeps_its_resources() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let (stop, _stopped) = tokio::sync::oneshot::channel();

    // The first server: a machine with a version, an alias, tags, an activity, and two executions
    // that are in their Wait when the server is killed: one of the machine's first revision, one
    // of the revision it was updated to.
    let (first, addr) = common::serve_binary(&store_args(dir.path()));
    let client = common::client(&common::Server::at(addr, stop));
    let machine = common::create_machine(&client, "durable", DEFINITION, false).await;
    let earlier = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("earlier")
        .input(r#"{"n": 0}"#)
        .send()
        .await
        .expect("starts");
    client.update_state_machine().state_machine_arn(&machine).definition(updated()).send().await.expect("updates");
    let version = client.publish_state_machine_version().state_machine_arn(&machine).send().await.expect("publishes");
    let route = RoutingConfigurationListItem::builder()
        .state_machine_version_arn(&version.state_machine_version_arn)
        .weight(100)
        .build()
        .expect("a route");
    let alias = client
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(route)
        .send()
        .await
        .expect("creates an alias");
    let tag = aws_sdk_sfn::types::Tag::builder().key("team").value("core").build();
    client.tag_resource().resource_arn(&machine).tags(tag).send().await.expect("tags");
    let activity = client.create_activity().name("approve").send().await.expect("creates an activity");
    let started = client
        .start_execution()
        .state_machine_arn(&alias.state_machine_alias_arn)
        .name("survivor")
        .input(r#"{"n": 1}"#)
        .send()
        .await
        .expect("starts");
    common::wait_for_event(&client, &started.execution_arn, HistoryEventType::WaitStateEntered).await;
    drop(first); // SIGKILL: no shutdown path runs.

    // The second server on the same file.
    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let (_second, addr) = common::serve_binary(&store_args(dir.path()));
    let client = common::client(&common::Server::at(addr, stop));
    let d = client.describe_execution().execution_arn(&started.execution_arn).send().await.expect("describes");
    assert_eq!(d.status, ExecutionStatus::Running, "RUNNING again after the restart");
    let done = common::wait_until_done(&client, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#"{"done":1,"name":"survivor"}"#));
    assert_eq!(done.state_machine_alias_arn.as_deref(), Some(alias.state_machine_alias_arn.as_str()));

    let history =
        client.get_execution_history().execution_arn(&started.execution_arn).send().await.expect("reads the history");
    let types: Vec<_> = history.events.iter().map(|e| e.r#type.as_str().to_owned()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let ids: Vec<i64> = history.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=8).collect::<Vec<_>>());

    let done = common::wait_until_done(&client, &earlier.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");

    // The resources came back with it.
    let m = client.describe_state_machine().state_machine_arn(&machine).send().await.expect("the machine is there");
    assert_eq!(m.definition, updated());
    let versions = client.list_state_machine_versions().state_machine_arn(&machine).send().await.expect("lists");
    assert_eq!(versions.state_machine_versions.len(), 1);
    let a = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias.state_machine_alias_arn)
        .send()
        .await
        .expect("the alias is there");
    assert_eq!(a.routing_configuration().len(), 1);
    let tags = client.list_tags_for_resource().resource_arn(&machine).send().await.expect("lists tags");
    assert_eq!(tags.tags().len(), 1);
    client.describe_activity().activity_arn(&activity.activity_arn).send().await.expect("the activity is there");
    let ran = |arn: String| {
        let client = client.clone();
        async move {
            let ran = client.describe_state_machine_for_execution().execution_arn(&arn).send().await;
            ran.unwrap_or_else(|e| panic!("what {arn} ran: {e:?}")).definition
        }
    };
    assert_eq!(ran(started.execution_arn.clone()).await, updated());
    let earlier_ran = ran(earlier.execution_arn.clone()).await;
    assert_eq!(earlier_ran, DEFINITION, "the revision it ran, though the machine was updated since");
    // The name stays taken.
    let again =
        client.start_execution().state_machine_arn(&machine).name("survivor").input("{}").send().await.unwrap_err();
    assert_eq!(aws_sdk_sfn::error::ProvideErrorMetadata::code(&again), Some("ExecutionAlreadyExists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_token_handed_out_before_a_kill_is_accepted_after_the_restart() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let (first, addr) = common::serve_binary(&store_args(dir.path()));
    let client = common::client(&common::Server::at(addr, stop));
    let activity = client.create_activity().name("approve").send().await.expect("creates an activity");
    let definition = common::activity_machine(&activity.activity_arn);
    let machine = common::create_machine(&client, "approval", &definition, false).await;
    let started =
        client.start_execution().state_machine_arn(&machine).input(r#"{"order": 7}"#).send().await.expect("starts");
    let task = client.get_activity_task().activity_arn(&activity.activity_arn).send().await.expect("polls");
    let token = task.task_token.expect("a task is handed out");
    drop(first); // SIGKILL while the worker holds the token.

    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let (_second, addr) = common::serve_binary(&store_args(dir.path()));
    let client = common::client(&common::Server::at(addr, stop));
    // The Task state runs again (at least once): its activity task is handed out again, same token.
    let again = client.get_activity_task().activity_arn(&activity.activity_arn).send().await.expect("polls");
    assert_eq!(again.task_token.as_deref(), Some(token.as_str()), "the same task token");
    assert_eq!(again.input.as_deref(), Some(r#"{"order":7}"#));
    client.send_task_success().task_token(&token).output(r#"{"approved":true}"#).send().await.expect("accepted");
    let done = common::wait_until_done(&client, &started.execution_arn, 500).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#"{"approved":true}"#));
    let history =
        client.get_execution_history().execution_arn(&started.execution_arn).send().await.expect("the history");
    let scheduled = history.events.iter().filter(|e| e.r#type == HistoryEventType::ActivityScheduled).count();
    assert_eq!(scheduled, 1, "the uncommitted first attempt left no event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_map_killed_mid_run_continues_its_map_run_and_writes_each_result_once() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let s3_root = dir.path().join("s3");
    std::fs::create_dir_all(s3_root.join("results")).expect("a bucket folder");
    let mut args = store_args(dir.path());
    args.extend(["--s3-root".to_owned(), s3_root.display().to_string()]);
    let input = common::ten_items();

    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let (first, addr) = common::serve_binary(&args);
    let client = common::client(&common::Server::at(addr, stop));
    let machine = common::create_machine(&client, "fan", common::SLOW_FAN, false).await;
    let started = client.start_execution().state_machine_arn(&machine).input(&input).send().await.expect("starts");
    common::wait_for_event(&client, &started.execution_arn, HistoryEventType::MapRunStarted).await;
    let runs = client.list_map_runs().execution_arn(&started.execution_arn).send().await.expect("ListMapRuns");
    let map_run_arn = runs.map_runs[0].map_run_arn.clone();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before = client.describe_map_run().map_run_arn(&map_run_arn).send().await.expect("DescribeMapRun");
    let succeeded_before = before.item_counts.map(|c| c.succeeded).unwrap_or_default();
    assert!((2..10).contains(&succeeded_before), "killed mid-run: {succeeded_before} children had succeeded");
    drop(first);

    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let (_second, addr) = common::serve_binary(&args);
    let client = common::client(&common::Server::at(addr, stop));
    let done = common::wait_until_done(&client, &started.execution_arn, 1000).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    // The same map run, with every item counted once.
    let runs = client.list_map_runs().execution_arn(&started.execution_arn).send().await.expect("ListMapRuns");
    assert_eq!(runs.map_runs.len(), 1);
    assert_eq!(runs.map_runs[0].map_run_arn, map_run_arn);
    let run = client.describe_map_run().map_run_arn(&map_run_arn).send().await.expect("DescribeMapRun");
    assert_eq!(run.item_counts.map(|c| (c.succeeded, c.total)), Some((10, 10)));
    // The children that had succeeded did not run again: the listing (kept in the file, so it spans
    // the restart) has each of them once, and at most one more child per item that had not.
    let children = client.list_executions().map_run_arn(&map_run_arn).send().await.expect("lists children");
    let succeeded = children.executions.iter().filter(|c| c.status == ExecutionStatus::Succeeded).count() as i64;
    assert!(succeeded >= 10, "every item has a child that succeeded: {succeeded}");
    assert!(
        children.executions.len() as i64 <= 10 + (10 - succeeded_before),
        "{} children for 10 items, {succeeded_before} had succeeded before the restart",
        children.executions.len()
    );
    let child = &children.executions[0];
    let history = client.get_execution_history().execution_arn(&child.execution_arn).send().await.expect("history");
    assert_eq!(history.events.last().map(|e| e.r#type.clone()), Some(HistoryEventType::ExecutionSucceeded));
    // Each item's result is in the result files exactly once.
    let seen = common::succeeded_items(&s3_root, done.output.as_deref());
    assert_eq!(seen, (0..10).collect::<Vec<_>>(), "every item once");

    // The ended map run and its children are in the file: a third server answers for them.
    drop(_second);
    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let (_third, addr) = common::serve_binary(&args);
    let client = common::client(&common::Server::at(addr, stop));
    let run = client.describe_map_run().map_run_arn(&map_run_arn).send().await.expect("DescribeMapRun");
    assert_eq!(run.status, aws_sdk_sfn::types::MapRunStatus::Succeeded);
    assert_eq!(run.item_counts.map(|c| (c.succeeded, c.total)), Some((10, 10)));
    let runs = client.list_map_runs().execution_arn(&started.execution_arn).send().await.expect("ListMapRuns");
    assert_eq!(runs.map_runs.len(), 1);
    let after = client.list_executions().map_run_arn(&map_run_arn).send().await.expect("lists children");
    assert_eq!(after.executions.len(), children.executions.len());
}

/// Runs `legion serve --store URL`, which must exit at once with an error; its standard error.
fn refused(url: &str) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_legion"))
        .args(["serve", "--bind", "127.0.0.1:0", "--store", url])
        .env_remove("LEGION_STORE")
        .output()
        .expect("legion runs");
    assert!(!output.status.success(), "legion serve --store {url} must not start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_that_cannot_be_used_stop_the_server_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    assert!(refused("mysql://nope").contains("unknown store 'mysql://nope'"));
    let missing = dir.path().join("no/such/folder/legion.db");
    let err = refused(&format!("sqlite:{}", missing.display()));
    assert!(err.contains("opening the store") && err.contains("No such file or directory"), "{err}");
    let not_a_database = dir.path().join("notes.txt");
    std::fs::write(&not_a_database, "these are notes, not a database\n".repeat(200)).expect("writes");
    let err = refused(&format!("sqlite:{}", not_a_database.display()));
    assert!(err.contains("file is not a database"), "{err}");
    read_only_file_is_refused(dir.path());
    // A second process on a file in use is refused: both would resume the same executions.
    let (_first, _) = common::serve_binary(&store_args(dir.path()));
    let err = refused(&format!("sqlite:{}", dir.path().join("legion.db").display()));
    assert!(err.contains("is in use by another Legion process"), "{err}");
}

/// A Legion database that cannot be written: 0444 for another user; for root, which permissions do
/// not stop, the immutable attribute (`chattr +i`), on filesystems that have it.
fn read_only_file_is_refused(dir: &std::path::Path) {
    let path = dir.join("read-only.db");
    let definition = dir.join("one.json");
    std::fs::write(&definition, r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#).expect("writes");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_legion"))
        .args(["run", "--quiet", "--store", &format!("sqlite:{}", path.display())])
        .arg(&definition)
        .output()
        .expect("legion runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    struct Immutable<'a>(&'a std::path::Path);
    impl Drop for Immutable<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("chattr").arg("-i").arg(self.0).status();
        }
    }
    let _undo = if root {
        let set = std::process::Command::new("chattr").arg("+i").arg(&path).output();
        if !set.is_ok_and(|o| o.status.success()) {
            println!("SKIPPED the read-only case: running as root, and this filesystem has no chattr +i");
            return;
        }
        Some(Immutable(&path))
    } else {
        let mut permissions = std::fs::metadata(&path).expect("the file").permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&path, permissions).expect("made read-only");
        None
    };
    let err = refused(&format!("sqlite:{}", path.display()));
    assert!(err.contains("read-only.db is read-only"), "{err}");
}
