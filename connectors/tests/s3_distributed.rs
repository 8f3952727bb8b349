//! Distributed Map against real S3-compatible servers: an external one (its own process, such as
//! `moto_server`, named by `LEGION_TEST_S3_ENDPOINT`) and Legion's embedded endpoint.
//!
//! Without `LEGION_TEST_S3_ENDPOINT` the external-server tests print why and skip, except under CI,
//! where the server must be there.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::{AwsS3, LocalS3};
use legion_engine::map_run::MapRunStatus;
use legion_engine::{Engine, ExecutionStatus, Outcome, StartRequest};
use serde_json::{json, Value};

/// The external server, or `None` (after saying why) when there is none outside CI.
fn external() -> Option<AwsS3> {
    match std::env::var("LEGION_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(AwsS3::for_endpoint(&url, "us-east-1", "test", "test")),
        _ if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") => {
            panic!("LEGION_TEST_S3_ENDPOINT must name an S3-compatible server under CI (.ci/run starts moto_server)")
        }
        _ => {
            eprintln!(
                "SKIPPED: no external S3 server; set LEGION_TEST_S3_ENDPOINT=http://127.0.0.1:PORT (e.g. `moto_server -p PORT`)"
            );
            None
        }
    }
}

async fn local() -> (LocalS3, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = LocalS3::start(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("embedded endpoint");
    (server, dir)
}

async fn bucket(s3: &AwsS3, name: &str) {
    let c = s3.client();
    if c.head_bucket().bucket(name).send().await.is_err() {
        c.create_bucket().bucket(name).send().await.expect("create bucket");
    }
}

async fn put_many(s3: &AwsS3, bucket: &str, objects: Vec<(String, String)>) {
    let c = s3.client().clone();
    let bucket = bucket.to_owned();
    stream::iter(objects)
        .for_each_concurrent(32, |(key, body)| {
            let (c, bucket) = (c.clone(), bucket.clone());
            async move {
                c.put_object().bucket(bucket).key(key).body(body.into_bytes().into()).send().await.expect("put");
            }
        })
        .await;
}

async fn get(s3: &AwsS3, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.client().get_object().bucket(bucket).key(key).send().await.expect("get");
    out.body.collect().await.expect("body").into_bytes().to_vec()
}

async fn run(engine: &Engine, definition: Value, input: Value) -> (legion_engine::Execution, Outcome) {
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"));
    engine.run(StartRequest::new(machine, "sm", input)).await.expect("the execution starts")
}

fn engine(s3: &AwsS3) -> Engine {
    Engine::builder().time_scale(0.0).s3(Arc::new(s3.clone())).build()
}

/// 8088 objects under a prefix, listed and run in batches of 100 by children that count their items.
async fn eight_thousand_objects_in_batches(s3: &AwsS3, bucket_name: &str) {
    bucket(s3, bucket_name).await;
    let keys: Vec<String> = (0..8088).map(|i| format!("in/{i:05}")).collect();
    put_many(s3, bucket_name, keys.iter().map(|k| (k.clone(), "x".to_owned())).collect()).await;
    // A decoy outside the prefix.
    put_many(s3, bucket_name, vec![("other/1".to_owned(), "x".to_owned())]).await;
    let definition = json!({
        "StartAt": "Map",
        "States": {"Map": {
            "Type": "Map",
            "MaxConcurrency": 1000,
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket.$": "$.bucket", "Prefix": "in/"}},
            "ItemBatcher": {"MaxItemsPerBatch": 100},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Count",
                "States": {"Count": {"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.Items)", "keys.$": "$.Items[*].Key"}, "End": true}}
            },
            "End": true
        }}
    });
    let engine = engine(s3);
    let (execution, outcome) = run(&engine, definition, json!({"bucket": bucket_name})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let output = outcome.output.expect("output");
    let children = output.as_array().expect("array");
    assert_eq!(children.len(), 81);
    let counts: Vec<u64> = children.iter().map(|c| c["count"].as_u64().expect("count")).collect();
    assert_eq!(counts.iter().filter(|c| **c == 100).count(), 80);
    assert_eq!(counts.iter().filter(|c| **c == 88).count(), 1);
    let mut seen: Vec<String> = children
        .iter()
        .flat_map(|c| c["keys"].as_array().expect("keys").iter().map(|k| k.as_str().expect("key").to_owned()))
        .collect();
    seen.sort();
    assert_eq!(seen, keys, "every key exactly once");
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    assert_eq!(run.status, MapRunStatus::Succeeded);
    assert_eq!((run.item_counts.total, run.item_counts.succeeded), (8088, 8088));
    assert_eq!((run.execution_counts.total, run.execution_counts.succeeded), (81, 81));
    assert_eq!(engine.list_map_run_executions(&run.map_run_arn).await.expect("the map-run store answers").len(), 81);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_server_8088_objects_in_batches_of_100() {
    let Some(s3) = external() else { return };
    eight_thousand_objects_in_batches(&s3, "legion-it-8088").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_endpoint_8088_objects_in_batches_of_100() {
    let (server, _dir) = local().await;
    eight_thousand_objects_in_batches(&server.connector(), "bucket-8088").await;
}

fn reader_map(reader: Value, selector: Option<Value>) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemReader": reader,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}
        },
        "End": true
    });
    if let Some(s) = selector {
        map["ItemSelector"] = s;
    }
    json!({"StartAt": "Map", "States": {"Map": map}})
}

async fn readers(s3: &AwsS3, b: &str) {
    bucket(s3, b).await;
    put_many(
        s3,
        b,
        vec![
            ("data.csv".into(), "a;b\n1;\"x;y\"\n2\n".into()),
            ("data.jsonl".into(), "{\"n\":1}\n\n{\"n\":2}\n".into()),
            ("nested.json".into(), "{\"rows\":[{\"n\":1},{\"n\":2},{\"n\":3}]}".into()),
            ("deep.json".into(), "{\"meta\":{\"v\":1},\"data\":{\"items\":[[1,2],[3]]}}".into()),
            ("bad.json".into(), "7".into()),
            ("inv/data.csv".into(), "\"src\",\"k1\",\"3\",\"2024-01-01T00:00:00.000Z\"\n\"src\",\"k2\",\"5\",\"2024-01-02T00:00:00.000Z\"\n".into()),
            (
                "inv/manifest.json".into(),
                json!({"sourceBucket": "src", "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate", "files": [{"key": "inv/data.csv", "size": 1}]}).to_string(),
            ),
        ],
    )
    .await;
    let engine = engine(s3);
    let get_object = |key: &str, config: Value| json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config, "Parameters": {"Bucket": b, "Key": key}});
    let cases = [
        (
            get_object(
                "data.csv",
                json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "SEMICOLON"}),
            ),
            json!([{"a": "1", "b": "x;y"}, {"a": "2", "b": ""}]),
        ),
        (get_object("data.jsonl", json!({"InputType": "JSONL"})), json!([{"n": 1}, {"n": 2}])),
        (
            get_object("nested.json", json!({"InputType": "JSON", "ItemsPointer": "/rows", "MaxItems": 2})),
            json!([{"n": 1}, {"n": 2}]),
        ),
        (get_object("deep.json", json!({"InputType": "JSON", "ItemsPointer": "/data/items"})), json!([[1, 2], [3]])),
        (get_object("deep.json", json!({"InputType": "JSON", "ItemsPointer": "/data/items/0"})), json!([1, 2])),
        (
            get_object("inv/manifest.json", json!({"InputType": "MANIFEST"})),
            json!([
                {"Bucket": "src", "Key": "k1", "Size": "3", "LastModifiedDate": "2024-01-01T00:00:00.000Z"},
                {"Bucket": "src", "Key": "k2", "Size": "5", "LastModifiedDate": "2024-01-02T00:00:00.000Z"}
            ]),
        ),
    ];
    for (reader, expected) in cases {
        let (_, outcome) = run(&engine, reader_map(reader.clone(), None), json!({})).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{reader}: {outcome:?}");
        assert_eq!(outcome.output, Some(expected), "{reader}");
    }
    // A listing: AWS's item shape, here reduced by an ItemSelector that uses the item value.
    let listing =
        json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": b, "Prefix": "data."}});
    let (_, outcome) = run(&engine, reader_map(listing.clone(), None), json!({})).await;
    let items = outcome.output.expect("output");
    assert_eq!(items[0]["Key"], "data.csv");
    assert_eq!(items[0]["Size"], 14);
    assert_eq!(items[0]["StorageClass"], "STANDARD");
    assert!(items[0]["Etag"].as_str().is_some_and(|e| e.starts_with('"')), "{items}");
    assert!(items[0]["LastModified"].is_number(), "{items}");
    let selector = json!({"k.$": "$$.Map.Item.Value.Key", "i.$": "$$.Map.Item.Index"});
    let (_, outcome) = run(&engine, reader_map(listing, Some(selector)), json!({})).await;
    assert_eq!(outcome.output, Some(json!([{"k": "data.csv", "i": 0}, {"k": "data.jsonl", "i": 1}])));
    // Reader failures.
    for (reader, cause) in [
        (get_object("bad.json", json!({"InputType": "JSON"})), "Attempting to map over non-iterable node."),
        // A document holding an object needs ItemsPointer to name the array inside it.
        (get_object("nested.json", json!({"InputType": "JSON"})), "Attempting to map over non-iterable node."),
        (
            get_object("deep.json", json!({"InputType": "JSON", "ItemsPointer": "/meta"})),
            "Attempting to map over non-iterable node.",
        ),
        (
            get_object("deep.json", json!({"InputType": "JSON", "ItemsPointer": "/data/rows"})),
            "The ItemsPointer '/data/rows' does not point to a node.",
        ),
        (get_object("missing.json", json!({"InputType": "JSON"})), ""),
    ] {
        let (_, outcome) = run(&engine, reader_map(reader, None), json!({})).await;
        assert_eq!(outcome.error.as_deref(), Some("States.ItemReaderFailed"), "{outcome:?}");
        assert!(outcome.cause.as_deref().is_some_and(|c| c.contains(cause)), "{outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_server_item_readers() {
    let Some(s3) = external() else { return };
    readers(&s3, "legion-it-readers").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_endpoint_item_readers() {
    let (server, _dir) = local().await;
    readers(&server.connector(), "readers").await;
}

fn tolerated(percentage: f64, bucket: &str) -> Value {
    json!({
        "StartAt": "Map",
        "States": {"Map": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 100,
            "ToleratedFailurePercentage": percentage,
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "results"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check",
                "States": {
                    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Boom"}], "Default": "Ok"},
                    "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "bad"},
                    "Ok": {"Type": "Pass", "End": true}
                }
            },
            "End": true
        }}
    })
}

/// Reads every result file the manifest names; returns the item numbers by file kind.
async fn result_items(s3: &AwsS3, bucket: &str, manifest_key: &str) -> [Vec<i64>; 3] {
    let manifest: Value = serde_json::from_slice(&get(s3, bucket, manifest_key).await).expect("manifest");
    let mut out: [Vec<i64>; 3] = Default::default();
    for (slot, kind) in ["SUCCEEDED", "FAILED", "PENDING"].iter().enumerate() {
        for file in manifest["ResultFiles"][kind].as_array().expect("files") {
            let body = get(s3, bucket, file["Key"].as_str().expect("key")).await;
            assert_eq!(file["Size"], json!(body.len()));
            let records: Vec<Value> = serde_json::from_slice(&body).expect("records");
            for r in records {
                let input: Value = serde_json::from_str(r["Input"].as_str().expect("input")).expect("json");
                out[slot].push(input["i"].as_i64().expect("i"));
            }
        }
    }
    out
}

async fn tolerated_failures(s3: &AwsS3, b: &str) {
    bucket(s3, b).await;
    let items: Vec<Value> = (0..1000).map(|i| json!({"i": i, "fail": i % 100 == 42})).collect();
    let engine = engine(s3);

    let (_, outcome) = run(&engine, tolerated(5.0, b), json!({"items": items})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let output = outcome.output.expect("output");
    assert_eq!(output["ResultWriterDetails"]["Bucket"], b);
    let key = output["ResultWriterDetails"]["Key"].as_str().expect("key");
    let [succeeded, failed, pending] = result_items(s3, b, key).await;
    assert_eq!((succeeded.len(), failed.len(), pending.len()), (990, 10, 0));
    let mut all: Vec<i64> = succeeded.into_iter().chain(failed).collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());

    let (execution, outcome) = run(&engine, tolerated(0.5, b), json!({"items": items})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    let run = &engine.list_map_runs(execution.arn()).await.expect("the map-run store answers")[0];
    let id = run.map_run_arn.rsplit(':').next().expect("id");
    let [succeeded, failed, pending] = result_items(s3, b, &format!("results/{id}/manifest.json")).await;
    let mut all: Vec<i64> = succeeded.into_iter().chain(failed).chain(pending).collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>(), "every item is in a result file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_server_tolerated_failures_and_result_files() {
    let Some(s3) = external() else { return };
    tolerated_failures(&s3, "legion-it-results").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_endpoint_tolerated_failures_and_result_files() {
    let (server, _dir) = local().await;
    tolerated_failures(&server.connector(), "results").await;
}
