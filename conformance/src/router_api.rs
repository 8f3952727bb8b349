//! TestState through the API: cases are sent to the router of `legion serve` as HTTP requests, so
//! they check the wire format as well as the engine.

use axum::body::{to_bytes, Body};
use axum::http::Request;
use axum::Router;
use legion_server::protocol::{CONTENT_TYPE, TARGET_PREFIX};
use serde_json::Value;
use tower::ServiceExt;

use crate::runner::{ApiError, BoxFuture};
use crate::test_state_runner::TestStateApi;

/// Calls TestState on a router, without a socket.
#[derive(Clone)]
pub struct RouterTestState {
    router: Router,
}

impl RouterTestState {
    /// Calls `router` (see [`legion_server::app`]).
    pub fn new(router: Router) -> RouterTestState {
        RouterTestState { router }
    }
}

impl TestStateApi for RouterTestState {
    fn test_state(&self, body: Value) -> BoxFuture<'_, Result<Value, ApiError>> {
        Box::pin(async move {
            let internal = |m: String| ApiError { error_type: "ClientError".into(), message: m };
            let request = Request::post("/")
                .header("content-type", CONTENT_TYPE)
                .header("x-amz-target", format!("{TARGET_PREFIX}TestState"))
                .body(Body::from(body.to_string()))
                .map_err(|e| internal(e.to_string()))?;
            let response = self.router.clone().oneshot(request).await.map_err(|e| internal(e.to_string()))?;
            let ok = response.status().is_success();
            let bytes = to_bytes(response.into_body(), usize::MAX).await.map_err(|e| internal(e.to_string()))?;
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| internal(e.to_string()))?;
            if ok {
                return Ok(value);
            }
            let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            Err(ApiError { error_type: field("__type"), message: field("message") })
        })
    }
}
