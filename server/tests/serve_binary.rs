//! The `legion serve` binary itself: started as a process with `--s3-root`, driven with the AWS SDK,
//! running the tour's Distributed Map over a local folder.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The server process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `legion serve` on a free port and reads the address it prints.
fn serve(extra: &[&str]) -> (Process, SocketAddr) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let mut child = Command::new(env!("CARGO_BIN_EXE_legion"))
        .current_dir(repo)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env_remove("SFN_MOCK_CONFIG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("legion serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let process = Process(child);
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a line of stderr");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default().parse().expect("an address");
            return (process, addr);
        }
    }
    panic!("legion serve ended without listening");
}

#[tokio::test]
async fn serve_runs_a_distributed_map_over_a_local_folder() {
    let (_process, addr) = serve(&["--s3-root", "examples/tour/data"]);
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
