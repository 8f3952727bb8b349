//! Distributed Map dispatch against a plain HTTP client, on the same no-op HTTP target.
//!
//! A hyper HTTP/1.1 server on 127.0.0.1 (its own runtime, in this process) answers every request
//! with `200 {}` at once. Then, in the same run:
//!
//! - (a) the plain client: [`HttpClient`] (the client the HTTP Task uses, with its pool settings),
//!   `LEGION_BENCH_CONCURRENCY` request loops (default 1000) sending `LEGION_BENCH_REQUESTS`
//!   GET requests in all (default 100,000);
//! - (b) a Distributed Map over as many items (read from a JSON file on the embedded S3 endpoint,
//!   results written back with a `ResultWriter`, as a run of that size must: its results exceed the
//!   256 KiB state output) with `MaxConcurrency` set to the same concurrency and EXPRESS children,
//!   each one `arn:aws:states:::http:invoke` Task to the same target, dispatched through the
//!   connectors' `Router` on an engine built as `legion run --s3-root` builds it.
//!
//! Prints requests/s, items/s, the CPU time per request or item (whole process, target included)
//! and the peak RSS, then `ratio <(b)/(a)>` as the last line. `LEGION_BENCH_RESULT_WRITER=0` runs
//! (b) without the `ResultWriter` (each child then outputs its item, which keeps the Map's output
//! under 256 KiB only up to about 40,000 items); `LEGION_BENCH_KEEP_CHILDREN=1` keeps each child's
//! execution and history in the map-run store (`legion run` keeps none, only the counts, as this
//! benchmark does by default).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::http::HttpClient;
use legion_connectors::s3::LocalS3;
use legion_connectors::{Config, Router};
use legion_engine::map_run::InMemoryMapRunStore;
use legion_engine::{Engine, ExecutionStatus, StartRequest, TaskTokens};
use serde_json::json;

// The allocator `legion` uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio::net::TcpListener;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The process's CPU time (user + system), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which ends with the last ')'): utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: Vec<u64> = rest.split_whitespace().skip(11).take(2).filter_map(|t| t.parse().ok()).collect();
    ticks.iter().sum::<u64>() as f64 / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The no-op target: `200 {}` for every request, on its own runtime and threads.
fn start_target(threads: usize) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("listener");
            tx.send(listener.local_addr().expect("address")).expect("send the address");
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_: Request<Incoming>| async {
                        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                        response.headers_mut().insert("content-type", "application/json".parse().expect("header"));
                        Ok::<_, Infallible>(response)
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
    });
    rx.recv().expect("the target's address")
}

/// (a): `requests` GETs from `concurrency` loops on one shared client; returns requests/s.
async fn plain_client(url: &str, requests: usize, concurrency: usize) -> f64 {
    let client = HttpClient::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, next, url) = (client.clone(), next.clone(), url.to_owned());
        loops.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let response =
                    client.send(Method::GET, &format!("{url}?item={i}"), &[], Bytes::new()).await.expect("a response");
                assert!(response.status.is_success());
                let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
                assert!(body.is_object());
            }
        });
    }
    while let Some(r) = loops.join_next().await {
        r.expect("a request loop");
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

/// Which variant of (b) runs.
#[derive(Clone, Copy)]
struct Variant {
    /// Results go to S3 through a `ResultWriter` (else they are the state output).
    result_writer: bool,
    /// The map-run store keeps each child's execution and history (`legion run` keeps neither).
    keep_children: bool,
}

/// (b): a Distributed Map of `items` HTTP Tasks; returns items/s.
async fn distributed_map(
    url: &str,
    items: usize,
    concurrency: usize,
    s3_root: &std::path::Path,
    variant: Variant,
) -> f64 {
    let Variant { result_writer, keep_children } = variant;
    let bucket = s3_root.join("bench");
    std::fs::create_dir_all(&bucket).expect("bucket");
    let list: Vec<usize> = (0..items).collect();
    std::fs::write(bucket.join("items.json"), serde_json::to_vec(&list).expect("items")).expect("items file");

    // As `legion run --s3-root DIR` builds its engine (server/src/cli.rs).
    let endpoint = LocalS3::start(s3_root, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("S3 endpoint");
    let tokens = TaskTokens::new();
    let router = Router::builder(Config::default().with_env(), tokens.clone()).build().await.expect("router");
    let mut engine = Engine::builder()
        .time_scale(1.0)
        .s3(Arc::new(endpoint.connector()))
        .task_tokens(tokens)
        .dispatcher(Arc::new(router));
    if !keep_children {
        engine = engine.map_run_store(Arc::new(InMemoryMapRunStore::new().keep_child_executions(false)));
    }
    let engine = engine.build();
    let mut definition = json!({
        "StartAt": "FanOut",
        "States": {"FanOut": {
            "Type": "Map",
            "MaxConcurrency": concurrency,
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": "bench", "Key": "items.json"}
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
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
    if !result_writer {
        // Each child's output is then its item: the Map's output must stay within 256 KiB.
        if let Some(map) = definition["States"]["FanOut"].as_object_mut() {
            map.remove("ResultWriter");
        }
        definition["States"]["FanOut"]["ItemProcessor"]["States"]["Call"]["ResultPath"] = serde_json::Value::Null;
    }
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("definition"));
    let started = Instant::now();
    let (execution, outcome) =
        engine.run(StartRequest::new(machine, "bench", json!({}))).await.expect("the execution starts");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(run.item_counts.succeeded as usize, items, "{run:?}");
    items as f64 / seconds
}

fn main() {
    let requests = env_number("LEGION_BENCH_REQUESTS", 100_000);
    let concurrency = env_number("LEGION_BENCH_CONCURRENCY", 1000);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let target = start_target(cpus);
    let url = format!("http://{target}/");
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        eprintln!("load average before: {}", load_average());
        let cpu = cpu_seconds();
        let plain = plain_client(&url, requests, concurrency).await;
        let plain_cpu = (cpu_seconds() - cpu) * 1e6 / requests as f64;
        println!(
            "(a) plain HttpClient, {concurrency} loops: {requests} requests, {plain:.0} requests/s, \
             {plain_cpu:.0} µs CPU per request (client and target)"
        );
        let rss_before = peak_rss_kib();
        let cpu = cpu_seconds();
        let variant = Variant {
            result_writer: env_number("LEGION_BENCH_RESULT_WRITER", 1) != 0,
            keep_children: env_number("LEGION_BENCH_KEEP_CHILDREN", 0) != 0,
        };
        let map = distributed_map(&url, requests, concurrency, dir.path(), variant).await;
        let map_cpu = (cpu_seconds() - cpu) * 1e6 / requests as f64;
        println!(
            "(b) Distributed Map, MaxConcurrency {concurrency}, EXPRESS children: {requests} items, {map:.0} items/s, \
             {map_cpu:.0} µs CPU per item (engine and target)"
        );
        println!(
            "http_dispatch: ratio (b)/(a) = {:.2}; peak RSS {:.1} MiB (after (a): {:.1} MiB); load average after: {}",
            map / plain,
            peak_rss_kib() as f64 / 1024.0,
            rss_before as f64 / 1024.0,
            load_average()
        );
        // The figure the performance goal is set on (at least 0.8), alone on the last line.
        println!("ratio {:.2}", map / plain);
    });
}
