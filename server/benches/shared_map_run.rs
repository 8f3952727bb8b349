//! One against two engines on one PostgreSQL database (`LEGION_BENCH_POSTGRES`, an admin URL such as
//! `.ci/postgres.sh` starts): a STANDARD Distributed Map of `LEGION_BENCH_ITEMS` children (default
//! 10,000) offered through the store's child queue, which every engine claims from. Each engine is a
//! process of its own (this binary again); the first runs the map run, the second only claims.
//!
//! - `wait`: each child waits 100 ms (a 1 s Wait at time scale 0.1), and each engine runs at most
//!   `children=500` at once: the setting that bounds what one instance takes on;
//! - `pass`: each child is one Pass state, with the default capacity (the engine that runs the map
//!   run has room for all, so it offers none), then with `children=100` (most children go through the
//!   queue): CPU-bound, so a second instance adds throughput only where it adds cores.
//!
//! Prints children/s for one and for two engines.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::{Engine, ExecutionStatus, Retention, StartRequest};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if let Ok(url) = std::env::var("LEGION_BENCH_CLAIMER") {
        return claim_forever(&url);
    }
    let Ok(admin) = std::env::var("LEGION_BENCH_POSTGRES") else {
        println!("shared_map_run: SKIPPED (set LEGION_BENCH_POSTGRES to a PostgreSQL admin URL)");
        return;
    };
    // The testkit makes the databases, from the same variable the tests use.
    std::env::set_var("LEGION_TEST_POSTGRES", &admin);
    let items = env_number("LEGION_BENCH_ITEMS", 10_000);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for (workload, options) in [("wait", "children=500"), ("pass", ""), ("pass", "children=100")] {
        for engines in [1, 2] {
            let url = runtime.block_on(legion_testkit::postgres::fresh_database()).expect("a database");
            let url = if options.is_empty() { url } else { format!("{url}?{options}") };
            let helper = (engines == 2).then(|| start_claimer(&url));
            let rate = runtime.block_on(run_map(&url, workload, items));
            if let Some(mut helper) = helper {
                let _ = helper.kill();
                let _ = helper.wait();
            }
            let capacity = if options.is_empty() { "children=10000" } else { options };
            println!(
                "shared_map_run {workload} ({capacity}): {engines} engine(s), {items} children: {rate:.0} children/s"
            );
        }
    }
}

/// Another engine that claims children until it is killed.
fn start_claimer(url: &str) -> Child {
    let child = Command::new(std::env::current_exe().expect("this binary"))
        .env("LEGION_BENCH_CLAIMER", url)
        .stdin(Stdio::null())
        .spawn()
        .expect("the second engine starts");
    // Let it connect before the map run starts.
    std::thread::sleep(Duration::from_millis(500));
    child
}

fn claim_forever(url: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let engine = engine(url, 0.1).await;
        engine.recover().await.expect("recovers");
        std::future::pending::<()>().await;
    });
}

async fn engine(url: &str, time_scale: f64) -> Engine {
    let stores = legion_store::open(url, Retention::forever()).await.expect("the store opens");
    Engine::builder()
        .time_scale(time_scale)
        .store(stores.executions)
        .map_run_store(stores.map_runs.expect("a map-run store"))
        .child_queue(stores.children.expect("a child queue"))
        .build()
}

async fn run_map(url: &str, workload: &str, items: usize) -> f64 {
    let engine = engine(url, 0.1).await;
    engine.recover().await.expect("recovers");
    let states = match workload {
        "wait" => json!({"Nap": {"Type": "Wait", "Seconds": 1, "Next": "Echo"}, "Echo": {"Type": "Pass", "End": true}}),
        _ => json!({"Echo": {"Type": "Pass", "End": true}}),
    };
    let start_at = if workload == "wait" { "Nap" } else { "Echo" };
    let definition = json!({
        "StartAt": "Fan",
        "States": {"Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": start_at,
                "States": states
            },
            "ResultSelector": {"count.$": "States.ArrayLength($)"},
            "End": true
        }}
    });
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("a definition"));
    let input = json!({"items": (0..items).collect::<Vec<_>>()});
    let started = Instant::now();
    let (_, outcome) = engine.run(StartRequest::new(machine, "bench", input)).await.expect("the execution starts");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"count": items})));
    items as f64 / seconds
}
