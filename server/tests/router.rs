//! The router without a socket: the protocol's edges (targets, bodies, hosts) answered the AWS way.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use legion_engine::Engine;
use legion_server::{app, app_with_limit, AppState, Operation};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(router: axum::Router, target: Option<&str>, host: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = Request::post("/").header("content-type", "application/x-amz-json-1.0").header("host", host);
    if let Some(t) = target {
        request = request.header("x-amz-target", t);
    }
    let response = router.oneshot(request.body(Body::from(body)).expect("a request")).await.expect("an answer");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn router() -> axum::Router {
    app(AppState::new(Engine::builder().build()))
}

#[tokio::test]
async fn protocol_errors_have_aws_types() {
    let (status, body) = call(router(), Some("AWSStepFunctions.Nope"), "localhost", b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["__type"], "UnknownOperationException");

    let (_, body) = call(router(), None, "localhost", b"{}".to_vec()).await;
    assert_eq!(body["__type"], "UnknownOperationException");

    for bad in [&b"{"[..], b"[]", b"\"x\"", b"{\"name\": 1}", b"\xff\xfe"] {
        let (status, body) = call(router(), Some("AWSStepFunctions.CreateActivity"), "localhost", bad.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(body["__type"], "SerializationException", "{bad:?}");
    }

    let (_, body) = call(router(), Some("AWSStepFunctions.CreateActivity"), "localhost", b"{}".to_vec()).await;
    assert_eq!(body["__type"], "ValidationException");
    assert_eq!(
        body["message"],
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let small = app_with_limit(AppState::new(Engine::builder().build()), 1024);
    let big = json!({"name": "x".repeat(4096)}).to_string().into_bytes();
    let (status, body) = call(small, Some("AWSStepFunctions.CreateActivity"), "localhost", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["__type"], "RequestEntityTooLargeException");
}

#[tokio::test]
async fn sync_prefixed_hosts_are_served_by_the_same_router() {
    let definition = json!({"Type": "Pass", "End": true}).to_string();
    let request = json!({"definition": definition, "input": "{\"a\": 1}"}).to_string().into_bytes();
    let (status, body) = call(router(), Some("AWSStepFunctions.TestState"), "sync-localhost:8083", request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["output"], "{\"a\":1}");
}

#[tokio::test]
async fn activities_round_trip() {
    let r = router();
    let (_, created) =
        call(r.clone(), Some("AWSStepFunctions.CreateActivity"), "h", br#"{"name": "worker"}"#.to_vec()).await;
    let arn = created["activityArn"].as_str().expect("an activity ARN").to_owned();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:activity:worker");
    let (_, again) =
        call(r.clone(), Some("AWSStepFunctions.CreateActivity"), "h", br#"{"name": "worker"}"#.to_vec()).await;
    assert_eq!(again["activityArn"], arn.as_str(), "CreateActivity is idempotent");
    let (_, listed) = call(r.clone(), Some("AWSStepFunctions.ListActivities"), "h", b"{}".to_vec()).await;
    assert_eq!(listed["activities"].as_array().map(Vec::len), Some(1));
    let describe = json!({"activityArn": arn}).to_string().into_bytes();
    call(r.clone(), Some("AWSStepFunctions.DeleteActivity"), "h", describe.clone()).await;
    let (_, gone) = call(r, Some("AWSStepFunctions.DescribeActivity"), "h", describe).await;
    assert_eq!(gone["__type"], "ActivityDoesNotExist");
}

#[tokio::test]
async fn no_operation_fails_on_odd_input() {
    let bodies: Vec<Vec<u8>> = vec![
        b"{}".to_vec(),
        b"null".to_vec(),
        b"{\"stateMachineArn\": \"arn:aws:states:us-east-1:1:stateMachine:x:y:z\", \"maxResults\": -5}".to_vec(),
        b"{\"executionArn\": \"arn:aws:states:::execution\", \"mapRunArn\": \"arn:aws:states:us-east-1:1:mapRun:a\"}".to_vec(),
        json!({"definition": "{\"Type\": 1}", "input": "[", "name": "\u{0}", "taskToken": "", "stateName": ""})
            .to_string()
            .into_bytes(),
        json!({"definition": "[]", "mock": {"result": "{"}, "context": "7", "variables": "[]"}).to_string().into_bytes(),
        json!({"definition": "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Map\",\"End\":true}}}", "stateName": "A"})
            .to_string()
            .into_bytes(),
        json!({"routingConfiguration": [{"stateMachineVersionArn": "x", "weight": 1000}], "tags": [{}]})
            .to_string()
            .into_bytes(),
    ];
    let r = router();
    for op in Operation::ALL.iter().map(|o| o.name()) {
        for body in &bodies {
            let target = format!("AWSStepFunctions.{op}");
            let (status, answer) = call(r.clone(), Some(&target), "localhost", body.clone()).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                "{op} with {}: {status} {answer}",
                String::from_utf8_lossy(body)
            );
            if status == StatusCode::BAD_REQUEST {
                assert!(answer["__type"].is_string(), "{op}: {answer}");
            }
        }
    }
}

/// Retention removes closed executions; what they ran (DescribeStateMachineForExecution) goes with
/// them, while the executions it keeps still describe the revision they ran after an update.
#[tokio::test]
async fn executions_retention_removes_no_longer_describe_what_they_ran() {
    let purged = legion_server::PurgeForwarder::default();
    let engine =
        Engine::builder().retention(legion_engine::Retention::forever().max_closed(2)).on_purged(purged.hook()).build();
    let state = AppState::new(engine);
    purged.attach(&state);
    let router = app(state.clone());
    let target = |op: &str| format!("AWSStepFunctions.{op}");
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string();
    let create = json!({"name": "kept", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/r"});
    let (status, created) =
        call(router.clone(), Some(&target("CreateStateMachine")), "localhost", create.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let mut arns = Vec::new();
    for n in 0..5 {
        let start = json!({"stateMachineArn": created["stateMachineArn"], "name": format!("run-{n}")});
        let (status, started) =
            call(router.clone(), Some(&target("StartExecution")), "localhost", start.to_string().into_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{started}");
        let arn = started["executionArn"].as_str().expect("an ARN").to_owned();
        for _ in 0..200 {
            let describe = json!({"executionArn": arn}).to_string().into_bytes();
            let (_, described) = call(router.clone(), Some(&target("DescribeExecution")), "localhost", describe).await;
            if described["status"] == "SUCCEEDED" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        arns.push(arn);
    }
    // Retention runs right after each end is recorded: after the fifth, two closed executions are kept.
    for _ in 0..200 {
        let describe = json!({"executionArn": arns[2]}).to_string().into_bytes();
        let (status, _) = call(router.clone(), Some(&target("DescribeExecution")), "localhost", describe).await;
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let updated = json!({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": true}}}).to_string();
    let update = json!({"stateMachineArn": created["stateMachineArn"], "definition": updated});
    let (status, answer) =
        call(router.clone(), Some(&target("UpdateStateMachine")), "localhost", update.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (arn, kept) in arns.iter().zip([false, false, false, true, true]) {
        let body = json!({"executionArn": arn}).to_string().into_bytes();
        let (status, answer) =
            call(router.clone(), Some(&target("DescribeStateMachineForExecution")), "localhost", body).await;
        assert_eq!(status == StatusCode::OK, kept, "{arn}: {answer}");
        if kept {
            assert_eq!(answer["definition"], definition.as_str());
        }
    }
}
