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
    let ticks = std::fs::read_to_string("/proc/self/stat")
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
    json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {"Fan": {
            "Type": "Map", "Items": "{% [1..10000] %}", "MaxConcurrency": 1000,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
            },
            "Output": "{% $count($states.result) %}",
            "End": true
        }}
    })
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
    rss_growth_kib: u64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.report.add(other.report);
        self.seconds += other.seconds;
        self.cpu += other.cpu;
        self.rss_growth_kib += other.rss_growth_kib;
    }

    fn rate(&self) -> f64 {
        self.report.executions as f64 / self.seconds.max(1e-9)
    }
}

/// Runs `clients` clients of one kind against `machine` for `seconds`; `round` keeps execution
/// names unique across rounds.
async fn run_phase(
    client: &HttpClient,
    url: &str,
    machine: &str,
    standard: bool,
    clients: usize,
    seconds: f64,
    round: usize,
) -> Totals {
    let rss_before = status_kib("VmRSS:");
    let cpu_before = cpu_time();
    let began = Instant::now();
    let until = began + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..clients {
        let (client, url, machine) = (client.clone(), url.to_owned(), machine.to_owned());
        if standard {
            tasks.spawn(standard_client(client, url, machine, format!("r{round}-c{id}"), until));
        } else {
            tasks.spawn(express_client(client, url, machine, until));
        }
    }
    let mut totals = Totals::default();
    while let Some(r) = tasks.join_next().await {
        totals.report.add(r.expect("a client"));
    }
    totals.seconds = began.elapsed().as_secs_f64();
    totals.cpu = (cpu_time() - cpu_before).as_secs_f64();
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

fn main() {
    let clients = env_number("LEGION_BENCH_CLIENTS", 64) as usize;
    let seconds = env_number("LEGION_BENCH_SECONDS", 10) as f64;
    let rounds = env_number("LEGION_BENCH_ROUNDS", 4).max(1) as usize;
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
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
                totals.add(run_phase(&client, url, machine, true, clients, seconds / rounds as f64, round).await);
            }
        }
        let memory_rate = standard[0].rate();
        let mut ratios = Vec::new();
        for ((store, ..), totals) in machines.iter().zip(standard) {
            ratios.push(format!("{store} {:.2}", totals.rate() / memory_rate.max(1e-9)));
            print_totals(&format!("Standard (10 Pass states), {store} store"), totals, clients, cpus);
        }
        let totals = run_phase(&client, &memory_url, &express, false, clients, seconds, 0).await;
        print_totals("Express (3 Pass states)", totals, clients, cpus);
        println!("peak RSS {:.1} MiB; load average after: {}", mib(status_kib("VmHWM:")), load_average());
        println!("Standard rate against the memory store's, {rounds} alternating rounds: {}", ratios.join(", "));
    });
}
