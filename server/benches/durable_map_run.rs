//! A STANDARD Distributed Map of `LEGION_BENCH_ITEMS` unbatched items (default 1,000,000) with a Pass
//! child, read from a CSV object on the embedded S3 endpoint and written with a ResultWriter, as
//! `legion serve` runs it: children kept (with their histories) in the map-run store. Each store runs
//! in a process of its own (this binary again), so that each peak RSS is its own:
//!
//! - `memory`: the engine's in-memory stores (`LEGION_BENCH_MEMORY_ITEMS`, default 100,000, since
//!   every kept child stays in memory);
//! - `sqlite`: executions, map runs and ended children in a SQLite file, only running ones in memory.
//!
//! `LEGION_BENCH_EXECUTION_TYPE=EXPRESS` runs EXPRESS children instead (kept by the map-run store
//! all the same, as `legion serve` keeps them).
//!
//! Prints items/s, the process's CPU time per child (the embedded S3 endpoint's reading and writing
//! included) and the peak RSS (VmHWM) of each.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::LocalS3;
use legion_engine::map_run::InMemoryMapRunStore;
use legion_engine::{Engine, ExecutionStatus, Retention, StartRequest};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
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

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    match std::env::var("LEGION_BENCH_ONE").ok().as_deref() {
        Some(store) => run_one(store, env_number("LEGION_BENCH_N", 0)),
        None => {
            let items = env_number("LEGION_BENCH_ITEMS", 1_000_000);
            let memory_items = env_number("LEGION_BENCH_MEMORY_ITEMS", 100_000);
            let mut runs = vec![("memory", memory_items), ("sqlite", memory_items.min(items))];
            if items > memory_items {
                runs.push(("sqlite", items));
            }
            for (store, n) in runs {
                let status = std::process::Command::new(std::env::current_exe().expect("this binary"))
                    .env("LEGION_BENCH_ONE", store)
                    .env("LEGION_BENCH_N", n.to_string())
                    .status()
                    .expect("the bench runs");
                assert!(status.success(), "the {store} run failed");
            }
        }
    }
}

fn run_one(store: &str, items: usize) {
    let execution_type = match std::env::var("LEGION_BENCH_EXECUTION_TYPE").ok().as_deref() {
        Some("EXPRESS") => "EXPRESS",
        _ => "STANDARD",
    };
    let dir = tempfile::tempdir().expect("a scratch folder");
    let bucket = dir.path().join("s3").join("bench");
    std::fs::create_dir_all(&bucket).expect("a bucket");
    let mut csv = String::from("id,name\n");
    for i in 0..items {
        csv.push_str(&format!("{i},item-{i}\n"));
    }
    std::fs::write(bucket.join("items.csv"), csv).expect("the item list");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let endpoint = LocalS3::start(&dir.path().join("s3"), SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the S3 endpoint starts");
        let url = match store {
            "sqlite" => format!("sqlite:{}", dir.path().join("legion.db").display()),
            _ => "memory".to_owned(),
        };
        let stores = legion_store::open(&url, Retention::forever()).await.expect("the store opens");
        let map_runs = stores.map_runs.unwrap_or_else(|| Arc::new(InMemoryMapRunStore::new()));
        let engine = Engine::builder()
            .time_scale(0.0)
            .s3(Arc::new(endpoint.connector()))
            .store(stores.executions)
            .map_run_store(map_runs)
            .build();
        let definition = json!({
            "StartAt": "Fan",
            "States": {"Fan": {
                "Type": "Map",
                "MaxConcurrency": 1000,
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": "bench", "Key": "items.csv"}
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": "Echo",
                    "States": {"Echo": {"Type": "Pass", "End": true}}
                },
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "bench", "Prefix": "out"}},
                "End": true
            }}
        });
        let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("a definition"));
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let (execution, outcome) =
            engine.run(StartRequest::new(machine, "bench", json!({}))).await.expect("the execution starts");
        let seconds = started.elapsed().as_secs_f64();
        let cpu_per_child = (cpu_seconds() - cpu) * 1e6 / items as f64;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
        let runs = engine.list_map_runs(execution.arn()).await.expect("the map-run store answers");
        assert_eq!(runs[0].item_counts.succeeded as usize, items);
        println!(
            "durable_map_run {store:>6}: {items} {execution_type} children in {seconds:.1} s = {:.0} children/s, \
             {cpu_per_child:.1} µs CPU per child, peak RSS {:.1} MiB",
            items as f64 / seconds,
            peak_rss_mib()
        );
    });
}
