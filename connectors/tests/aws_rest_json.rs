//! A REST-JSON service through the model-driven client: `aws-sdk:lambda` actions against a real
//! AWS-compatible server in its own process (`moto_server`, named by `LEGION_TEST_AWS_ENDPOINT`;
//! `.ci/run` starts one) for createFunction, getFunction, listFunctions and an error, and against the
//! Lambda Invoke API stand-in of `legion-testkit` for invoke (moto runs functions only in Docker).
//!
//! Without `LEGION_TEST_AWS_ENDPOINT` the moto tests print why and skip, except under CI.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::ServiceConfig;
use legion_connectors::{Config, Router};
use legion_engine::{Engine, ExecutionStatus, Outcome, StartRequest, TaskTokens};
use legion_testkit::lambda::{handler, LambdaServer};
use serde_json::{json, Value};

/// A zip holding `index.py` (a handler returning its event).
const ZIP: &str = "UEsDBBQAAAAAAK2ghl20CHBpLgAAAC4AAAAIAAAAaW5kZXgucHlkZWYgaGFuZGxlcihldmVudCwgY29udGV4dCk6CiAgICByZXR1cm4gZXZlbnQKUEsBAhQDFAAAAAAAraCGXbQIcGkuAAAALgAAAAgAAAAAAAAAAAAAAIABAAAAAGluZGV4LnB5UEsFBgAAAAABAAEANgAAAFQAAAAAAA==";

/// The AWS-compatible server, or `None` (after saying why) when there is none outside CI.
fn endpoint() -> Option<String> {
    legion_testkit::external_server("LEGION_TEST_AWS_ENDPOINT", "AWS-compatible server")
}

/// An engine whose model-driven client sends IAM to `aws` and Lambda to `lambda`.
async fn engine(aws: &str, lambda: &str) -> Engine {
    let at = |url: &str| ServiceConfig { endpoint: Some(url.to_owned()), region: Some("us-east-1".into()) };
    let services = BTreeMap::from([("iam".to_owned(), at(aws)), ("lambda".to_owned(), at(lambda))]);
    let config = Config { services, ..Config::default() };
    let tokens = TaskTokens::new();
    let router = Router::builder(config, tokens.clone()).build().await.expect("router");
    Engine::builder().task_tokens(tokens).dispatcher(Arc::new(router)).build()
}

async fn task(engine: &Engine, resource: &str, parameters: Value) -> Outcome {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}});
    let machine = Arc::new(parse_str(&def.to_string(), ParseOptions::default()).expect("valid definition"));
    let (_, outcome) =
        tokio::time::timeout(Duration::from_secs(30), engine.run(StartRequest::new(machine, "m", json!({}))))
            .await
            .expect("the execution ends")
            .expect("the execution starts");
    outcome
}

fn ok(outcome: Outcome) -> Value {
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    outcome.output.expect("output")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[tokio::test]
async fn lambda_functions_are_created_read_and_listed_through_rest_json() {
    let Some(url) = endpoint() else { return };
    let engine = engine(&url, &url).await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"
    }]});
    let role = ok(task(
        &engine,
        "arn:aws:states:::aws-sdk:iam:createRole",
        json!({"RoleName": unique("fn-role"), "AssumeRolePolicyDocument": trust.to_string()}),
    )
    .await);
    let name = unique("fn");
    let created = ok(task(
        &engine,
        "arn:aws:states:::aws-sdk:lambda:createFunction",
        json!({
            "FunctionName": name, "Runtime": "python3.12", "Handler": "index.handler",
            "Role": role["Role"]["Arn"], "Code": {"ZipFile": ZIP}, "Timeout": 7
        }),
    )
    .await);
    assert_eq!(created["FunctionName"], json!(name), "{created}");
    assert_eq!(created["Timeout"], json!(7), "{created}");

    let got = ok(task(&engine, "arn:aws:states:::aws-sdk:lambda:getFunction", json!({"FunctionName": name})).await);
    assert_eq!(got["Configuration"]["FunctionName"], json!(name), "{got}");
    assert_eq!(got["Configuration"]["Handler"], json!("index.handler"), "{got}");

    let listed = ok(task(&engine, "arn:aws:states:::aws-sdk:lambda:listFunctions", json!({"MaxItems": 50})).await);
    let names: Vec<&str> =
        listed["Functions"].as_array().expect("Functions").iter().filter_map(|f| f["FunctionName"].as_str()).collect();
    assert!(names.contains(&name.as_str()), "{listed}");

    let missing =
        task(&engine, "arn:aws:states:::aws-sdk:lambda:getFunction", json!({"FunctionName": unique("none")})).await;
    assert_eq!(missing.status, ExecutionStatus::Failed, "{missing:?}");
    assert_eq!(missing.error.as_deref(), Some("Lambda.ResourceNotFoundException"), "{missing:?}");
}

#[tokio::test]
async fn lambda_invoke_through_rest_json_gives_the_payload_as_text() {
    let lambda = LambdaServer::start("123456789012", "us-east-1").await.expect("lambda stand-in");
    lambda.add("echo", handler(|event| Ok(json!({"got": event}))));
    let engine = engine("http://127.0.0.1:9", &lambda.url()).await;
    let out = ok(task(
        &engine,
        "arn:aws:states:::aws-sdk:lambda:invoke",
        json!({"FunctionName": "echo", "Payload": {"a": 1}}),
    )
    .await);
    assert_eq!(out["StatusCode"], json!(200), "{out}");
    assert_eq!(out["ExecutedVersion"], json!("$LATEST"), "{out}");
    let payload: Value = serde_json::from_str(out["Payload"].as_str().expect("Payload as text")).expect("JSON text");
    assert_eq!(payload, json!({"got": {"a": 1}}));
    let invoked = lambda.invocations();
    assert_eq!(invoked.len(), 1);
    assert_eq!(invoked[0].event, json!({"a": 1}));

    let missing = task(&engine, "arn:aws:states:::aws-sdk:lambda:invoke", json!({"FunctionName": "nope"})).await;
    assert_eq!(missing.error.as_deref(), Some("Lambda.ResourceNotFoundException"), "{missing:?}");
}
