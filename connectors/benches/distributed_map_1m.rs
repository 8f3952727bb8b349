//! Distributed Map at scale: lists `LEGION_BENCH_OBJECTS` objects (default 1,000,000) from the
//! embedded S3 endpoint and runs them in batches of 1000 through a Pass child; reports items/s and
//! the process's peak RSS (the endpoint runs in the same process, as with `legion run --s3-root`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::LocalS3;
use legion_engine::map_run::InMemoryMapRunStore;
use legion_engine::{Engine, ExecutionStatus, StartRequest};
use serde_json::json;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let objects: usize = std::env::var("LEGION_BENCH_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let created = Instant::now();
    // 1000 objects per folder: items/000/000000 … items/999/999999.
    for i in 0..objects {
        let folder = dir.path().join("bench").join("items").join(format!("{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&folder).expect("folder");
        }
        std::fs::write(folder.join(format!("{i:06}")), b"x").expect("object");
    }
    eprintln!("created {objects} objects in {:.1} s", created.elapsed().as_secs_f64());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let endpoint = LocalS3::start(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("endpoint");
        let engine = Engine::builder()
            .time_scale(0.0)
            .s3(Arc::new(endpoint.connector()))
            .map_run_store(Arc::new(InMemoryMapRunStore::new().keep_child_executions(false)))
            .build();
        let definition = json!({
            "StartAt": "Map",
            "States": {"Map": {
                "Type": "Map",
                "MaxConcurrency": 16,
                "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "bench", "Prefix": "items/"}},
                "ItemBatcher": {"MaxItemsPerBatch": 1000},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Count",
                    "States": {"Count": {"Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.Items)"}, "End": true}}
                },
                "ResultSelector": {"batches.$": "States.ArrayLength($)"},
                "End": true
            }}
        });
        let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("definition"));
        let started = Instant::now();
        let (execution, outcome) = engine.run(StartRequest::new(machine, "bench", json!({}))).await.expect("the execution starts");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
        let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
        assert_eq!(run.item_counts.succeeded as usize, objects);
        println!(
            "distributed_map_1m: {objects} items in {seconds:.1} s = {:.0} items/s, {} child executions, peak RSS {:.1} MiB",
            objects as f64 / seconds,
            run.execution_counts.succeeded,
            peak_rss_kib() as f64 / 1024.0
        );
    });
}
