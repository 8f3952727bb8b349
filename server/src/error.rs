//! [`ApiError`]: every failure the API answers, with AWS's exception name (`__type`), HTTP status and
//! message, rendered as the AWS JSON 1.0 protocol renders errors.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::protocol::{request_id, CONTENT_TYPE};

/// An API failure, named as AWS names it. Each variant carries the message sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // Each variant is the AWS exception of the same name.
pub enum ApiError {
    #[error("{0}")]
    ActivityDoesNotExist(String),
    #[error("{0}")]
    ActivityAlreadyExists(String),
    #[error("{0}")]
    ActivityWorkerLimitExceeded(String),
    #[error("{0}")]
    ConflictException(String),
    #[error("{0}")]
    ExecutionAlreadyExists(String),
    #[error("{0}")]
    ExecutionDoesNotExist(String),
    #[error("{0}")]
    ExecutionNotRedrivable(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("{0}")]
    InvalidDefinition(String),
    #[error("{0}")]
    InvalidExecutionInput(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidOutput(String),
    #[error("{0}")]
    InvalidToken(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    StateMachineAlreadyExists(String),
    #[error("{0}")]
    StateMachineDeleting(String),
    #[error("{0}")]
    StateMachineDoesNotExist(String),
    #[error("{0}")]
    StateMachineTypeNotSupported(String),
    #[error("{0}")]
    TaskDoesNotExist(String),
    #[error("{0}")]
    TaskTimedOut(String),
    #[error("{0}")]
    ServiceQuotaExceededException(String),
    /// A model constraint was breached; `reason` is AWS's machine-readable reason, when it has one.
    #[error("{message}")]
    ValidationException { message: String, reason: Option<&'static str> },
    /// The body is not JSON, or a member has the wrong type.
    #[error("{0}")]
    SerializationException(String),
    /// `X-Amz-Target` names no operation.
    #[error("{0}")]
    UnknownOperationException(String),
    /// The body is larger than the service accepts.
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// The request (its body) was not received in time: AWS's common `RequestTimeoutException` (408).
    #[error("{0}")]
    RequestTimeoutException(String),
    /// No `Authorization` header on a server that requires signed requests (`--auth`).
    #[error("{0}")]
    MissingAuthenticationTokenException(String),
    /// The access key id is not one the server knows.
    #[error("{0}")]
    UnrecognizedClientException(String),
    /// The signature does not match, or it expired.
    #[error("{0}")]
    InvalidSignatureException(String),
    /// The `Authorization` header lacks a part of a signature.
    #[error("{0}")]
    IncompleteSignatureException(String),
    /// A fault of this server.
    #[error("{0}")]
    InternalFailure(String),
    /// The execution store is failing for now (AWS's common `ServiceUnavailable`, 503): retry later.
    #[error("{0}")]
    ServiceUnavailable(String),
}

impl From<legion_engine::StoreError> for ApiError {
    fn from(e: legion_engine::StoreError) -> ApiError {
        use legion_engine::StoreError as E;
        match e {
            E::AlreadyExists(arn) => ApiError::ExecutionAlreadyExists(format!("Execution Already Exists: '{arn}'")),
            E::InvalidToken(t) => ApiError::InvalidToken(format!("Invalid Token: '{t}'")),
            E::Unavailable(_) => ApiError::ServiceUnavailable(e.to_string()),
            _ => ApiError::InternalFailure(e.to_string()),
        }
    }
}

impl ApiError {
    /// A ValidationException without a reason.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::ValidationException { message: message.into(), reason: None }
    }

    /// AWS's `1 validation error detected: …` message for one breached constraint.
    pub fn constraint(value: &str, field: &str, constraint: &str) -> ApiError {
        ApiError::validation(format!(
            "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// A missing required member.
    pub fn missing(field: &str) -> ApiError {
        ApiError::constraint("null", field, "Member must not be null")
    }

    /// `Invalid Arn: '…'`.
    pub fn invalid_arn(arn: &str) -> ApiError {
        ApiError::InvalidArn(format!("Invalid Arn: '{arn}'"))
    }

    /// The exception name sent as `__type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ApiError::ActivityDoesNotExist(_) => "ActivityDoesNotExist",
            ApiError::ActivityAlreadyExists(_) => "ActivityAlreadyExists",
            ApiError::ActivityWorkerLimitExceeded(_) => "ActivityWorkerLimitExceeded",
            ApiError::ConflictException(_) => "ConflictException",
            ApiError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            ApiError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            ApiError::ExecutionNotRedrivable(_) => "ExecutionNotRedrivable",
            ApiError::InvalidArn(_) => "InvalidArn",
            ApiError::InvalidDefinition(_) => "InvalidDefinition",
            ApiError::InvalidExecutionInput(_) => "InvalidExecutionInput",
            ApiError::InvalidName(_) => "InvalidName",
            ApiError::InvalidOutput(_) => "InvalidOutput",
            ApiError::InvalidToken(_) => "InvalidToken",
            ApiError::ResourceNotFound(_) => "ResourceNotFound",
            ApiError::StateMachineAlreadyExists(_) => "StateMachineAlreadyExists",
            ApiError::StateMachineDeleting(_) => "StateMachineDeleting",
            ApiError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            ApiError::StateMachineTypeNotSupported(_) => "StateMachineTypeNotSupported",
            ApiError::TaskDoesNotExist(_) => "TaskDoesNotExist",
            ApiError::TaskTimedOut(_) => "TaskTimedOut",
            ApiError::ServiceQuotaExceededException(_) => "ServiceQuotaExceededException",
            ApiError::ValidationException { .. } => "ValidationException",
            ApiError::SerializationException(_) => "SerializationException",
            ApiError::UnknownOperationException(_) => "UnknownOperationException",
            ApiError::RequestEntityTooLarge(_) => "RequestEntityTooLargeException",
            ApiError::RequestTimeoutException(_) => "RequestTimeoutException",
            ApiError::MissingAuthenticationTokenException(_) => "MissingAuthenticationTokenException",
            ApiError::UnrecognizedClientException(_) => "UnrecognizedClientException",
            ApiError::InvalidSignatureException(_) => "InvalidSignatureException",
            ApiError::IncompleteSignatureException(_) => "IncompleteSignatureException",
            ApiError::InternalFailure(_) => "InternalFailure",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
        }
    }

    /// The HTTP status: 400 for every modelled exception and the authentication ones (as AWS JSON
    /// services such as Step Functions answer them; the status of those is not documented, a guess), 413 for an oversized body, 408 for a body not
    /// received in time, 500 for faults.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InternalFailure(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestEntityTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeoutException(_) => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"__type": self.type_name(), "message": self.to_string()});
        if let ApiError::ValidationException { reason: Some(reason), .. } = &self {
            body["reason"] = json!(reason);
        }
        let mut response = (self.status(), body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.type_name()));
        if let Ok(id) = HeaderValue::from_str(&request_id()) {
            headers.insert("x-amzn-RequestId", id);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_as_aws_json() {
        let e = ApiError::StateMachineDoesNotExist("State Machine Does Not Exist: 'x'".into());
        assert_eq!(e.type_name(), "StateMachineDoesNotExist");
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["x-amzn-ErrorType"], "StateMachineDoesNotExist");
    }

    #[test]
    fn validation_messages_follow_aws_wording() {
        let e = ApiError::missing("name");
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
        );
    }
}
