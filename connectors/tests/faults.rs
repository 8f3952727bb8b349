//! Distributed Map runs of 10,000 items through fault-injecting proxies in front of the Lambda,
//! OpenFaaS and HTTP stand-ins, with results written to the embedded S3 endpoint.
//!
//! Each item goes to one of the three targets; the proxies answer some calls with HTTP 500 or 429,
//! drop the connection, stall past `TimeoutSeconds`, truncate the answer, answer HTML instead of
//! JSON, or trickle the answer out slowly. The ResultWriter files are then read back and every item
//! accounted for:
//!
//! - with Retry, every item is in the SUCCEEDED files exactly once;
//! - without Retry, the FAILED files hold exactly the items whose call met a fault, and
//!   ToleratedFailurePercentage/Count decide as AWS does (the run fails only when the failures go
//!   over the threshold).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::{GatewayConfig, LambdaConfig, OpenFaasConfig};
use legion_connectors::s3::{AwsS3, LocalS3};
use legion_connectors::{Config, Router};
use legion_engine::{Engine, ExecutionStatus, StartRequest, TaskTokens};
use legion_testkit::faults::{Fault, FaultProxy, Plan, Seen};
use legion_testkit::lambda::{Behaviour, LambdaServer};
use legion_testkit::openfaas::{handler, FunctionReply, Gateway, GatewayConfig as FakeGatewayConfig};
use serde_json::{json, Value};

const ITEMS: i64 = 10_000;
const BUCKET: &str = "results";
const TARGETS: [&str; 3] = ["lambda", "openfaas", "http"];

/// The faults injected, in turn, into the faulty items' calls.
fn faults() -> [Fault; 6] {
    [
        Fault::Status(500),
        Fault::Status(429),
        Fault::Drop,
        Fault::Stall(Duration::from_secs(6)),
        Fault::Truncate,
        Fault::NotJson,
    ]
}

/// The item number a call carries (`"i"` in the Lambda payload, the OpenFaaS body or the HTTP body).
fn item(seen: &Seen) -> Option<i64> {
    seen.json.get("i").and_then(Value::as_i64)
}

/// Whether item `i`'s calls meet faults: one item in ten.
fn faulty(i: i64) -> bool {
    i % 10 == 3
}

/// How many attempts of a faulty item meet a fault when the item is retried: one or two.
fn faulty_attempts(i: i64) -> u32 {
    1 + ((i / 180) % 2) as u32
}

/// Item `i`'s fault: faulty items take the six faults in turn; one item in ten more gets its answer
/// trickled (slow, but whole); the rest pass. With `retried`, the fault hits only the first
/// [`faulty_attempts`].
fn plan(retried: bool) -> Plan {
    Arc::new(move |seen: &Seen| {
        let Some(i) = item(seen) else { return Fault::Pass };
        if faulty(i) {
            let attempts = if retried { faulty_attempts(i) } else { u32::MAX };
            if seen.attempt < attempts {
                return faults()[((i / 30) % 6) as usize].clone();
            }
            return Fault::Pass;
        }
        if i % 10 == 7 {
            return Fault::Trickle { chunk: 8, every: Duration::from_millis(2) };
        }
        Fault::Pass
    })
}

/// Everything one run needs: the stand-ins, a proxy in front of each, the S3 endpoint.
struct Stack {
    _lambda: LambdaServer,
    _gateway: Gateway,
    _http: legion_testkit::http::Server,
    proxies: Vec<FaultProxy>,
    s3: AwsS3,
    _local: LocalS3,
    _dir: tempfile::TempDir,
    engine: Engine,
    _router: Router,
}

async fn stack(retried: bool) -> Stack {
    let lambda = LambdaServer::start("123456789012", "us-east-1").await.expect("lambda");
    lambda.add("echo", Behaviour::Identity);
    let gateway = Gateway::start(FakeGatewayConfig::default()).await.expect("gateway");
    gateway.deploy(
        "echo",
        handler(|call| async move {
            FunctionReply { status: 200, body: call.body, content_type: "application/json".into() }
        }),
    );
    let http = legion_testkit::http::Server::start(Arc::new(|request: legion_testkit::http::HttpRequest| {
        Box::pin(async move {
            let mut response = hyper::Response::new(http_body_util::Full::new(request.body));
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
            response
        })
    }))
    .await
    .expect("http target");
    let mut proxies = Vec::new();
    for target in [lambda.url(), gateway.url(), http.url()] {
        proxies.push(FaultProxy::start(&target, plan(retried)).await.expect("proxy"));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let local = LocalS3::start(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("S3 endpoint");
    let s3 = local.connector();
    s3.client().create_bucket().bucket(BUCKET).send().await.expect("bucket");

    let mut gateways = BTreeMap::new();
    gateways.insert("default".to_owned(), GatewayConfig { url: proxies[1].url(), username: None, password: None });
    let config = Config {
        lambda: LambdaConfig { endpoint: Some(proxies[0].url()), region: Some("us-east-1".into()) },
        openfaas: OpenFaasConfig { gateways, ..OpenFaasConfig::default() },
        ..Config::default()
    };
    let tokens = TaskTokens::new();
    let router = Router::builder(config, tokens.clone()).build().await.expect("router");
    let engine = Engine::builder()
        .time_scale(0.0)
        .task_tokens(tokens)
        .dispatcher(Arc::new(router.clone()))
        .s3(Arc::new(s3.clone()))
        .build();
    Stack {
        _lambda: lambda,
        _gateway: gateway,
        _http: http,
        proxies,
        s3,
        _local: local,
        _dir: dir,
        engine,
        _router: router,
    }
}

/// The map: each item goes to its target inside a one-branch Parallel (so a call and the check of
/// its answer are retried together, when `retry` is given); an answer that does not echo the item
/// fails the item with `Item.BadAnswer`.
fn definition(http_url: &str, retry: Option<Value>, tolerated: Value) -> Value {
    let task = |resource: &str, parameters: Value, selector: Value, next: &str| {
        json!({"Type": "Task", "Resource": resource, "Parameters": parameters, "TimeoutSeconds": 5,
               "ResultSelector": selector, "ResultPath": "$.answer", "Next": next})
    };
    let call = json!({
        "StartAt": "Route",
        "States": {
            "Route": {"Type": "Choice", "Choices": [
                {"Variable": "$.target", "StringEquals": "lambda", "Next": "Lambda"},
                {"Variable": "$.target", "StringEquals": "openfaas", "Next": "OpenFaaS"}
            ], "Default": "Http"},
            "Lambda": task("arn:aws:states:::lambda:invoke",
                json!({"FunctionName": "echo", "Payload.$": "$"}), json!({"body.$": "$.Payload"}), "Check"),
            "OpenFaaS": task("arn:legion:states:::openfaas:invoke",
                json!({"FunctionName": "echo", "Payload.$": "$"}), json!({"body.$": "$.Payload"}), "Check"),
            "Http": task("arn:aws:states:::http:invoke",
                json!({"ApiEndpoint": format!("{http_url}/echo"), "Method": "POST", "RequestBody.$": "$"}),
                json!({"body.$": "$.ResponseBody"}), "Check"),
            "Check": {"Type": "Choice", "Choices": [{"And": [
                {"Variable": "$.answer.body.i", "IsPresent": true},
                {"Variable": "$.answer.body.i", "IsNumeric": true},
                {"Variable": "$.answer.body.i", "NumericEqualsPath": "$.i"}
            ], "Next": "Done"}], "Default": "Bad"},
            "Bad": {"Type": "Fail", "Error": "Item.BadAnswer", "Cause": "the target's answer does not echo the item"},
            "Done": {"Type": "Pass", "End": true}
        }
    });
    let mut attempt = json!({"Type": "Parallel", "Branches": [call], "OutputPath": "$[0]", "End": true});
    if let Some(retry) = retry {
        attempt["Retry"] = retry;
    }
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 100,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": BUCKET, "Prefix": "out"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Attempt",
            "States": {"Attempt": attempt}
        },
        "End": true
    });
    if let Value::Object(t) = tolerated {
        map.as_object_mut().expect("an object").extend(t);
    }
    json!({"StartAt": "Map", "States": {"Map": map}})
}

fn items() -> Value {
    Value::Array((0..ITEMS).map(|i| json!({"i": i, "target": TARGETS[(i % 3) as usize]})).collect())
}

async fn get(s3: &AwsS3, key: &str) -> Vec<u8> {
    let out = s3.client().get_object().bucket(BUCKET).key(key).send().await.expect("get");
    out.body.collect().await.expect("body").into_bytes().to_vec()
}

/// Every item number in the result files the manifest names, by kind (SUCCEEDED, FAILED, PENDING),
/// and the items whose record says the child was aborted.
async fn result_items(s3: &AwsS3, manifest_key: &str) -> ([Vec<i64>; 3], Vec<i64>) {
    let manifest: Value = serde_json::from_slice(&get(s3, manifest_key).await).expect("manifest");
    let mut out: [Vec<i64>; 3] = Default::default();
    let mut aborted = Vec::new();
    for (slot, kind) in ["SUCCEEDED", "FAILED", "PENDING"].iter().enumerate() {
        for file in manifest["ResultFiles"][kind].as_array().expect("files") {
            let body = get(s3, file["Key"].as_str().expect("key")).await;
            assert_eq!(file["Size"], json!(body.len()));
            let records: Vec<Value> = serde_json::from_slice(&body).expect("records");
            for r in records {
                let input: Value = serde_json::from_str(r["Input"].as_str().expect("input")).expect("json");
                let i = input["i"].as_i64().expect("i");
                out[slot].push(i);
                if slot == 1 && !faulty(i) && r["Status"] != "ABORTED" {
                    println!("faults: item {i} failed: {} {}", r["Error"], r["Cause"]);
                }
                if r["Status"] == "ABORTED" {
                    aborted.push(i);
                }
            }
        }
    }
    for list in &mut out {
        list.sort_unstable();
    }
    aborted.sort_unstable();
    (out, aborted)
}

async fn run(stack: &Stack, definition: Value) -> (legion_engine::Outcome, ([Vec<i64>; 3], Vec<i64>), Duration) {
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"));
    let started = Instant::now();
    let (execution, outcome) = stack
        .engine
        .run(StartRequest::new(machine, "faults", json!({"items": items()})))
        .await
        .expect("the execution starts");
    let elapsed = started.elapsed();
    let runs = stack.engine.list_map_runs(execution.arn()).await.expect("the map-run store answers");
    assert_eq!(runs.len(), 1);
    let id = runs[0].map_run_arn.rsplit(':').next().expect("an id").to_owned();
    let files = result_items(&stack.s3, &format!("out/{id}/manifest.json")).await;
    (outcome, files, elapsed)
}

fn report(name: &str, stack: &Stack, files: &[Vec<i64>; 3], elapsed: Duration) {
    for (target, proxy) in TARGETS.iter().zip(&stack.proxies) {
        println!("faults: {name}: {target} proxy {:?}", proxy.stats());
    }
    println!(
        "faults: {name}: {ITEMS} items in {elapsed:?}: {} SUCCEEDED, {} FAILED, {} PENDING",
        files[0].len(),
        files[1].len(),
        files[2].len()
    );
}

fn assert_all_injected(stack: &Stack) {
    for (target, proxy) in TARGETS.iter().zip(&stack.proxies) {
        for fault in faults() {
            assert!(proxy.injected(&fault.name()) > 0, "{target}: no {} injected: {:?}", fault.name(), proxy.stats());
        }
        assert!(proxy.injected("trickle") > 0, "{target}: {:?}", proxy.stats());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retry_every_item_ends_exactly_once_in_the_succeeded_files() {
    let stack = stack(true).await;
    let retry = json!([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 1}]);
    let (outcome, (files, _), elapsed) = run(&stack, definition(&stack.proxies[2].url(), Some(retry), json!({}))).await;
    report("with Retry", &stack, &files, elapsed);
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(files[0], (0..ITEMS).collect::<Vec<_>>(), "each item succeeded exactly once");
    assert!(files[1].is_empty() && files[2].is_empty());
    assert_all_injected(&stack);
    // Faulty items met one or two faults, one per attempt.
    let faulty_calls: u64 = (0..ITEMS).filter(|i| faulty(*i)).map(|i| u64::from(faulty_attempts(i))).sum();
    let injected: u64 = stack.proxies.iter().map(|p| faults().iter().map(|f| p.injected(&f.name())).sum::<u64>()).sum();
    assert_eq!(injected, faulty_calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_retry_the_failed_files_hold_exactly_the_faulty_items() {
    let stack = stack(false).await;
    let expected_failed: Vec<i64> = (0..ITEMS).filter(|i| faulty(*i)).collect();
    let expected_succeeded: Vec<i64> = (0..ITEMS).filter(|i| !faulty(*i)).collect();
    // 1,000 of 10,000 items fail: 10% is tolerated by a 10% threshold (AWS fails a map run only when
    // the failures exceed it).
    let tolerated = json!({"ToleratedFailurePercentage": 10});
    let (outcome, (files, _), elapsed) = run(&stack, definition(&stack.proxies[2].url(), None, tolerated)).await;
    report("without Retry, 10% tolerated", &stack, &files, elapsed);
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(files[1], expected_failed, "the FAILED files hold exactly the faulty items");
    assert_eq!(files[0], expected_succeeded);
    assert!(files[2].is_empty());
    assert_all_injected(&stack);

    // One failure fewer tolerated: the run fails once the 1000th failure is counted, and every item
    // is still in exactly one file.
    let tolerated = json!({"ToleratedFailureCount": 999});
    let (outcome, (files, aborted), elapsed) = run(&stack, definition(&stack.proxies[2].url(), None, tolerated)).await;
    report("without Retry, 999 tolerated", &stack, &files, elapsed);
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    let mut all: Vec<i64> = files.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..ITEMS).collect::<Vec<_>>(), "every item in exactly one result file");
    // Every faulty item failed before the threshold was crossed; the children still running then
    // were aborted, and AWS lists aborted children in the FAILED files too.
    let failed_by_fault: Vec<i64> = files[1].iter().copied().filter(|i| !aborted.contains(i)).collect();
    assert_eq!(failed_by_fault, expected_failed);
    assert!(aborted.iter().all(|i| !faulty(*i)), "{aborted:?}");
    println!("faults: without Retry, 999 tolerated: {} children aborted when the run failed", aborted.len());
}
