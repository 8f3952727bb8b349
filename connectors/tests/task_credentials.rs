//! A Task state's `Credentials`: the role is assumed through STS `AssumeRole` on a real
//! AWS-compatible server in its own process (`moto_server`, named by `LEGION_TEST_AWS_ENDPOINT`;
//! `.ci/run` starts one), and the task's call is signed with the role's temporary credentials: the
//! model-driven `aws-sdk` integrations (the server reports the assumed role as the caller), the
//! optimized ones, and Lambda (the Lambda stand-in of `legion-testkit` sees the temporary key).
//!
//! Without `LEGION_TEST_AWS_ENDPOINT` these tests print why and skip, except under CI.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::{LambdaConfig, ServiceConfig};
use legion_connectors::{Config, Router};
use legion_engine::{Engine, ExecutionStatus, Outcome, StartRequest, TaskTokens};
use legion_testkit::lambda::{handler, LambdaServer};
use serde_json::{json, Value};

/// The AWS-compatible server, or `None` (after saying why) when there is none outside CI.
fn endpoint() -> Option<String> {
    legion_testkit::external_server("LEGION_TEST_AWS_ENDPOINT", "AWS-compatible server")
}

/// An engine whose Router sends STS, IAM and SQS to `url` and Lambda to `lambda`.
async fn engine(url: &str, lambda: Option<String>) -> Engine {
    engine_for(&["sts", "iam", "sqs"], url, lambda).await
}

/// An engine whose Router sends `services` to `url` and Lambda to `lambda`.
async fn engine_for(services: &[&str], url: &str, lambda: Option<String>) -> Engine {
    let services: BTreeMap<String, ServiceConfig> = services
        .iter()
        .map(|s| ((*s).to_owned(), ServiceConfig { endpoint: Some(url.to_owned()), region: Some("us-east-1".into()) }))
        .collect();
    let config = Config {
        services,
        lambda: LambdaConfig { endpoint: lambda, region: Some("us-east-1".into()) },
        ..Config::default()
    };
    let tokens = TaskTokens::new();
    let router = Router::builder(config, tokens.clone()).build().await.expect("router");
    Engine::builder().task_tokens(tokens).dispatcher(Arc::new(router)).build()
}

/// Runs a one-Task machine: `resource` with `parameters` and the `Credentials` given.
async fn task(engine: &Engine, resource: &str, parameters: Value, credentials: Option<Value>, input: Value) -> Outcome {
    let mut state = json!({"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true});
    if let Some(c) = credentials {
        state["Credentials"] = c;
    }
    let def = json!({"StartAt": "T", "States": {"T": state}});
    let machine = Arc::new(parse_str(&def.to_string(), ParseOptions::default()).expect("valid definition"));
    let (_, outcome) =
        tokio::time::timeout(Duration::from_secs(30), engine.run(StartRequest::new(machine, "m", input)))
            .await
            .expect("the execution ends")
            .expect("the execution starts");
    outcome
}

fn ok(outcome: Outcome) -> Value {
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    outcome.output.expect("output")
}

/// A role made on the server through the `aws-sdk:iam` integration: its name and ARN.
async fn role(engine: &Engine) -> (String, String) {
    let name = format!("legion-task-role-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"
    }]});
    let params = json!({"RoleName": name, "AssumeRolePolicyDocument": trust.to_string()});
    let made = ok(task(engine, "arn:aws:states:::aws-sdk:iam:createRole", params, None, json!({})).await);
    let arn = made.pointer("/Role/Arn").and_then(Value::as_str).expect("a role ARN").to_owned();
    (name, arn)
}

#[tokio::test]
async fn aws_sdk_calls_are_made_as_the_role_the_credentials_name() {
    let Some(url) = endpoint() else { return };
    let engine = engine(&url, None).await;
    let (name, arn) = role(&engine).await;
    let account = arn.split(':').nth(4).expect("an account in the ARN").to_owned();
    let caller = "arn:aws:states:::aws-sdk:sts:getCallerIdentity";

    let credentials = json!({"RoleArn.$": "$.role"});
    let me = ok(task(&engine, caller, json!({}), Some(credentials), json!({"role": arn})).await);
    assert_eq!(me["Arn"], json!(format!("arn:aws:sts::{account}:assumed-role/{name}/legion-task")), "{me}");

    let plain = ok(task(&engine, caller, json!({}), None, json!({})).await);
    assert!(!plain["Arn"].as_str().unwrap_or_default().contains("assumed-role"), "{plain}");
}

#[tokio::test]
async fn optimized_integrations_are_made_as_the_role() {
    let Some(url) = endpoint() else { return };
    let engine = engine(&url, None).await;
    let (_, arn) = role(&engine).await;
    let made = ok(task(
        &engine,
        "arn:aws:states:::aws-sdk:sqs:createQueue",
        json!({"QueueName": format!("q-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])}),
        None,
        json!({}),
    )
    .await);
    let queue = made["QueueUrl"].as_str().expect("a queue URL").to_owned();
    let sent = ok(task(
        &engine,
        "arn:aws:states:::sqs:sendMessage",
        json!({"QueueUrl": queue, "MessageBody": "as the role"}),
        Some(json!({"RoleArn": arn})),
        json!({}),
    )
    .await);
    assert!(sent["MessageId"].is_string(), "{sent}");
}

#[tokio::test]
async fn lambda_is_invoked_with_the_role_s_temporary_credentials() {
    let Some(url) = endpoint() else { return };
    let lambda = LambdaServer::start("123456789012", "us-east-1").await.expect("lambda stand-in");
    lambda.add("echo", handler(|event| Ok(event.clone())));
    let engine = engine(&url, Some(lambda.url())).await;
    let (_, arn) = role(&engine).await;
    let invoke = "arn:aws:states:::lambda:invoke";
    let params = json!({"FunctionName": "echo", "Payload": {"a": 1}});
    let with_role = ok(task(&engine, invoke, params.clone(), Some(json!({"RoleArn": arn})), json!({})).await);
    assert_eq!(with_role["Payload"], json!({"a": 1}));
    ok(task(&engine, invoke, params, None, json!({})).await);

    let keys: Vec<Option<String>> = lambda.invocations().into_iter().map(|i| i.access_key).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let temporary = keys[0].as_deref().expect("a signed request");
    // STS issues temporary access keys with the ASIA prefix; long-term keys start otherwise.
    assert!(temporary.starts_with("ASIA"), "{keys:?}");
    assert_ne!(keys[0], keys[1], "{keys:?}");
}

#[tokio::test]
async fn a_role_arn_that_is_not_a_string_fails_the_task_before_any_call() {
    let Some(url) = endpoint() else { return };
    let engine = engine(&url, None).await;
    let outcome = task(
        &engine,
        "arn:aws:states:::aws-sdk:sts:getCallerIdentity",
        json!({}),
        Some(json!({"RoleArn.$": "$.n"})),
        json!({"n": 5}),
    )
    .await;
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"), "{outcome:?}");
}

#[tokio::test]
async fn a_local_target_runs_without_the_role_when_sts_would_be_aws() {
    if ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"].iter().any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty())) {
        eprintln!("SKIPPED: the environment names an STS endpoint");
        return;
    }
    let lambda = LambdaServer::start("123456789012", "us-east-1").await.expect("lambda stand-in");
    lambda.add("echo", handler(|event| Ok(event.clone())));
    // Only Lambda is configured: STS would be AWS's own, which this test must not reach.
    let engine = engine_for(&[], "http://127.0.0.1:9", Some(lambda.url())).await;
    let credentials = json!({"RoleArn": "arn:aws:iam::123456789012:role/defined-for-aws"});
    let params = json!({"FunctionName": "echo", "Payload": {"a": 1}});
    let out = ok(task(&engine, "arn:aws:states:::lambda:invoke", params, Some(credentials), json!({})).await);
    assert_eq!(out["Payload"], json!({"a": 1}));
    let keys: Vec<Option<String>> = lambda.invocations().into_iter().map(|i| i.access_key).collect();
    assert!(keys[0].as_deref().is_some_and(|k| !k.starts_with("ASIA")), "{keys:?}");
}
