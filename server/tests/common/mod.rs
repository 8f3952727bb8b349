//! Shared fixtures: `legion serve` on 127.0.0.1:0 and an `aws-sdk-sfn` client pointed at it.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_sfn::error::BoxError;
use legion_engine::{Engine, LocalHandlers};
use legion_server::serve::serve;
use legion_server::AppState;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The account every test server uses.
pub const ACCOUNT: &str = "123456789012";
/// The role passed to CreateStateMachine.
pub const ROLE: &str = "arn:aws:iam::123456789012:role/legion-test";

/// A running server; dropping it shuts the server down.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Server {
    /// A server started by the caller, stopped when `stop` is dropped.
    pub fn at(addr: SocketAddr, stop: oneshot::Sender<()>) -> Server {
        Server { addr, _stop: stop }
    }
}

/// Starts `legion serve` with `handlers` as task targets, on a free port.
pub async fn start(handlers: LocalHandlers) -> Server {
    let engine = Engine::builder().account(ACCOUNT, "us-east-1").time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port on 127.0.0.1");
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    tokio::spawn(serve(listener, AppState::new(engine), legion_server::DEFAULT_BODY_LIMIT, shutdown));
    Server { addr, _stop: stop }
}

/// Undoes the SDK's `sync-` host prefix (StartSyncExecution, TestState) for a local endpoint, as
/// `AWS_DISABLE_HOST_PREFIX_INJECTION` or botocore's `inject_host_prefix=False` do.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().replacen("://sync-", "://", 1);
        request.set_uri(uri)?;
        Ok(())
    }
}

/// A Step Functions client for `server`, as an application would configure one (only the endpoint
/// differs from AWS).
pub fn client(server: &Server) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .endpoint_url(format!("http://{}", server.addr))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .interceptor(NoHostPrefix)
        .behavior_version_latest()
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// Creates a state machine and returns its ARN.
pub async fn create_machine(client: &aws_sdk_sfn::Client, name: &str, definition: &str, express: bool) -> String {
    let machine_type = if express {
        aws_sdk_sfn::types::StateMachineType::Express
    } else {
        aws_sdk_sfn::types::StateMachineType::Standard
    };
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(machine_type)
        .send()
        .await
        .expect("CreateStateMachine succeeds")
        .state_machine_arn
}

/// Polls DescribeExecution until the execution has ended (at most `tries` polls, 20 ms apart).
pub async fn wait_until_done(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    tries: usize,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let mut last = None;
    for _ in 0..tries {
        let d = client.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution succeeds");
        if d.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return d;
        }
        last = Some(d);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the execution {arn} did not end: {last:?}");
}

/// A `legion serve` process, killed (SIGKILL) when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `legion` binary as `legion serve --bind 127.0.0.1:0 ARGS…` from the workspace root,
/// with `RUST_LOG=warn`, and returns it with the address it prints. Standard error keeps being read,
/// so the server never blocks on a full pipe.
pub fn serve_binary<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Process, SocketAddr) {
    use std::io::{BufRead, BufReader};
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_legion"))
        .current_dir(repo)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("SFN_MOCK_CONFIG")
        .env_remove("LEGION_STORE")
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("legion serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let process = Process(child);
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.expect("a line of stderr");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default().parse().expect("an address");
            std::thread::spawn(move || lines.for_each(drop));
            return (process, addr);
        }
    }
    panic!("legion serve ended without listening");
}

/// Polls GetExecutionHistory (at most 500 times, 10 ms apart) until the execution has recorded an
/// event of type `wanted`.
pub async fn wait_for_event(client: &aws_sdk_sfn::Client, arn: &str, wanted: aws_sdk_sfn::types::HistoryEventType) {
    for _ in 0..500 {
        let h = client.get_execution_history().execution_arn(arn).send().await.expect("reads the history");
        if h.events.iter().any(|e| e.r#type == wanted) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{arn} never reached {wanted:?}");
}

/// The `n` of every item in the SUCCEEDED result files of a ResultWriter to bucket `results` of
/// the embedded S3 endpoint at `s3_root`, sorted: `output` is the Map state's output.
pub fn succeeded_items(s3_root: &std::path::Path, output: Option<&str>) -> Vec<i64> {
    let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).expect("JSON");
    let output = json(output.unwrap_or("null").as_bytes());
    let key = output["ResultWriterDetails"]["Key"].as_str().expect("a manifest key");
    let bucket = s3_root.join("results");
    let manifest = json(&std::fs::read(bucket.join(key)).expect("the manifest"));
    let mut seen = Vec::new();
    for file in manifest["ResultFiles"]["SUCCEEDED"].as_array().expect("SUCCEEDED files") {
        let records = json(&std::fs::read(bucket.join(file["Key"].as_str().expect("a key"))).expect("a result file"));
        for record in records.as_array().expect("records") {
            let input = json(record["Input"].as_str().expect("an input").as_bytes());
            seen.push(input["n"].as_i64().expect("n"));
        }
    }
    seen.sort_unstable();
    seen
}

/// A Distributed Map over `$.items`, two STANDARD children at a time, each waiting a second, with a
/// ResultWriter to bucket `results` (see [`succeeded_items`]); [`ten_items`] is an input for it.
pub const SLOW_FAN: &str = r#"{
  "StartAt": "Fan",
  "States": {
    "Fan": {
      "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Slow",
        "States": {"Slow": {"Type": "Wait", "Seconds": 1, "Next": "Echo"}, "Echo": {"Type": "Pass", "End": true}}
      },
      "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results", "Prefix": "out"}},
      "End": true
    }
  }
}"#;

/// `{"items": [{"n": 0}, …, {"n": 9}]}`.
pub fn ten_items() -> String {
    let items: Vec<String> = (0..10).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    format!(r#"{{"items":[{}]}}"#, items.join(","))
}

/// A machine of one Task state that waits on the activity `activity_arn`.
pub fn activity_machine(activity_arn: &str) -> String {
    format!(
        r#"{{"StartAt": "Approve", "States": {{"Approve": {{"Type": "Task", "Resource": "{activity_arn}", "End": true}}}}}}"#
    )
}
