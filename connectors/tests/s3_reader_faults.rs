//! Distributed Map item readers meeting a faulty S3: a fault-injecting proxy in front of the embedded
//! S3 endpoint fails listing pages (HTTP 500, dropped connections) and cuts GetObject bodies short.
//! Every item is read exactly once, or the map run fails with `States.ItemReaderFailed` and a cause
//! that says what happened; an item is never lost silently or read twice.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::{AwsS3, LocalS3, ACCESS_KEY, RESUMES, SECRET_KEY};
use legion_engine::{Engine, ExecutionStatus, Outcome, StartRequest};
use legion_testkit::faults::{Fault, FaultProxy, Plan, Seen};
use serde_json::{json, Value};

const OBJECTS: usize = 2_500;
const ROWS: usize = 10_000;

/// The endpoint with `bucket/k0000`… (2,500 objects, three listing pages) and `bucket/rows.csv`
/// (10,000 rows), and a proxy in front of it following `plan`.
async fn faulty_s3(plan: Plan) -> (LocalS3, tempfile::TempDir, FaultProxy, AwsS3) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bucket = dir.path().join("bucket");
    std::fs::create_dir_all(bucket.join("k")).expect("bucket");
    for i in 0..OBJECTS {
        std::fs::write(bucket.join(format!("k/{i:04}")), i.to_string()).expect("object");
    }
    let mut csv = String::from("id,name\n");
    for i in 0..ROWS {
        csv.push_str(&format!("{i},row number {i} with some padding to make the object larger\n"));
    }
    std::fs::write(bucket.join("rows.csv"), csv).expect("csv");
    let local = LocalS3::start(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("endpoint");
    let proxy = FaultProxy::start(&local.endpoint_url(), plan).await.expect("proxy");
    let s3 = AwsS3::for_endpoint(&proxy.url(), "us-east-1", ACCESS_KEY, SECRET_KEY);
    (local, dir, proxy, s3)
}

fn is_next_page(seen: &Seen) -> bool {
    seen.path.contains("list-type=2") && seen.path.contains("continuation-token")
}

fn is_csv(seen: &Seen) -> bool {
    seen.method == hyper::Method::GET && seen.path.starts_with("/bucket/rows.csv")
}

/// Runs a map over `reader`'s items; each child answers `{"k": field}` of its item.
async fn run(s3: &AwsS3, reader: Value, field: &str) -> (Engine, legion_engine::Execution, Outcome) {
    let definition = json!({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "MaxConcurrency": 50, "ItemReader": reader,
        "ItemSelector": {"k.$": format!("$$.Map.Item.Value.{field}")},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"));
    let engine = Engine::builder().time_scale(0.0).s3(Arc::new(s3.clone())).build();
    let (execution, outcome) =
        engine.run(StartRequest::new(machine, "reader", json!({}))).await.expect("the execution starts");
    (engine, execution, outcome)
}

fn listing() -> Value {
    json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "bucket", "Prefix": "k/"}})
}

fn csv() -> Value {
    json!({"Resource": "arn:aws:states:::s3:getObject",
           "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
           "Parameters": {"Bucket": "bucket", "Key": "rows.csv"}})
}

/// The items the children ran, with how often each ran.
fn counted(output: &Value) -> (usize, BTreeSet<String>) {
    let items = output.as_array().expect("an array of results");
    let distinct: BTreeSet<String> = items.iter().map(|v| v["k"].as_str().expect("a string").to_owned()).collect();
    (items.len(), distinct)
}

/// How many children a failed map run started.
async fn started(engine: &Engine, execution: &legion_engine::Execution) -> u64 {
    engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0].item_counts.total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_that_fail_are_retried_and_no_item_is_lost_or_repeated() {
    // The second and third pages fail twice each (a 500, then a dropped connection) before they are
    // served.
    let plan: Plan = Arc::new(|seen: &Seen| match (is_next_page(seen), seen.attempt) {
        (true, 0) => Fault::Status(500),
        (true, 1) => Fault::Drop,
        _ => Fault::Pass,
    });
    let (_local, _dir, proxy, s3) = faulty_s3(plan).await;
    let (_, _, outcome) = run(&s3, listing(), "Key").await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let (runs, keys) = counted(&outcome.output.expect("output"));
    assert_eq!(runs, OBJECTS, "each object ran once");
    assert_eq!(keys, (0..OBJECTS).map(|i| format!("k/{i:04}")).collect::<BTreeSet<_>>());
    assert_eq!((proxy.injected("status-500"), proxy.injected("drop")), (2, 2), "{:?}", proxy.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_page_that_keeps_failing_ends_in_item_reader_failed() {
    let plan: Plan = Arc::new(|seen: &Seen| if is_next_page(seen) { Fault::Status(500) } else { Fault::Pass });
    let (_local, _dir, proxy, s3) = faulty_s3(plan).await;
    let (engine, execution, outcome) = run(&s3, listing(), "Key").await;
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    let cause = outcome.cause.unwrap_or_default();
    assert!(cause.contains("Status Code: 500") && cause.contains("injected fault"), "{cause}");
    // Only the first page's items ran; none twice.
    assert_eq!(started(&engine, &execution).await, 1000);
    assert!(proxy.injected("status-500") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_body_cut_short_is_resumed_where_it_stopped() {
    // The first two reads of the object are cut off halfway; the third is whole.
    let plan: Plan =
        Arc::new(|seen: &Seen| if is_csv(seen) && seen.attempt < 2 { Fault::Truncate } else { Fault::Pass });
    let (_local, _dir, proxy, s3) = faulty_s3(plan).await;
    let (_, _, outcome) = run(&s3, csv(), "id").await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let (runs, ids) = counted(&outcome.output.expect("output"));
    assert_eq!(runs, ROWS, "each row ran once");
    assert_eq!(ids, (0..ROWS).map(|i| i.to_string()).collect::<BTreeSet<_>>());
    assert_eq!(proxy.injected("truncate"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_body_that_keeps_breaking_ends_in_item_reader_failed() {
    let plan: Plan = Arc::new(|seen: &Seen| if is_csv(seen) { Fault::Truncate } else { Fault::Pass });
    let (_local, _dir, proxy, s3) = faulty_s3(plan).await;
    let (engine, execution, outcome) = run(&s3, csv(), "id").await;
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    let cause = outcome.cause.unwrap_or_default();
    assert!(cause.contains("s3://bucket/rows.csv broke off after") && cause.contains("times resumed"), "{cause}");
    assert_eq!(proxy.injected("truncate"), u64::from(RESUMES) + 1);
    // Fewer items than the object holds were counted: the run did not go on as if it had all.
    let total = started(&engine, &execution).await;
    println!("reader faults: {total} of {ROWS} rows counted before the read failed");
    assert!(total < ROWS as u64, "{total}");
}
