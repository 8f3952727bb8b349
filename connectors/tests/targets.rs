//! End-to-end checks of the Router against the stand-ins of `legion-testkit` on 127.0.0.1: a
//! throttled Lambda retried by the state's Retry, and a Distributed Map over 1000 items calling an
//! asynchronous OpenFaaS function whose gateway refuses one call in ten.

use std::collections::BTreeMap;
use std::sync::Arc;

use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::{GatewayConfig, LambdaConfig, OpenFaasConfig, RouteConfig};
use legion_connectors::{Config, Router};
use legion_engine::history::{ErrorDetails, Event};
use legion_engine::{Engine, ExecutionStatus, StartRequest, TaskTokens};
use legion_testkit::lambda::{Behaviour, LambdaServer};
use legion_testkit::openfaas::{handler, FunctionReply, Gateway, GatewayConfig as FakeGatewayConfig};
use serde_json::{json, Value};

async fn engine_with(config: Config) -> (Engine, Router) {
    let tokens = TaskTokens::new();
    let router = Router::builder(config, tokens.clone()).build().await.expect("the router starts");
    let engine = Engine::builder().time_scale(0.0).task_tokens(tokens).dispatcher(Arc::new(router.clone())).build();
    (engine, router)
}

fn machine(definition: &Value) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse_str(&definition.to_string(), ParseOptions::default()).expect("valid definition"))
}

fn lambda_config(server: &LambdaServer) -> Config {
    Config {
        lambda: LambdaConfig { endpoint: Some(server.url()), region: Some("us-east-1".into()) },
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_lambda_is_retried_per_the_retry_block_then_succeeds() {
    let server = LambdaServer::start("123456789012", "us-east-1").await.unwrap();
    server.add("busy", Behaviour::ThrottleFirst(2, Box::new(Behaviour::Identity)));
    let (engine, _router) = engine_with(lambda_config(&server)).await;
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "busy", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 3, "IntervalSeconds": 1}],
        "ResultSelector": {"echo.$": "$.Payload", "status.$": "$.StatusCode"},
        "End": true}}});
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(&definition), "t", json!({"n": 7}))).await.expect("the execution starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"echo": {"n": 7}, "status": 200})));
    let failures: Vec<ErrorDetails> = execution
        .history()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::TaskFailed { error, .. } => Some(*error),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 2, "two throttled attempts");
    assert_eq!(failures[0].error.as_deref(), Some("Lambda.TooManyRequestsException"));
    let cause = failures[0].cause.as_deref().unwrap_or_default();
    assert!(
        cause.starts_with("Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException"),
        "{cause}"
    );
    assert_eq!(server.invocations().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_lambda_without_retry_fails_with_the_aws_error() {
    let server = LambdaServer::start("123456789012", "us-east-1").await.unwrap();
    server.add("busy", Behaviour::ThrottleFirst(5, Box::new(Behaviour::Identity)));
    let (engine, _router) = engine_with(lambda_config(&server)).await;
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:busy", "End": true}}});
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&definition), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("Lambda.TooManyRequestsException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_errors_and_missing_functions_use_aws_names() {
    let server = LambdaServer::start("123456789012", "us-east-1").await.unwrap();
    server.add("boom", Behaviour::exception("kaput"));
    let (engine, _router) = engine_with(lambda_config(&server)).await;
    let call = |name: &str| {
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": name}, "End": true}}})
    };
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call("boom")), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("Exception"));
    let cause: Value = serde_json::from_str(outcome.cause.as_deref().unwrap_or("null")).unwrap();
    assert_eq!(cause["errorMessage"], "kaput");
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call("nope")), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("Lambda.ResourceNotFoundException"));
    assert!(outcome.cause.unwrap_or_default().starts_with(
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST (Service: AWSLambda; Status Code: 404"
    ));
}

/// A gateway with `double`: `{"n": x}` → `{"n": x, "double": 2x}`.
async fn gateway(config: FakeGatewayConfig) -> Gateway {
    let gw = Gateway::start(config).await.unwrap();
    gw.deploy(
        "double",
        handler(|call| async move {
            match serde_json::from_slice::<Value>(&call.body) {
                Ok(v) => {
                    let n = v["n"].as_i64().unwrap_or_default();
                    FunctionReply::json(&json!({"n": n, "double": n * 2}))
                }
                Err(e) => FunctionReply::text(500, &e.to_string()),
            }
        }),
    );
    gw
}

fn openfaas_config(gw: &Gateway, password: Option<&str>) -> Config {
    let mut gateways = BTreeMap::new();
    gateways.insert(
        "default".to_owned(),
        GatewayConfig {
            url: gw.url(),
            username: password.map(|_| "admin".into()),
            password: password.map(str::to_owned),
        },
    );
    Config { openfaas: OpenFaasConfig { gateways, ..OpenFaasConfig::default() }, ..Config::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_distributed_map_over_1000_async_calls_gets_every_callback_in_order_despite_5xx() {
    let gw =
        gateway(FakeGatewayConfig { fail_every: Some(10), queue_workers: 8, ..FakeGatewayConfig::default() }).await;
    let (engine, _router) = engine_with(openfaas_config(&gw, None)).await;
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "MaxConcurrency": 100,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Double", "States": {"Double": {
                "Type": "Task", "Resource": "arn:legion:states:::openfaas:invoke.sync",
                "Parameters": {"FunctionName": "double", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["OpenFaaS.StatusCode.503"], "MaxAttempts": 10, "IntervalSeconds": 1}],
                "ResultSelector": {"double.$": "$.Payload.double", "status.$": "$.StatusCode"},
                "End": true}}},
        "End": true}}});
    let items: Vec<Value> = (0..1000).map(|n| json!({"n": n})).collect();
    let (_, outcome) = engine
        .run(StartRequest::new(machine(&definition), "fan", Value::Array(items)))
        .await
        .expect("the execution starts");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let results = outcome.output.unwrap_or_default();
    let results = results.as_array().expect("an array of results");
    assert_eq!(results.len(), 1000);
    for (n, r) in results.iter().enumerate() {
        assert_eq!(r, &json!({"double": 2 * n as i64, "status": 200}), "item {n}");
    }
    let stats = gw.stats();
    assert!(stats.injected_failures >= 100, "the gateway refused about one call in ten: {stats:?}");
    // Refusals hit both the submissions and the queue worker's own calls of the function (whose
    // callbacks then report 503 and are retried): each item's function ran exactly once to success,
    // and every callback, failed ones included, reached a waiting task.
    assert_eq!(stats.sync_calls, 1000, "each function call that got through ran once: {stats:?}");
    assert_eq!(stats.callbacks_delivered, stats.queued, "every queued call reported back: {stats:?}");
    assert_eq!(stats.callbacks_failed, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openfaas_sync_calls_send_basic_auth_and_name_status_errors() {
    let gw =
        gateway(FakeGatewayConfig { basic_auth: Some(("admin".into(), "pw".into())), ..FakeGatewayConfig::default() })
            .await;
    gw.deploy("fails", handler(|_| async { FunctionReply::text(500, "exploded") }));
    let (engine, _router) = engine_with(openfaas_config(&gw, Some("pw"))).await;
    let call = |f: &str| {
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:legion:states:::openfaas:invoke",
            "Parameters": {"FunctionName": f, "Payload": {"n": 21}}, "End": true}}})
    };
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(&call("double")), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.output.as_ref().map(|o| o["Payload"].clone()), Some(json!({"n": 21, "double": 42})));
    let Event::TaskScheduled(scheduled) = &execution.history()[2].event else {
        panic!("the task was scheduled: {:?}", execution.history()[2]);
    };
    assert_eq!(&*scheduled.service.resource_type, "openfaas");
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call("fails")), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("OpenFaaS.StatusCode.500"));
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call("missing")), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("OpenFaaS.StatusCode.404"));
    // Without credentials the gateway refuses the call.
    let (engine, _router) = engine_with(openfaas_config(&gw, None)).await;
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call("double")), "t", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("OpenFaaS.StatusCode.401"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_runs_an_unmodified_lambda_definition_on_an_async_openfaas_function() {
    let gw = gateway(FakeGatewayConfig::default()).await;
    let mut config = openfaas_config(&gw, None);
    config.routes = vec![serde_json::from_value::<RouteConfig>(
        json!({"match": "arn:aws:lambda:*:*:function:doubler", "openfaas": {"function": "double", "async": true}}),
    )
    .unwrap()];
    let (engine, _router) = engine_with(config).await;
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:doubler", "Payload.$": "$"},
              "ResultSelector": {"d.$": "$.Payload.double"}, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:doubler", "End": true}}});
    let (execution, outcome) =
        engine.run(StartRequest::new(machine(&definition), "r", json!({"n": 4}))).await.expect("the execution starts");
    assert_eq!(outcome.output, Some(json!({"n": 4, "double": 8})), "{outcome:?}");
    let types: Vec<&str> = execution.history().iter().map(|e| e.event_type().name()).collect();
    assert!(types.contains(&"TaskSubmitted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_answer_named_states_and_count_retries_as_invocations() {
    let dir = std::env::temp_dir().join(format!("legion-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("MockConfigFile.json");
    std::fs::write(
        &path,
        json!({"StateMachines": {"m": {"TestCases": {"Retry": {"Call": "Flaky"}}}},
               "MockedResponses": {"Flaky": {"0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}},
                                             "2": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}}}})
        .to_string(),
    )
    .unwrap();
    let config = Config { mock_config: Some(path), test_case: Some("Retry".into()), ..Config::default() };
    let (engine, _router) = engine_with(config).await;
    let definition = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "never-called"},
        "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 2}],
        "OutputPath": "$.Payload", "End": true}}});
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&definition), "m", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.output, Some(json!({"ok": true})), "{outcome:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_task_sends_query_headers_and_encoded_bodies_and_names_status_errors() {
    use legion_testkit::http::{text, Server};
    let server = Server::start(Arc::new(|req| {
        Box::pin(async move {
            let echo = json!({
                "method": req.method.as_str(),
                "path": req.path,
                "query": req.query,
                "tenant": req.headers.get("x-tenant").and_then(|v| v.to_str().ok()),
                "type": req.headers.get("content-type").and_then(|v| v.to_str().ok()),
                "body": String::from_utf8_lossy(&req.body),
            });
            if req.path == "/missing" {
                return text(hyper::StatusCode::NOT_FOUND, "no such thing");
            }
            let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(echo.to_string())));
            r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
            r
        })
    }))
    .await
    .unwrap();
    let (engine, _router) = engine_with(Config::default()).await;
    let call = |params: Value| {
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
            "Parameters": params, "End": true}}})
    };
    let params = json!({"ApiEndpoint": format!("{}/items", server.url()), "Method": "POST",
        "Headers": {"X-Tenant": "a"}, "QueryParameters": {"ids": [1, 2]},
        "RequestBody": {"name": "x y", "tags": ["p", "q"]},
        "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}}});
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call(params)), "h", json!({}))).await.expect("the execution starts");
    let out = outcome.output.expect("the call succeeds");
    assert_eq!(out["StatusCode"], 200);
    assert_eq!(out["StatusText"], "OK");
    let echo = &out["ResponseBody"];
    assert_eq!(echo["path"], "/items");
    assert_eq!(echo["query"], "ids%5B%5D=1&ids%5B%5D=2");
    assert_eq!(echo["tenant"], "a");
    assert_eq!(echo["type"], "application/x-www-form-urlencoded");
    assert_eq!(echo["body"], "name=x%20y&tags%5B%5D=p&tags%5B%5D=q");
    let params = json!({"ApiEndpoint": format!("{}/missing", server.url()), "Method": "GET"});
    let (_, outcome) =
        engine.run(StartRequest::new(machine(&call(params)), "h", json!({}))).await.expect("the execution starts");
    assert_eq!(outcome.error.as_deref(), Some("States.Http.StatusCode.404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_host_limit_holds_http_tasks_to_its_concurrency() {
    use legion_testkit::http::Server;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), most.clone());
    let server = Server::start(Arc::new(move |_req| {
        let (now, most) = (n.clone(), m.clone());
        Box::pin(async move {
            let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(in_flight, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        })
    }))
    .await
    .unwrap();
    let limit = legion_connectors::config::LimitConfig {
        target: "http:127.0.0.1".into(),
        max_concurrency: Some(1),
        per_second: None,
    };
    let (engine, _router) = engine_with(Config { limits: vec![limit], ..Config::default() }).await;
    let definition = json!({"StartAt": "Calls", "States": {"Calls": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "Call", "States": {"Call": {"Type": "Task",
            "Resource": "arn:aws:states:::http:invoke", "ResultSelector": {"s.$": "$.StatusCode"},
            "Parameters": {"ApiEndpoint": format!("{}/x", server.url()), "Method": "GET"}, "End": true}}}}}});
    let (_, outcome) = engine
        .run(StartRequest::new(machine(&definition), "h", json!([1, 2, 3, 4])))
        .await
        .expect("the execution starts");
    assert_eq!(outcome.output, Some(json!([{"s": 200}, {"s": 200}, {"s": 200}, {"s": 200}])), "{outcome:?}");
    assert_eq!(most.load(Ordering::SeqCst), 1, "one call at a time to the limited host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_wait_for_task_token_and_event_invocations() {
    let server = LambdaServer::start("123456789012", "us-east-1").await.unwrap();
    server.add("approver", Behaviour::Identity);
    let (engine, _router) = engine_with(lambda_config(&server)).await;
    let definition = json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "approver", "Payload": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 600, "ResultPath": "$.approval", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "approver", "InvocationType": "Event", "Payload": {"done": true}},
                   "ResultSelector": {"status.$": "$.StatusCode", "payload.$": "$.Payload"},
                   "ResultPath": "$.notified", "End": true}}});
    let execution =
        engine.start(StartRequest::new(machine(&definition), "w", json!({}))).await.expect("the execution starts");
    // The function got the token in its event; answer for it as an approver would.
    let token = loop {
        if let Some(i) = server.invocations().first() {
            break i.event["token"].as_str().unwrap_or_default().to_owned();
        }
        tokio::task::yield_now().await;
    };
    engine.send_task_success(&token, json!({"approved": true})).expect("the task waits for its token");
    let outcome = execution.outcome().await;
    assert_eq!(
        outcome.output,
        Some(json!({"approval": {"approved": true}, "notified": {"status": 202, "payload": ""}})),
        "{outcome:?}"
    );
    let types: Vec<&str> = execution.history().iter().map(|e| e.event_type().name()).collect();
    assert_eq!(&types[2..6], ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]);
}
