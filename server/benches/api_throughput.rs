//! API throughput through `legion serve`: the server (engine, task router and listener built as
//! `legion serve` builds them) on 127.0.0.1, on its own runtime, and `LEGION_BENCH_CLIENTS` clients
//! (default 64) on another, speaking AWS JSON 1.0 over a plain hyper client.
//!
//! - Standard, on the memory store, on a SQLite file (`--store sqlite:PATH`) and (when
//!   `LEGION_BENCH_POSTGRES` names an empty database) on PostgreSQL: each client loops
//!   StartExecution of a 10-state Pass machine, then DescribeExecution until the execution is no
//!   longer RUNNING, for `LEGION_BENCH_SECONDS` (default 10 s) per store, in
//!   `LEGION_BENCH_ROUNDS` (default 4) rounds in which the stores take turns; the last line gives
//!   each store's rate against the memory store's;
//! - Distributed Map, on each store: one execution whose map runs 10,000 STANDARD Pass children;
//! - Express (memory): each client loops StartSyncExecution of a 3-state machine for as long.
//!
//! Prints completed executions/s, the process's CPU per execution (server and clients), the latency
//! of each request kind (p50/p99), the start-to-finish latency of the Standard executions, and the
//! growth of resident memory (the memory store keeps every execution).
//!
//! Then the server's own CPU: the `legion` binary (`legion serve --bind 127.0.0.1:0`, memory store)
//! in a process of its own, the same clients looping StartExecution + DescribeExecution (Standard)
//! and StartSyncExecution (Express) of a one-state Pass machine, and the CPU that process used
//! (user and system, from `/proc/PID/stat`) per execution; beside it, in turn, a floor server (hyper
//! alone, answering `200 {}` to every request) with the same clients, for what a request costs any
//! server built on hyper; then Distributed Maps of 30,000 Pass children of each execution type
//! (twice each), with the server's CPU per child. `LEGION_BENCH_SERVER_ONLY=1` runs only these phases.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::Method;
use legion_connectors::http::HttpClient;
use legion_connectors::{Config, Router};
use legion_engine::{Engine, TaskTokens};
use legion_server::AppState;
use serde_json::{json, Value};
use tokio::net::TcpListener;

// The allocator `legion` uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The CPU time this process has used (user and system, all threads), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    cpu_time_of("self")
}

/// The CPU time process `pid` (or `self`) has used, from `/proc/PID/stat`.
fn cpu_time_of(pid: &str) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // After the command: the state, then ppid…; utime and stime are the 12th and 13th.
            let fields: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // Clock ticks of 10 ms (`getconf CLK_TCK` is 100 on Linux).
    Duration::from_millis(ticks * 10)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `legion serve`'s engine and state (server/src/cli.rs) on a free port and the store `store`
/// names, on its own runtime.
fn start_server(threads: usize, store: String) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let tokens = TaskTokens::new();
            let router = Router::builder(Config::default().with_env(), tokens.clone()).build().await.expect("router");
            let mocks = router.mocks().cloned();
            let stores =
                legion_store::open(&store, legion_engine::Retention::forever()).await.expect("the store opens");
            let mut builder = Engine::builder()
                .account("123456789012", "us-east-1")
                .time_scale(1.0)
                .s3(Arc::new(legion_connectors::s3::LazyAwsS3::new()))
                .store(stores.executions)
                .task_tokens(tokens)
                .dispatcher(Arc::new(router));
            if let Some(map_runs) = stores.map_runs {
                builder = builder.map_run_store(map_runs);
            }
            let engine = builder.build();
            let registry = match stores.documents {
                Some(d) => legion_server::registry::Registry::load(d).await.expect("the registry loads"),
                None => legion_server::registry::Registry::default(),
            };
            let state = AppState::with_registry(engine, mocks, registry);
            let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("listener");
            tx.send(listener.local_addr().expect("address")).expect("send the address");
            legion_server::serve::serve(listener, state, legion_server::DEFAULT_BODY_LIMIT, std::future::pending())
                .await
                .expect("serve");
        });
    });
    rx.recv().expect("the server's address")
}

/// One AWS JSON 1.0 call; returns the response document.
async fn call(client: &HttpClient, url: &str, operation: &str, body: &Value) -> Value {
    let headers = [
        ("Content-Type".to_owned(), "application/x-amz-json-1.0".to_owned()),
        ("X-Amz-Target".to_owned(), format!("AWSStepFunctions.{operation}")),
    ];
    let response = client.send(Method::POST, url, &headers, Bytes::from(body.to_string())).await.expect("a response");
    assert!(
        response.status.is_success(),
        "{operation}: {} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    serde_json::from_slice(&response.body).expect("a JSON response")
}

/// Latencies in microseconds.
#[derive(Default)]
struct Samples(Vec<u32>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros().min(u32::MAX as u128) as u32);
    }

    fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    fn summary(&mut self) -> String {
        self.0.sort_unstable();
        let at = |p: f64| {
            let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
            self.0.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        format!("p50 {:.2} ms, p99 {:.2} ms ({} calls)", at(0.5), at(0.99), self.0.len())
    }
}

#[derive(Default)]
struct ClientReport {
    executions: u64,
    start: Samples,
    describe: Samples,
    end_to_end: Samples,
}

async fn standard_client(client: HttpClient, url: String, machine: String, id: String, until: Instant) -> ClientReport {
    let mut report = ClientReport::default();
    let mut n = 0u64;
    while Instant::now() < until {
        let began = Instant::now();
        let started = call(
            &client,
            &url,
            "StartExecution",
            &json!({"stateMachineArn": machine, "name": format!("c{id}-{n}"), "input": json!({"n": n}).to_string()}),
        )
        .await;
        report.start.push(began.elapsed());
        let arn = started["executionArn"].as_str().expect("an execution ARN").to_owned();
        loop {
            let asked = Instant::now();
            let described = call(&client, &url, "DescribeExecution", &json!({"executionArn": arn})).await;
            report.describe.push(asked.elapsed());
            match described["status"].as_str() {
                Some("RUNNING") => continue,
                Some("SUCCEEDED") => break,
                other => panic!("execution {arn} ended {other:?}"),
            }
        }
        report.end_to_end.push(began.elapsed());
        report.executions += 1;
        n += 1;
    }
    report
}

async fn express_client(client: HttpClient, url: String, machine: String, until: Instant) -> ClientReport {
    let mut report = ClientReport::default();
    let mut n = 0u64;
    while Instant::now() < until {
        let began = Instant::now();
        let done = call(
            &client,
            &url,
            "StartSyncExecution",
            &json!({"stateMachineArn": machine, "input": json!({"n": n}).to_string()}),
        )
        .await;
        report.start.push(began.elapsed());
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
        report.executions += 1;
        n += 1;
    }
    report
}

/// Three Pass states (the Express phase).
fn three_states() -> Value {
    json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"n.$": "$.n", "x.$": "$.a.x"}, "ResultPath": "$.b", "Next": "C"},
            "C": {"Type": "Pass", "OutputPath": "$.b", "End": true}
        }
    })
}

/// Ten Pass states, each adding to the input.
fn ten_states() -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..10 {
        let mut s = json!({"Type": "Pass", "Result": i, "ResultPath": format!("$.s{i}")});
        if i < 9 {
            s["Next"] = json!(format!("S{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

/// A Distributed Map of 10,000 STANDARD Pass children.
fn distributed_map() -> Value {
    distributed_map_of("STANDARD", 10_000)
}

/// A Distributed Map of `children` Pass children of `execution_type`.
fn distributed_map_of(execution_type: &str, children: u32) -> Value {
    json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {"Fan": {
            "Type": "Map", "Items": format!("{{% [1..{children}] %}}"), "MaxConcurrency": 1000,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
            },
            "Output": "{% $count($states.result) %}",
            "End": true
        }}
    })
}

/// One Pass state (the server-process phases).
fn one_state() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})
}

/// A server in a process of its own on a free port of 127.0.0.1, found from the `listening on
/// http://ADDR` line it writes to stderr; killed when dropped.
struct ServeProcess {
    child: std::process::Child,
    url: String,
}

impl ServeProcess {
    /// `legion serve` (the binary this package builds, or `LEGION_BENCH_SERVE_BIN`), memory store.
    fn legion() -> ServeProcess {
        let binary =
            std::env::var("LEGION_BENCH_SERVE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_legion").to_owned());
        let mut command = std::process::Command::new(binary);
        command.args(["serve", "--bind", "127.0.0.1:0", "--store", "memory"]);
        ServeProcess::start(command)
    }

    /// This benchmark again, as [`floor_server`].
    fn floor() -> ServeProcess {
        let mut command = std::process::Command::new(std::env::current_exe().expect("this benchmark's path"));
        command.env("LEGION_BENCH_FLOOR_SERVER", "1");
        ServeProcess::start(command)
    }

    fn start(mut command: std::process::Command) -> ServeProcess {
        use std::io::BufRead;
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let mut lines = std::io::BufReader::new(child.stderr.take().expect("its stderr")).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| Some(format!("{}/", line.split_once("listening on ")?.1.split_whitespace().next()?)))
            .expect("the server names its address");
        // Keep reading what it writes, so that it never waits on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ServeProcess { child, url }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

/// The least any server built on hyper costs per request: hyper's HTTP/1.1 connections set up as
/// `legion serve` sets them up (no delay, keep-alive, a header read timeout) on a runtime of as
/// many workers, each request's body read and answered `200 {}` as AWS JSON 1.0. Runs until killed.
fn floor_server() {
    use http_body_util::BodyExt;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("listener");
        eprintln!("floor server: listening on http://{}", listener.local_addr().expect("address"));
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            let _ = socket.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
                    request.into_body().collect().await?;
                    let response = hyper::Response::builder()
                        .header("content-type", "application/x-amz-json-1.0")
                        .body(http_body_util::Full::new(Bytes::from_static(b"{}")))
                        .expect("a response");
                    Ok::<_, hyper::Error>(response)
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .keep_alive(true);
                let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(socket), service).await;
            });
        }
    });
}

/// Loops one AWS JSON 1.0 request shaped like a StartSyncExecution against the floor server.
async fn floor_client(client: HttpClient, url: String, until: Instant) -> ClientReport {
    let mut report = ClientReport::default();
    let body = json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:floor", "input": "{}"});
    while Instant::now() < until {
        let began = Instant::now();
        call(&client, &url, "StartSyncExecution", &body).await;
        report.start.push(began.elapsed());
        report.executions += 1;
    }
    report
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one execution of `machine` and polls until it has SUCCEEDED; its duration.
async fn run_once(client: &HttpClient, url: &str, machine: &str) -> Duration {
    let began = Instant::now();
    let started = call(client, url, "StartExecution", &json!({"stateMachineArn": machine, "input": "{}"})).await;
    let arn = started["executionArn"].as_str().expect("an execution ARN").to_owned();
    loop {
        let described = call(client, url, "DescribeExecution", &json!({"executionArn": arn})).await;
        match described["status"].as_str() {
            Some("RUNNING") => tokio::time::sleep(Duration::from_millis(5)).await,
            Some("SUCCEEDED") => return began.elapsed(),
            other => panic!("execution {arn} ended {other:?}: {described}"),
        }
    }
}

async fn create(client: &HttpClient, url: &str, name: &str, machine_type: &str, definition: Value) -> String {
    let created = call(
        client,
        url,
        "CreateStateMachine",
        &json!({
            "name": name,
            "definition": definition.to_string(),
            "roleArn": "arn:aws:iam::123456789012:role/bench",
            "type": machine_type,
        }),
    )
    .await;
    created["stateMachineArn"].as_str().expect("a state machine ARN").to_owned()
}

/// What one phase measured: its clients' reports, and the process's time, CPU and memory.
#[derive(Default)]
struct Totals {
    report: ClientReport,
    seconds: f64,
    cpu: f64,
    /// The server process's CPU, when the server runs in a process of its own.
    server_cpu: f64,
    rss_growth_kib: u64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.report.add(other.report);
        self.seconds += other.seconds;
        self.cpu += other.cpu;
        self.server_cpu += other.server_cpu;
        self.rss_growth_kib += other.rss_growth_kib;
    }

    fn rate(&self) -> f64 {
        self.report.executions as f64 / self.seconds.max(1e-9)
    }
}

/// What each client loops.
#[derive(Clone, Copy)]
enum Loop {
    /// StartExecution, then DescribeExecution until the execution has ended.
    Standard,
    /// StartSyncExecution.
    Express,
    /// A request shaped like StartSyncExecution, to [`floor_server`].
    Floor,
}

/// Runs `clients` clients of one kind against `machine` for `seconds`; `round` keeps execution
/// names unique across rounds. `server` is the server's process id when it runs in a process of its
/// own.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    client: &HttpClient,
    url: &str,
    machine: &str,
    kind: Loop,
    clients: usize,
    seconds: f64,
    round: usize,
    server: Option<&str>,
) -> Totals {
    let rss_before = status_kib("VmRSS:");
    let cpu_before = cpu_time();
    let server_before = server.map(cpu_time_of);
    let began = Instant::now();
    let until = began + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..clients {
        let (client, url, machine) = (client.clone(), url.to_owned(), machine.to_owned());
        match kind {
            Loop::Standard => tasks.spawn(standard_client(client, url, machine, format!("r{round}-c{id}"), until)),
            Loop::Express => tasks.spawn(express_client(client, url, machine, until)),
            Loop::Floor => tasks.spawn(floor_client(client, url, until)),
        };
    }
    let mut totals = Totals::default();
    while let Some(r) = tasks.join_next().await {
        totals.report.add(r.expect("a client"));
    }
    totals.seconds = began.elapsed().as_secs_f64();
    totals.cpu = (cpu_time() - cpu_before).as_secs_f64();
    if let (Some(pid), Some(before)) = (server, server_before) {
        totals.server_cpu = (cpu_time_of(pid) - before).as_secs_f64();
    }
    totals.rss_growth_kib = status_kib("VmRSS:").saturating_sub(rss_before);
    totals
}

impl ClientReport {
    fn add(&mut self, other: ClientReport) {
        self.executions += other.executions;
        self.start.extend(other.start);
        self.describe.extend(other.describe);
        self.end_to_end.extend(other.end_to_end);
    }
}

fn print_totals(kind: &str, mut t: Totals, clients: usize, cpus: usize) {
    let executions = t.report.executions.max(1) as f64;
    println!(
        "api_throughput {kind}: {} executions in {:.1} s = {:.0} executions/s with {clients} clients",
        t.report.executions,
        t.seconds,
        t.rate()
    );
    println!(
        "  CPU (server and clients): {:.2} of {cpus} cores, {:.0} µs per execution",
        t.cpu / t.seconds.max(1e-9),
        t.cpu * 1e6 / executions
    );
    if t.report.describe.0.is_empty() {
        println!("  StartSyncExecution: {}", t.report.start.summary());
    } else {
        println!("  StartExecution: {}", t.report.start.summary());
        let per = t.report.describe.0.len() as f64 / executions;
        println!("  DescribeExecution: {} ({per:.2} per execution)", t.report.describe.summary());
        println!("  start to SUCCEEDED seen: {}", t.report.end_to_end.summary());
    }
    println!(
        "  RSS growth {:.1} MiB ({:.2} KiB per execution kept)",
        mib(t.rss_growth_kib),
        t.rss_growth_kib as f64 / executions
    );
}

/// The children of the server-process phases' Distributed Maps: as many as keep their results under
/// the 256 KiB of a state's output (CPU time is counted in 10 ms ticks).
const FAN_CHILDREN: u32 = 30_000;

/// The server's own CPU per execution: `legion serve` in a process of its own, Standard and Express
/// phases of a one-state Pass machine and the floor server's phase taking turns for `rounds` rounds;
/// then Distributed Maps of 30,000 Pass children of each execution type, twice each in turn.
async fn server_process(client: &HttpClient, clients: usize, seconds: f64, rounds: usize, cpus: usize) {
    let (legion, floor) = (ServeProcess::legion(), ServeProcess::floor());
    let (url, pid) = (legion.url.clone(), legion.pid());
    let standard = create(client, &url, "one-standard", "STANDARD", one_state()).await;
    let express = create(client, &url, "one-express", "EXPRESS", one_state()).await;
    let (mut s, mut e, mut f) = (Totals::default(), Totals::default(), Totals::default());
    let share = seconds / rounds as f64;
    for round in 0..rounds {
        let r = round + 100;
        s.add(run_phase(client, &url, &standard, Loop::Standard, clients, share, r, Some(&pid)).await);
        e.add(run_phase(client, &url, &express, Loop::Express, clients, share, r, Some(&pid)).await);
        f.add(run_phase(client, &floor.url, "", Loop::Floor, clients, share, r, Some(&floor.pid())).await);
    }
    for (kind, t) in [
        ("legion serve, Standard (StartExecution + DescribeExecution), 1 Pass state", s),
        ("legion serve, Express (StartSyncExecution), 1 Pass state", e),
        ("floor server (hyper, `200 {}` to each request)", f),
    ] {
        let executions = t.report.executions.max(1) as f64;
        println!(
            "api_throughput server process, {kind}: {:.0}/s; server CPU {:.1} µs each ({:.2} of {cpus} \
             cores), clients' process {:.1} µs",
            t.rate(),
            t.server_cpu * 1e6 / executions,
            t.server_cpu / t.seconds.max(1e-9),
            t.cpu * 1e6 / executions,
        );
    }
    let mut fans = Vec::new();
    for execution_type in ["STANDARD", "EXPRESS"] {
        let name = format!("fan-{}", execution_type.to_lowercase());
        let definition = distributed_map_of(execution_type, FAN_CHILDREN);
        fans.push((execution_type, create(client, &url, &name, "STANDARD", definition).await));
    }
    // Twice each, in turn: the first run also grows the server's heap.
    for (execution_type, fan) in fans.iter().chain(&fans) {
        let before = cpu_time_of(&pid);
        let took = run_once(client, &url, fan).await;
        let cpu = (cpu_time_of(&pid) - before).as_secs_f64();
        println!(
            "api_throughput server process, Distributed Map of {FAN_CHILDREN} {execution_type} Pass children: \
             {:.2} s; server CPU {:.1} µs per child",
            took.as_secs_f64(),
            cpu * 1e6 / f64::from(FAN_CHILDREN)
        );
    }
}

fn main() {
    if std::env::var("LEGION_BENCH_FLOOR_SERVER").is_ok_and(|v| v == "1") {
        return floor_server();
    }
    let clients = env_number("LEGION_BENCH_CLIENTS", 64) as usize;
    let seconds = env_number("LEGION_BENCH_SECONDS", 10) as f64;
    let rounds = env_number("LEGION_BENCH_ROUNDS", 4).max(1) as usize;
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    if std::env::var("LEGION_BENCH_SERVER_ONLY").is_ok_and(|v| v == "1") {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(cpus).enable_all().build().expect("runtime");
        runtime.block_on(server_process(&HttpClient::new(), clients, seconds, rounds, cpus));
        return;
    }
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let sqlite = format!("sqlite:{}", scratch.path().join("bench.db").display());
    let memory_url = format!("http://{}/", start_server(cpus, "memory".to_owned()));
    let sqlite_url = format!("http://{}/", start_server(cpus, sqlite));
    let mut stores = vec![("memory", memory_url.clone()), ("sqlite", sqlite_url)];
    // A PostgreSQL database (an empty one: the bench creates its tables) when one is named.
    if let Ok(postgres) = std::env::var("LEGION_BENCH_POSTGRES") {
        stores.push(("postgres", format!("http://{}/", start_server(cpus, postgres))));
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(cpus).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let client = HttpClient::new();
        let mut machines = Vec::new();
        for (store, url) in &stores {
            let standard = create(&client, url, "bench-standard", "STANDARD", ten_states()).await;
            let fan = create(&client, url, "bench-fan", "STANDARD", distributed_map()).await;
            machines.push((*store, url.clone(), standard, fan));
        }
        let express = create(&client, &memory_url, "bench-express", "EXPRESS", three_states()).await;
        eprintln!("load average before: {}", load_average());

        for (store, url, _, fan) in &machines {
            let took = run_once(&client, url, fan).await;
            println!(
                "api_throughput Distributed Map, {store} store: 10,000 STANDARD Pass children in {:.2} s = {:.0} children/s",
                took.as_secs_f64(),
                10_000.0 / took.as_secs_f64()
            );
        }
        // The stores take turns, round after round, so that a change in the machine's load (other
        // work on shared cores) weighs on each of them alike.
        let mut standard: Vec<Totals> = machines.iter().map(|_| Totals::default()).collect();
        for round in 0..rounds {
            for ((_, url, machine, _), totals) in machines.iter().zip(&mut standard) {
                totals.add(run_phase(&client, url, machine, Loop::Standard, clients, seconds / rounds as f64, round, None).await);
            }
        }
        let memory_rate = standard[0].rate();
        let mut ratios = Vec::new();
        for ((store, ..), totals) in machines.iter().zip(standard) {
            ratios.push(format!("{store} {:.2}", totals.rate() / memory_rate.max(1e-9)));
            print_totals(&format!("Standard (10 Pass states), {store} store"), totals, clients, cpus);
        }
        let totals = run_phase(&client, &memory_url, &express, Loop::Express, clients, seconds, 0, None).await;
        print_totals("Express (3 Pass states)", totals, clients, cpus);
        server_process(&client, clients, seconds, rounds, cpus).await;
        println!("peak RSS {:.1} MiB; load average after: {}", mib(status_kib("VmHWM:")), load_average());
        println!("Standard rate against the memory store's, {rounds} alternating rounds: {}", ratios.join(", "));
    });
}
