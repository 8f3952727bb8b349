//! TestState cases through a TestState API: the case's request is sent as the wire request an AWS SDK
//! would send, and the wire response (or API error) is what the harness compares.
//!
//! The harness does not know how the API is reached: a [`TestStateApi`] carries one call (`legion
//! conformance` and the tests use the HTTP router of `legion serve`). [`ApiRunner`] runs TestState cases
//! through it and every other case through [`EngineRunner`].

use serde_json::{Map, Value};

use crate::case::{Case, Spec, TestStateRequest, ACCOUNT_ID};
use crate::engine_runner::EngineRunner;
use crate::runner::{Actual, ApiError, BoxFuture, Runner};

/// The execution role sent with every TestState request.
///
/// The recorded requests leave `roleArn` out, while the tests that recorded them passed a role to
/// nearly every call (it shows up in the context objects of the recorded responses), so the runner
/// passes one as they did.
pub const ROLE_ARN: &str = "arn:aws:iam::111111111111:role/legion-conformance";

/// One TestState call in wire terms: the JSON request body in, the JSON response body or the API error
/// out.
pub trait TestStateApi: Send + Sync {
    /// Calls TestState.
    fn test_state(&self, body: Value) -> BoxFuture<'_, Result<Value, ApiError>>;
}

/// The wire request for a case's TestState request: definition, input, variables and context as JSON
/// text, the other members as they are.
pub fn wire_request(request: &TestStateRequest) -> Value {
    let mut body = Map::new();
    body.insert("definition".into(), Value::String(request.definition.to_string()));
    body.insert("input".into(), Value::String(request.input.to_string()));
    body.insert("roleArn".into(), Value::String(ROLE_ARN.replace("111111111111", ACCOUNT_ID)));
    let as_text = |v: &Option<Value>| v.as_ref().filter(|v| !v.is_null()).map(|v| Value::String(v.to_string()));
    if let Some(v) = as_text(&request.variables) {
        body.insert("variables".into(), v);
    }
    if let Some(c) = as_text(&request.context) {
        body.insert("context".into(), c);
    }
    if let Some(name) = &request.state_name {
        body.insert("stateName".into(), Value::String(name.clone()));
    }
    if let Some(level) = &request.inspection_level {
        body.insert("inspectionLevel".into(), Value::String(level.clone()));
    }
    if let Some(mock) = request.mock.as_ref().filter(|m| !m.is_null()) {
        body.insert("mock".into(), mock.clone());
    }
    if let Some(config) = request.state_configuration.as_ref().filter(|c| !c.is_null()) {
        body.insert("stateConfiguration".into(), config.clone());
    }
    for (k, v) in &request.other {
        if !v.is_null() {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Value::Object(body)
}

/// Runs TestState cases through a [`TestStateApi`] and the others through the engine.
pub struct ApiRunner<A> {
    engine: EngineRunner,
    api: A,
}

impl<A: TestStateApi> ApiRunner<A> {
    /// A runner calling `api` for TestState cases.
    pub fn new(api: A) -> ApiRunner<A> {
        ApiRunner { engine: EngineRunner, api }
    }
}

impl<A: TestStateApi> Runner for ApiRunner<A> {
    fn run<'a>(&'a self, case: &'a Case) -> BoxFuture<'a, Actual> {
        match &case.spec {
            Spec::TestState(spec) => {
                Box::pin(async move { Actual::TestState(self.api.test_state(wire_request(&spec.request)).await) })
            }
            _ => self.engine.run(case),
        }
    }
}
