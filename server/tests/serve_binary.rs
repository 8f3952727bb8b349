//! The `legion serve` binary itself: started as a process with `--s3-root`, driven with the AWS SDK,
//! running the tour's Distributed Map over a local folder.

mod common;

#[tokio::test]
async fn serve_runs_a_distributed_map_over_a_local_folder() {
    let (_process, addr) = common::serve_binary(&["--s3-root", "examples/tour/data"]);
    let (stop, _stopped) = tokio::sync::oneshot::channel();
    let client = common::client(&common::Server::at(addr, stop));
    let definition = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tour/logs.asl.json"),
    )
    .expect("the tour definition");
    let machine = common::create_machine(&client, "logs", &definition, false).await;
    let started = client.start_execution().state_machine_arn(&machine).send().await.expect("StartExecution succeeds");
    let done = common::wait_until_done(&client, &started.execution_arn, 500).await;
    assert_eq!(done.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some(r#"{"files":3,"bytes":165,"largest":"2026/11/22.log"}"#));
    let runs = client.list_map_runs().execution_arn(&started.execution_arn).send().await.expect("ListMapRuns");
    assert_eq!(runs.map_runs.len(), 1);
    let run =
        client.describe_map_run().map_run_arn(&runs.map_runs[0].map_run_arn).send().await.expect("DescribeMapRun");
    assert_eq!(run.item_counts.map(|c| c.succeeded), Some(3));
}
