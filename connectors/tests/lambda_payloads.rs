//! Lambda answers whose payload the runtime did not JSON-encode (a Python handler returning `bytes`,
//! a custom runtime), through the real Lambda connector against the Lambda Invoke API stand-in on
//! 127.0.0.1, for a Task on the function's ARN and for `arn:aws:states:::lambda:invoke`.

use std::sync::Arc;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::LambdaConfig;
use legion_connectors::{Config, Router};
use legion_engine::{Engine, ExecutionStatus, StartRequest, TaskTokens};
use legion_testkit::lambda::{Behaviour, LambdaServer};
use serde_json::{json, Value};

async fn run(server: &LambdaServer, definition: Value) -> Value {
    let config = Config {
        lambda: LambdaConfig { endpoint: Some(server.url()), region: Some("us-east-1".into()) },
        ..Config::default()
    };
    let tokens = TaskTokens::new();
    let router = Router::builder(config, tokens.clone()).build().await.expect("the router starts");
    let engine = Engine::builder().time_scale(0.0).task_tokens(tokens).dispatcher(Arc::new(router)).build();
    let machine = Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"));
    let (_, outcome) = engine.run(StartRequest::new(machine, "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    outcome.output.expect("an output")
}

fn legacy(function: &str) -> Value {
    json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"), "End": true}}})
}

fn optimized(function: &str) -> Value {
    json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": {}},
        "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode"}, "End": true}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_the_runtime_did_not_encode() {
    let server = LambdaServer::start("123456789012", "us-east-1").await.expect("the stand-in starts");
    let cases: [(&str, &[u8], Value); 5] = [
        // Bytes holding JSON are that JSON (AWS's recording of a handler returning b'"HelloWorld!"').
        ("json_string", b"\"HelloWorld!\"", json!("HelloWorld!")),
        ("json_object", b"{\"id\": 7, \"ok\": true}", json!({"id": 7, "ok": true})),
        // Bytes that are not JSON are their text.
        ("plain_text", b"HelloWorld!", json!("HelloWorld!")),
        ("almost_json", b"{'Hello': 'World'}", json!("{'Hello': 'World'}")),
        ("not_utf8", b"caf\xe9", json!("caf\u{fffd}")),
    ];
    for (name, bytes, expected) in cases {
        server.add(name, Behaviour::RawBytes(bytes.to_vec()));
        assert_eq!(run(&server, legacy(name)).await, expected, "{name} on the function's ARN");
        assert_eq!(
            run(&server, optimized(name)).await,
            json!({"payload": expected, "status": 200}),
            "{name} through lambda:invoke"
        );
    }
    // The stand-in sent the bytes as they are: ten invocations, each answered unencoded.
    assert_eq!(server.invocations().len(), 10);
}
