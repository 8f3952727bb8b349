//! The fuzz targets' bodies, one function per target, so that a crash input can be replayed from a
//! plain test as well as from libFuzzer.
//!
//! Inputs that carry two parts (an expression and a document, a definition and an execution input)
//! separate them with a NUL byte; the API target's input is a sequence of requests, each an
//! operation byte followed by its body, separated by NUL bytes.

use std::sync::Arc;
use std::time::Duration;

use legion_asl::intrinsics::Intrinsic;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_asl::path::{NoVars, Path, Scope};
use legion_asl::template::{Env, Template};
use legion_engine::{Engine, LocalHandlers, StartRequest, TaskError};
use legion_server::Operation;
use serde_json::{json, Map, Value};

/// Lets a panic raised inside jsonata-core unwind to the `catch_unwind` of
/// `legion_asl::jsonata::Expression` (which answers it as an evaluation error), and aborts on every
/// other panic, as libFuzzer's own hook does. Call it from a target's `init`.
///
/// jsonata-core 2.2.13 computes a range's size as `end - start + 1` in `i64`, which overflows under
/// overflow checks (on in fuzz builds) for `[0..1e300]`; a release build wraps, and its size check
/// answers D2014.
pub fn contain_jsonata_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_jsonata = info.location().is_some_and(|l| l.file().contains("jsonata-core"));
        if !in_jsonata {
            abort(info);
        }
    }));
}

/// Splits `data` at its first NUL byte.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Parses `bytes` as JSON, or takes them as a JSON string when they are not JSON.
pub fn json_or_string(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Target `parse_definition`: definition text → parse and validate.
pub fn parse_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(diagnostics) = parse_str(text, ParseOptions::default()) {
        for d in diagnostics.iter() {
            let _ = d.to_string();
        }
    }
}

/// What the first byte of an `evaluate_expression` input selects.
#[derive(Debug, Clone, Copy)]
enum Expression {
    Path,
    ReferencePath,
    Intrinsic,
    PayloadTemplate,
    Jsonata,
}

impl Expression {
    fn from_byte(b: u8) -> Expression {
        match b % 5 {
            0 => Expression::Path,
            1 => Expression::ReferencePath,
            2 => Expression::Intrinsic,
            3 => Expression::PayloadTemplate,
            _ => Expression::Jsonata,
        }
    }
}

/// Target `evaluate_expression`: a kind byte, an expression (a path, a reference path, an intrinsic
/// call, a payload template as JSON, or a JSONata expression), NUL, a JSON document → evaluate it
/// with the document as `$`, `$$` and `$states.input`, and a variable `$v`.
pub fn evaluate_expression(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let (expression, document) = split(rest);
    let Ok(expression) = std::str::from_utf8(expression) else { return };
    let document = json_or_string(document);
    let mut vars = Map::new();
    vars.insert("v".into(), document.clone());
    let scope = Scope { data: &document, context: &document, vars: &vars };
    match Expression::from_byte(kind) {
        Expression::Path => {
            if let Ok(path) = Path::parse(expression) {
                let _ = path.eval(&scope);
                let _ = path.to_string();
            }
        }
        Expression::ReferencePath => {
            if let Ok(path) = Path::parse_reference(expression) {
                let _ = path.select(&document);
                let mut target = document.clone();
                let _ = path.set(&mut target, json!({"set": true}));
            }
        }
        Expression::Intrinsic => {
            if let Ok(call) = Intrinsic::parse(expression) {
                if let Err(e) = call.eval(&scope) {
                    let _ = (e.error_name(), e.cause());
                }
            }
        }
        Expression::PayloadTemplate => {
            let Ok(value) = serde_json::from_str::<Value>(expression) else { return };
            let mut diagnostics = Vec::new();
            let template = Template::jsonpath(&value, "/Parameters", &mut diagnostics);
            if diagnostics.is_empty() {
                let env = Env { data: &document, context: &document, vars: &vars, states: &Value::Null };
                let _ = template.eval(&env);
            }
        }
        Expression::Jsonata => {
            let mut diagnostics = Vec::new();
            let source = Value::String(format!("{{% {expression} %}}"));
            let template = Template::jsonata(&source, "Output", "/Output", &mut diagnostics);
            if diagnostics.is_empty() {
                let states = json!({"input": document, "context": {"Execution": {"Id": "x"}}});
                let env = Env { data: &Value::Null, context: &document, vars: &NoVars, states: &states };
                let _ = template.eval(&env);
            }
        }
    }
}

/// How many history events an execution may record before it is stopped.
pub const STEP_BUDGET: usize = 2_000;

/// How long an execution may run before it is stopped, however few events it recorded.
pub const TIME_BUDGET: Duration = Duration::from_millis(500);

/// How long a stopped execution may take to end; longer is a finding.
pub const STOP_BUDGET: Duration = Duration::from_secs(5);

/// Task targets for `run_execution`: an echo function, a Lambda-style integration, a failing one, a
/// slow one.
fn handlers() -> LocalHandlers {
    LocalHandlers::new()
        .resource("arn:aws:lambda:us-east-1:123456789012:function:echo", |r| async move { Ok(r.input) })
        .resource(
            "arn:aws:states:::lambda:invoke",
            |r| async move { Ok(json!({"Payload": r.input, "StatusCode": 200})) },
        )
        .resource("arn:aws:lambda:us-east-1:123456789012:function:fail", |_| async move {
            Err(TaskError::new("Custom.Error", "it failed"))
        })
        .resource("arn:aws:states:::http:invoke", |r| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(r.input)
        })
}

/// Target `run_execution`: definition text, NUL, execution input → parse and, when it parses, run
/// to the end on local handlers with time scale 0, within [`STEP_BUDGET`] events and
/// [`TIME_BUDGET`]. An execution that does not end once stopped, or that ends without an outcome
/// (a panic in its task), is a crash.
pub fn run_execution(data: &[u8]) {
    let (definition, input) = split(data);
    let Ok(definition) = std::str::from_utf8(definition) else { return };
    let Ok(machine) = parse_str(definition, ParseOptions::default()) else { return };
    let input = json_or_string(input);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers())).build();
    runtime.block_on(async {
        let execution = engine
            .start(StartRequest::new(Arc::new(machine), "fuzz", input))
            .await
            .expect("a fresh engine has every name free");
        let started = tokio::time::Instant::now();
        loop {
            if tokio::time::timeout(Duration::from_millis(20), execution.outcome()).await.is_ok() {
                break;
            }
            if execution.history().len() > STEP_BUDGET || started.elapsed() > TIME_BUDGET {
                execution.stop(None, None);
                let ended = tokio::time::timeout(STOP_BUDGET, execution.outcome()).await;
                assert!(ended.is_ok(), "a stopped execution did not end within {STOP_BUDGET:?}");
                break;
            }
        }
        let outcome = execution.outcome().await;
        assert_ne!(outcome.cause.as_deref(), Some("The execution ended unexpectedly"), "no outcome: {outcome:?}");
        for event in execution.history() {
            let _ = legion_server::history_json::event(&event);
        }
    });
}

/// The operation a request's first byte names: each of the API's, in declaration order, and then
/// one the API does not have.
pub fn operation(byte: u8) -> &'static str {
    let i = usize::from(byte) % (Operation::ALL.len() + 1);
    Operation::ALL.get(i).map_or("NoSuchOperation", |o| o.name())
}

/// The ARN of the state machine every `api_request` run starts with.
pub const MACHINE_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:fuzz";

/// How long one request may take before it is abandoned (a StartSyncExecution of a looping machine).
pub const REQUEST_BUDGET: Duration = Duration::from_secs(1);

/// Target `api_request`: requests (operation byte, body) separated by NUL → the server's router, on a
/// fresh server holding one state machine, one activity and one execution. Every answer must be an
/// AWS JSON error or success with a status below 500.
pub fn api_request(data: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers())).build();
        let state = legion_server::AppState::new(engine).with_activity_poll(Duration::from_millis(5));
        let router = legion_server::app(state);
        let definition = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Next":"T"},"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"t.$":"$$.Task.Token"},"End":true}}}"#;
        let setup = [
            ("CreateStateMachine", json!({"name": "fuzz", "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/r"})),
            ("CreateActivity", json!({"name": "act"})),
            ("StartExecution", json!({"stateMachineArn": MACHINE_ARN, "name": "first", "input": "{}"})),
        ];
        for (operation, body) in setup {
            let status = send(&router, operation, body.to_string().into_bytes()).await;
            assert_eq!(status, Some(200), "setup {operation}");
        }
        for request in data.split(|b| *b == 0) {
            let Some((&op, body)) = request.split_first() else { continue };
            let operation = operation(op);
            if let Some(status) = send(&router, operation, body.to_vec()).await {
                assert!(status < 500, "{operation} answered {status} to {:?}", String::from_utf8_lossy(body));
            }
        }
    });
}

/// Sends one request through the router; its status, or `None` when it took longer than
/// [`REQUEST_BUDGET`].
async fn send(router: &axum::Router, operation: &str, body: Vec<u8>) -> Option<u16> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let request = axum::http::Request::post("/")
        .header("x-amz-target", format!("AWSStepFunctions.{operation}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(axum::body::Body::from(body))
        .expect("a request");
    let response = tokio::time::timeout(REQUEST_BUDGET, router.clone().oneshot(request)).await.ok()?.ok()?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("every answer is JSON");
    if status >= 400 {
        assert!(body.get("__type").and_then(Value::as_str).is_some(), "an error without __type: {body}");
    }
    Some(status)
}
