//! The AWS JSON 1.0 protocol as Step Functions speaks it: `X-Amz-Target: AWSStepFunctions.<Operation>`
//! names the operation, the body is a JSON object, answers carry `x-amzn-RequestId`, timestamps are
//! epoch seconds.
//!
//! [`AwsJson`] decodes a request body into an operation's input type, turning every malformed body into
//! the exception AWS would answer (`SerializationException`), so handlers only see typed input.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::error::ApiError;

/// The content type of every request and response.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The prefix of `X-Amz-Target` values.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// A fresh request id for `x-amzn-RequestId`.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request body decoded as an operation's input.
#[derive(Debug, Clone)]
pub struct AwsJson<T>(pub T);

impl<T: DeserializeOwned> AwsJson<T> {
    /// Decodes a body; an empty body is `{}`.
    pub fn from_bytes(body: &[u8]) -> Result<T, ApiError> {
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
        // An object decodes straight into the input type; anything else, or a body that does not
        // decode that way, takes the longer way below, whose errors are the ones answered.
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            if let Ok(input) = serde_json::from_slice(body) {
                return Ok(input);
            }
        }
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::SerializationException(format!("Malformed request body: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::SerializationException("The request body must be a JSON object".into()));
        }
        serde_json::from_value(value).map_err(|e| ApiError::SerializationException(e.to_string()))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AwsJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::RequestEntityTooLarge("Request entity too large".into())
            } else {
                ApiError::SerializationException(e.body_text())
            }
        })?;
        AwsJson::from_bytes(&bytes).map(AwsJson)
    }
}

/// A successful answer: the output serialised as JSON, with the protocol's headers.
pub fn respond<O: Serialize>(output: &O) -> Response {
    match serde_json::to_string(output) {
        Ok(body) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            if let Ok(id) = HeaderValue::from_str(&request_id()) {
                headers.insert("x-amzn-RequestId", id);
            }
            response
        }
        Err(e) => ApiError::InternalFailure(format!("cannot encode the response: {e}")).into_response(),
    }
}

/// Serialises a timestamp as epoch seconds with millisecond precision (serde `serialize_with`).
pub fn epoch<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(epoch_seconds(*t))
}

/// Serialises an optional timestamp as epoch seconds (serde `serialize_with`).
pub fn epoch_opt<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_f64(epoch_seconds(*t)),
        None => s.serialize_none(),
    }
}

/// Epoch seconds with millisecond precision.
pub fn epoch_seconds(t: OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        /// Every operation of the Step Functions API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // Each variant is the operation of the same name.
        pub enum Operation { $($name),* }

        impl Operation {
            /// Every operation, in the order they are declared.
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            /// The operation's name (`StartExecution`…).
            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),* }
            }
        }

        impl FromStr for Operation {
            type Err = ApiError;

            /// Parses an `X-Amz-Target` value (`AWSStepFunctions.StartExecution`).
            fn from_str(target: &str) -> Result<Operation, ApiError> {
                let name = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
                match name {
                    $(stringify!($name) => Ok(Operation::$name),)*
                    _ => Err(ApiError::UnknownOperationException(format!(
                        "The requested operation is not recognized: '{target}'"
                    ))),
                }
            }
        }
    };
}

operations!(
    CreateStateMachine,
    DescribeStateMachine,
    UpdateStateMachine,
    DeleteStateMachine,
    ListStateMachines,
    ValidateStateMachineDefinition,
    PublishStateMachineVersion,
    ListStateMachineVersions,
    DeleteStateMachineVersion,
    CreateStateMachineAlias,
    DescribeStateMachineAlias,
    UpdateStateMachineAlias,
    DeleteStateMachineAlias,
    ListStateMachineAliases,
    TagResource,
    UntagResource,
    ListTagsForResource,
    StartExecution,
    StartSyncExecution,
    DescribeExecution,
    StopExecution,
    ListExecutions,
    GetExecutionHistory,
    RedriveExecution,
    DescribeStateMachineForExecution,
    DescribeMapRun,
    ListMapRuns,
    UpdateMapRun,
    CreateActivity,
    DescribeActivity,
    DeleteActivity,
    ListActivities,
    GetActivityTask,
    SendTaskSuccess,
    SendTaskFailure,
    SendTaskHeartbeat,
    TestState,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn targets_parse_and_unknown_ones_are_refused() {
        assert_eq!("AWSStepFunctions.StartExecution".parse::<Operation>(), Ok(Operation::StartExecution));
        let err = "AWSStepFunctions.Nope".parse::<Operation>().unwrap_err();
        assert_eq!(err.type_name(), "UnknownOperationException");
        assert!("StartExecution".parse::<Operation>().is_err());
    }

    #[derive(Debug, Deserialize)]
    struct Input {
        #[allow(dead_code)]
        name: Option<String>,
    }

    #[test]
    fn malformed_bodies_are_serialization_errors() {
        assert!(AwsJson::<Input>::from_bytes(b"").is_ok());
        for bad in [&b"{"[..], b"[1]", b"{\"name\": 5}", b"\xff"] {
            let e = AwsJson::<Input>::from_bytes(bad).unwrap_err();
            assert_eq!(e.type_name(), "SerializationException", "{bad:?}");
        }
    }

    #[test]
    fn timestamps_are_epoch_seconds_with_millis() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("valid");
        assert_eq!(epoch_seconds(t), 1_700_000_000.123);
    }
}
