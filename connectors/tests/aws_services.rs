//! Other AWS services against a real AWS-compatible server in its own process (`moto_server`,
//! named by `LEGION_TEST_AWS_ENDPOINT`; `.ci/run` starts one): each optimized integration, the
//! `aws-sdk` integration for SQS, SNS, DynamoDB, EventBridge and Secrets Manager, and an error from
//! each, through the real Router and its model-driven client.
//!
//! Without `LEGION_TEST_AWS_ENDPOINT` these tests print why and skip, except under CI.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::{LimitConfig, ServiceConfig};
use legion_connectors::{Config, Router};
use legion_engine::{Engine, ExecutionStatus, Outcome, StartRequest, TaskTokens};
use serde_json::{json, Value};

/// The AWS-compatible server, or `None` (after saying why) when there is none outside CI.
fn endpoint() -> Option<String> {
    legion_testkit::external_server("LEGION_TEST_AWS_ENDPOINT", "AWS-compatible server")
}

/// An engine whose Router sends every modeled service to `url` (through the task-targets file's
/// per-service endpoints, so the test does not touch the environment).
async fn engine(url: &str) -> Engine {
    engine_with_limits(url, Vec::new()).await
}

async fn engine_with_limits(url: &str, limits: Vec<LimitConfig>) -> Engine {
    let services: BTreeMap<String, ServiceConfig> = ["sqs", "sns", "dynamodb", "eventbridge", "secretsmanager"]
        .iter()
        .map(|s| ((*s).to_owned(), ServiceConfig { endpoint: Some(url.to_owned()), region: Some("us-east-1".into()) }))
        .collect();
    let config = Config { services, limits, ..Config::default() };
    let tokens = TaskTokens::new();
    let router = Router::builder(config, tokens.clone()).build().await.expect("router");
    Engine::builder().task_tokens(tokens).dispatcher(Arc::new(router)).build()
}

/// Runs a one-state machine with `resource` and `parameters`.
async fn task(engine: &Engine, resource: &str, parameters: Value) -> Outcome {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}}});
    run(engine, def, json!({})).await.1
}

async fn run(engine: &Engine, def: Value, input: Value) -> (legion_engine::Execution, Outcome) {
    let machine = Arc::new(parse_str(&def.to_string(), ParseOptions::default()).expect("valid definition"));
    tokio::time::timeout(Duration::from_secs(30), engine.run(StartRequest::new(machine, "m", input)))
        .await
        .expect("the execution ends")
        .expect("the execution starts")
}

fn ok(outcome: Outcome) -> Value {
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    outcome.output.expect("output")
}

fn failed(outcome: &Outcome, error: &str) {
    assert_eq!(outcome.status, ExecutionStatus::Failed, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some(error), "{outcome:?}");
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

async fn queue(engine: &Engine) -> String {
    let out = ok(task(engine, "arn:aws:states:::aws-sdk:sqs:createQueue", json!({"QueueName": unique("q")})).await);
    out["QueueUrl"].as_str().expect("QueueUrl").to_owned()
}

#[tokio::test]
async fn sqs_send_message_and_the_aws_sdk_integration() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let q = queue(&e).await;
    let sent =
        ok(task(&e, "arn:aws:states:::sqs:sendMessage", json!({"QueueUrl": q, "MessageBody": {"hello": "world"}}))
            .await);
    assert!(sent["MessageId"].is_string(), "{sent}");
    assert_eq!(sent["MD5OfMessageBody"], json!(md5_hex("{\"hello\":\"world\"}")));
    assert_eq!(sent["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    assert!(sent["SdkResponseMetadata"]["RequestId"].is_string());
    let got =
        ok(task(&e, "arn:aws:states:::aws-sdk:sqs:receiveMessage", json!({"QueueUrl": q, "WaitTimeSeconds": 1})).await);
    assert_eq!(got["Messages"][0]["Body"], json!("{\"hello\":\"world\"}"), "{got}");

    let missing = format!("{url}/123456789012/{}", unique("absent"));
    let out = task(&e, "arn:aws:states:::sqs:sendMessage", json!({"QueueUrl": missing, "MessageBody": "x"})).await;
    failed(&out, "SQS.QueueDoesNotExistException");
    assert!(out.cause.as_deref().unwrap().contains("(Service: AmazonSQS; Status Code: 400; Error Code: "), "{out:?}");
    let out = task(&e, "arn:aws:states:::aws-sdk:sqs:getQueueAttributes", json!({"QueueUrl": missing})).await;
    failed(&out, "Sqs.QueueDoesNotExistException");
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    format!("{:x}", Md5::digest(text.as_bytes()))
}

#[tokio::test]
async fn sqs_wait_for_task_token_ends_with_the_answer_sent_to_the_token() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let q = queue(&e).await;
    let def = json!({"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "TimeoutSeconds": 20,
        "Parameters": {"QueueUrl": q, "MessageBody": {"token.$": "$$.Task.Token", "order": 7}}, "End": true}}});
    let machine = Arc::new(parse_str(&def.to_string(), ParseOptions::default()).unwrap());
    let execution = e.start(StartRequest::new(machine, "m", json!({}))).await.expect("the execution starts");
    // A worker: receive the message through the aws-sdk integration and answer its token.
    let received = loop {
        let out =
            ok(task(&e, "arn:aws:states:::aws-sdk:sqs:receiveMessage", json!({"QueueUrl": q, "WaitTimeSeconds": 1}))
                .await);
        if let Some(m) = out["Messages"].as_array().and_then(|m| m.first()) {
            break serde_json::from_str::<Value>(m["Body"].as_str().unwrap()).unwrap();
        }
    };
    e.send_task_success(received["token"].as_str().unwrap(), json!({"shipped": received["order"]})).unwrap();
    assert_eq!(ok(execution.outcome().await), json!({"shipped": 7}));
}

#[tokio::test]
async fn sns_publish_and_the_aws_sdk_integration() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let topic = ok(task(&e, "arn:aws:states:::aws-sdk:sns:createTopic", json!({"Name": unique("t")})).await);
    let arn = topic["TopicArn"].as_str().expect("TopicArn").to_owned();
    let published = ok(task(
        &e,
        "arn:aws:states:::sns:publish",
        json!({"TopicArn": arn, "Message": {"a": 1}, "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
    )
    .await);
    assert!(published["MessageId"].is_string(), "{published}");
    assert_eq!(published["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    let topics = ok(task(&e, "arn:aws:states:::aws-sdk:sns:listTopics", json!({})).await);
    assert!(topics["Topics"].as_array().unwrap().iter().any(|t| t["TopicArn"] == json!(arn)), "{topics}");

    let absent = arn.replace(":t-", ":absent-");
    let out = task(&e, "arn:aws:states:::sns:publish", json!({"TopicArn": absent, "Message": "x"})).await;
    failed(&out, "SNS.NotFoundException");
    let out = task(&e, "arn:aws:states:::aws-sdk:sns:getTopicAttributes", json!({"TopicArn": absent})).await;
    failed(&out, "Sns.NotFoundException");
}

#[tokio::test]
async fn dynamodb_item_operations_and_their_errors() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let table = unique("tbl");
    ok(task(
        &e,
        "arn:aws:states:::aws-sdk:dynamodb:createTable",
        json!({"TableName": table, "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}),
    )
    .await);
    let key = json!({"id": {"S": "a"}});
    let put = ok(task(
        &e,
        "arn:aws:states:::dynamodb:putItem",
        json!({"TableName": table, "Item": {"id": {"S": "a"}, "n": {"N": "1"}}}),
    )
    .await);
    assert_eq!(put["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    let updated = ok(task(
        &e,
        "arn:aws:states:::dynamodb:updateItem",
        json!({"TableName": table, "Key": key, "UpdateExpression": "SET n = n + :one",
               "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "ALL_NEW"}),
    )
    .await);
    assert_eq!(updated["Attributes"]["n"], json!({"N": "2"}), "{updated}");
    let got = ok(task(&e, "arn:aws:states:::dynamodb:getItem", json!({"TableName": table, "Key": key})).await);
    assert_eq!(got["Item"]["n"], json!({"N": "2"}));
    let got = ok(task(&e, "arn:aws:states:::aws-sdk:dynamodb:getItem", json!({"TableName": table, "Key": key})).await);
    assert_eq!(got, json!({"Item": {"id": {"S": "a"}, "n": {"N": "2"}}}));

    let out = task(
        &e,
        "arn:aws:states:::dynamodb:putItem",
        json!({"TableName": table, "Item": {"id": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(id)"}),
    )
    .await;
    failed(&out, "DynamoDB.ConditionalCheckFailedException");
    ok(task(&e, "arn:aws:states:::dynamodb:deleteItem", json!({"TableName": table, "Key": key})).await);
    let got = ok(task(&e, "arn:aws:states:::dynamodb:getItem", json!({"TableName": table, "Key": key})).await);
    assert!(got.get("Item").is_none(), "{got}");
    let out =
        task(&e, "arn:aws:states:::aws-sdk:dynamodb:getItem", json!({"TableName": unique("absent"), "Key": key})).await;
    failed(&out, "DynamoDb.ResourceNotFoundException");
}

#[tokio::test]
async fn eventbridge_put_events_and_failed_entries() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let out = ok(task(
        &e,
        "arn:aws:states:::events:putEvents",
        json!({"Entries": [{"Detail": {"a": 1}, "DetailType": "t", "Source": "legion.test"}]}),
    )
    .await);
    assert_eq!(out["FailedEntryCount"], json!(0));
    assert!(out["Entries"][0]["EventId"].is_string(), "{out}");
    assert!(out.get("SdkHttpMetadata").is_none());
    let out =
        task(&e, "arn:aws:states:::events:putEvents", json!({"Entries": [{"Detail": "{}", "DetailType": "t"}]})).await;
    failed(&out, "EventBridge.FailedEntry");
    let cause: Value = serde_json::from_str(out.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["FailedEntryCount"], json!(1));
    let buses = ok(task(&e, "arn:aws:states:::aws-sdk:eventbridge:listEventBuses", json!({})).await);
    assert!(buses["EventBuses"].as_array().is_some_and(|b| !b.is_empty()), "{buses}");
    let out =
        task(&e, "arn:aws:states:::aws-sdk:eventbridge:describeEventBus", json!({"Name": unique("absent")})).await;
    failed(&out, "EventBridge.ResourceNotFoundException");
}

#[tokio::test]
async fn secrets_manager_through_the_aws_sdk_integration() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let name = unique("secret");
    let created = ok(task(
        &e,
        "arn:aws:states:::aws-sdk:secretsmanager:createSecret",
        json!({"Name": name, "SecretString": "s3cr3t"}),
    )
    .await);
    assert!(created["ARN"].is_string(), "{created}");
    let value = ok(task(&e, "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue", json!({"SecretId": name})).await);
    assert_eq!(value["SecretString"], json!("s3cr3t"));
    // Timestamps come back as ISO-8601 text, as Step Functions renders them.
    assert!(value["CreatedDate"].as_str().is_some_and(|d| d.contains('T')), "{value}");
    ok(task(
        &e,
        "arn:aws:states:::aws-sdk:secretsmanager:deleteSecret",
        json!({"SecretId": name, "ForceDeleteWithoutRecovery": true}),
    )
    .await);
    let out = task(&e, "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue", json!({"SecretId": name})).await;
    failed(&out, "SecretsManager.ResourceNotFoundException");
    let cause = out.cause.as_deref().unwrap();
    assert!(cause.contains("(Service: SecretsManager, Status Code: ") && cause.contains(", Request ID: "), "{cause}");
}

#[tokio::test]
async fn parameters_outside_the_model_are_refused_before_any_call() {
    let Some(url) = endpoint() else { return };
    let e = engine(&url).await;
    let out = task(&e, "arn:aws:states:::aws-sdk:sqs:listQueues", json!({"NoSuchParameter": 1})).await;
    failed(&out, "States.Runtime");
    let out = task(&e, "arn:aws:states:::aws-sdk:nosuchservice:doIt", json!({})).await;
    failed(&out, "States.Runtime");
}

#[tokio::test]
async fn limits_hold_calls_to_other_services() {
    let Some(url) = endpoint() else { return };
    let limit = LimitConfig { target: "sqs:SendMessage".into(), max_concurrency: Some(1), per_second: Some(2) };
    let e = engine_with_limits(&url, vec![limit]).await;
    let q = queue(&e).await;
    let def = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Send", "States": {"Send": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": q, "MessageBody.$": "States.Format('{}', $)"}, "ResultSelector": {"id.$": "$.MessageId"}, "End": true}}},
        "End": true}}});
    let started = std::time::Instant::now();
    let (_, outcome) = run(&e, def, json!({"items": [1, 2, 3, 4, 5, 6]})).await;
    let out = ok(outcome);
    assert_eq!(out.as_array().map(Vec::len), Some(6));
    // Two calls a second, the first two at once: the last starts 2 s after the first.
    assert!(started.elapsed() >= Duration::from_millis(1900), "took {:?}", started.elapsed());
}
