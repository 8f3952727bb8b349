//! The web console on the API's listener: `GET /console/…` pages whose data comes from the API's
//! own operations, called in-process through [`crate::api::dispatch`] with AWS JSON bodies, so a
//! page shows exactly what DescribeExecution, GetExecutionHistory or DescribeMapRun answer.

use async_trait::async_trait;
use axum::body::Bytes;
use legion_console::{ApiFailure, ConsoleApi};
use serde_json::Value;

use crate::{api, AppState, Operation};

/// [`ConsoleApi`] over the server's handlers.
pub struct InProcessApi(pub AppState);

/// Largest response the console reads from one API call.
const RESPONSE_LIMIT: usize = 64 * 1024 * 1024;

#[async_trait]
impl ConsoleApi for InProcessApi {
    async fn call(&self, operation: &str, request: Value) -> Result<Value, ApiFailure> {
        let failure = |kind: &str, message: String| ApiFailure { kind: kind.to_owned(), message };
        let operation: Operation = format!("AWSStepFunctions.{operation}")
            .parse()
            .map_err(|e: crate::ApiError| failure(e.type_name(), e.to_string()))?;
        let body = serde_json::to_vec(&request).map_err(|e| failure("SerializationException", e.to_string()))?;
        let response = api::dispatch(self.0.clone(), operation, Bytes::from(body)).await;
        let ok = response.status().is_success();
        let bytes = axum::body::to_bytes(response.into_body(), RESPONSE_LIMIT)
            .await
            .map_err(|e| failure("InternalServerError", e.to_string()))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if ok {
            return Ok(value);
        }
        let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        Err(failure(&text("__type"), text("message")))
    }
}
