//! AWS's most concurrent children on one coordinator: a Distributed Map of `LEGION_BENCH_ITEMS` items
//! (default 10,000) at `MaxConcurrency` 10,000, each child one `arn:aws:states:::http:invoke` Task
//! against a hyper HTTP/1.1 target on 127.0.0.1 (this binary again, in a process of its own, so that
//! its sockets and memory are its own) that answers each request after `LEGION_BENCH_TARGET_MS`
//! (default 1000 ms). Items come from a JSON object on the
//! embedded S3 endpoint and results go back through a `ResultWriter`, on an engine built as
//! `legion run --s3-root` builds it (no child executions kept, only the map run's counts).
//!
//! Runs STANDARD then EXPRESS children (each against a new target process); prints the wall time,
//! how far it is above the target's own delay, and the peak RSS (VmHWM) of the process that runs the
//! map (so far: the second figure is the larger of both runs).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::LocalS3;
use legion_connectors::{Config, Router};
use legion_engine::map_run::InMemoryMapRunStore;
use legion_engine::{Engine, ExecutionStatus, StartRequest, TaskTokens};
use serde_json::json;
use tokio::net::TcpListener;

// The allocator `legion` uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Starts the slow target in a process of its own; returns it and its address.
fn start_target(delay: Duration) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .env("LEGION_BENCH_SERVE_TARGET", delay.as_millis().to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the target starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("its output");
    std::io::BufReader::new(stdout).read_line(&mut line).expect("its address");
    (child, line.trim().parse().expect("an address"))
}

/// The slow target: `200 {}` after `delay`, until killed; prints its address first.
fn serve_target(delay: Duration) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        // A backlog for thousands of simultaneous connections: the default (128) drops SYNs, which
        // clients send again a second later.
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bound");
        let listener: TcpListener = socket.listen(16_384).expect("listening");
        println!("{}", listener.local_addr().expect("address"));
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |_: Request<Incoming>| async move {
                    tokio::time::sleep(delay).await;
                    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                    response.headers_mut().insert("content-type", "application/json".parse().expect("header"));
                    Ok::<_, Infallible>(response)
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}

/// A Distributed Map of `items` HTTP Tasks at MaxConcurrency 10,000; returns its wall time.
async fn distributed_map(url: &str, items: usize, s3_root: &std::path::Path, execution_type: &str) -> Duration {
    let bucket = s3_root.join("bench");
    std::fs::create_dir_all(&bucket).expect("bucket");
    let list: Vec<usize> = (0..items).collect();
    std::fs::write(bucket.join("items.json"), serde_json::to_vec(&list).expect("items")).expect("items file");
    // As `legion run --s3-root DIR` builds its engine (server/src/cli.rs).
    let endpoint = LocalS3::start(s3_root, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("S3 endpoint");
    let tokens = TaskTokens::new();
    let router = Router::builder(Config::default().with_env(), tokens.clone()).build().await.expect("router");
    let engine = Engine::builder()
        .time_scale(1.0)
        .s3(Arc::new(endpoint.connector()))
        .task_tokens(tokens)
        .dispatcher(Arc::new(router))
        .map_run_store(Arc::new(InMemoryMapRunStore::new().keep_child_executions(false)))
        .build();
    let definition = json!({
        "StartAt": "FanOut",
        "States": {"FanOut": {
            "Type": "Map",
            "MaxConcurrency": 10000,
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": "bench", "Key": "items.json"}
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                "StartAt": "Call",
                "States": {"Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::http:invoke",
                    "Parameters": {
                        "ApiEndpoint": url,
                        "Method": "GET",
                        "QueryParameters": {"item.$": "$"},
                        "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/bench/0"}
                    },
                    "ResultSelector": {"StatusCode.$": "$.StatusCode"},
                    "End": true
                }}
            },
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "bench", "Prefix": "results"}},
            "End": true
        }}
    });
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("definition"));
    let started = Instant::now();
    let (execution, outcome) =
        engine.run(StartRequest::new(machine, "bench", json!({}))).await.expect("the execution starts");
    let took = started.elapsed();
    if outcome.status != ExecutionStatus::Succeeded {
        // The first failed child's error, from the result files.
        let failed = walk(&bucket).into_iter().find(|p| p.to_string_lossy().contains("FAILED"));
        let first =
            failed.and_then(|p| std::fs::read_to_string(p).ok()).map(|t| t.chars().take(600).collect::<String>());
        panic!("{outcome:?}; first failed children: {first:?}");
    }
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(run.item_counts.succeeded as usize, items, "{run:?}");
    took
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn main() {
    if let Ok(ms) = std::env::var("LEGION_BENCH_SERVE_TARGET") {
        return serve_target(Duration::from_millis(ms.parse().expect("milliseconds")));
    }
    let items = env_number("LEGION_BENCH_ITEMS", 10_000);
    let delay = Duration::from_millis(env_number("LEGION_BENCH_TARGET_MS", 1000) as u64);
    println!("concurrent_children: load average {} at the start", load_average());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for execution_type in ["STANDARD", "EXPRESS"] {
        // A target of its own each time: the connections of the last run wait out TIME_WAIT, and a
        // new one to the same address costs the kernel a longer search for a free port.
        let (mut target_process, target) = start_target(delay);
        let url = format!("http://{target}/work");
        let dir = tempfile::tempdir().expect("scratch");
        let took = runtime.block_on(distributed_map(&url, items, dir.path(), execution_type));
        println!(
            "concurrent_children {execution_type}: {items} children at MaxConcurrency 10000, target {} ms: {:.2} s ({:.2} s above the target's delay), peak RSS {:.1} MiB",
            delay.as_millis(),
            took.as_secs_f64(),
            (took - delay.min(took)).as_secs_f64(),
            peak_rss_mib()
        );
        let _ = target_process.kill();
    }
}
