//! `aws-sdk:s3:getObject` returns every member S3's response carries, checked against the same
//! object read directly with the SDK: on Legion's embedded endpoint, and on an external S3-compatible
//! server (`LEGION_TEST_S3_ENDPOINT`, `moto_server` under CI) when there is one.

use std::net::SocketAddr;
use std::sync::Arc;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::s3::{AwsS3, LocalS3, S3Tasks};
use legion_engine::{Engine, ExecutionStatus, StartRequest};
use serde_json::{json, Value};

async fn get_object(s3: &AwsS3, parameters: Value) -> Value {
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(S3Tasks::new(s3.clone()))).build();
    let definition = json!({"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "Parameters": parameters, "End": true}}});
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"));
    let (_, outcome) = engine.run(StartRequest::new(machine, "get", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    outcome.output.expect("an output")
}

async fn every_member(s3: &AwsS3, bucket: &str) {
    let c = s3.client();
    if c.head_bucket().bucket(bucket).send().await.is_err() {
        c.create_bucket().bucket(bucket).send().await.expect("create bucket");
    }
    let body = "{\"sku\": \"x1\", \"count\": 3}";
    c.put_object()
        .bucket(bucket)
        .key("stock/x1.json")
        .body(body.as_bytes().to_vec().into())
        .content_type("application/json")
        .metadata("origin", "warehouse-east")
        .metadata("batch", "7")
        .send()
        .await
        .expect("put");
    let direct = c.head_object().bucket(bucket).key("stock/x1.json").send().await.expect("head");

    let out = get_object(s3, json!({"Bucket": bucket, "Key": "stock/x1.json"})).await;
    assert_eq!(out["Body"], body, "{out}");
    assert_eq!(out["ContentLength"], body.len(), "{out}");
    assert_eq!(out["ContentType"], "application/json", "{out}");
    assert_eq!(out["ETag"], direct.e_tag().expect("an ETag"), "{out}");
    assert_eq!(out["Metadata"], json!({"batch": "7", "origin": "warehouse-east"}), "{out}");
    let modified = out["LastModified"].as_str().expect("LastModified is an ISO-8601 string");
    assert!(modified.ends_with('Z') && modified.contains('T'), "{out}");
    // Headers the server sent are members; those it did not send are absent, never null.
    if let Some(ranges) = direct.accept_ranges() {
        assert_eq!(out["AcceptRanges"], ranges, "{out}");
    }
    if let Some(sse) = direct.server_side_encryption() {
        assert_eq!(out["ServerSideEncryption"], sse.as_str(), "{out}");
    }
    assert!(out.as_object().expect("an object").values().all(|v| !v.is_null()), "{out}");
    let names: Vec<&String> = out.as_object().expect("an object").keys().collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "members in alphabetical order");

    // A ranged read: the part and where it lies in the object.
    let out = get_object(s3, json!({"Bucket": bucket, "Key": "stock/x1.json", "Range": "bytes=0-5"})).await;
    assert_eq!(out["Body"], &body[..6], "{out}");
    assert_eq!(out["ContentLength"], 6, "{out}");
    assert_eq!(out["ContentRange"], format!("bytes 0-5/{}", body.len()), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_endpoint_get_object_members() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = LocalS3::start(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("embedded endpoint");
    every_member(&server.connector(), "members").await;
    // The embedded endpoint sends what S3 sends with every object.
    let out = get_object(&server.connector(), json!({"Bucket": "members", "Key": "stock/x1.json"})).await;
    assert_eq!(out["AcceptRanges"], "bytes", "{out}");
    assert_eq!(out["ServerSideEncryption"], "AES256", "{out}");
    assert_eq!(out["ChecksumType"], "FULL_OBJECT", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_server_get_object_members() {
    let Some(url) = legion_testkit::external_server("LEGION_TEST_S3_ENDPOINT", "S3-compatible server") else {
        return;
    };
    every_member(&AwsS3::for_endpoint(&url, "us-east-1", "test", "test"), "legion-it-get-object").await;
}
