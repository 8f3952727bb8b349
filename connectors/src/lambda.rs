//! AWS Lambda through aws-sdk-lambda: the `lambda:invoke` integration and bare function ARNs.
//!
//! - `arn:aws:states:::lambda:invoke` takes `FunctionName`, `Payload`, `InvocationType`, `Qualifier`,
//!   `ClientContext` and `LogType`, and returns AWS's envelope: `ExecutedVersion`, `LogResult` (with
//!   `LogType: Tail`), `Payload` (the answer, parsed when it is JSON), `SdkHttpMetadata`
//!   (`AllHttpHeaders`, `HttpHeaders`, `HttpStatusCode`), `SdkResponseMetadata` (`RequestId`) and
//!   `StatusCode`.
//! - `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` sends the effective input as
//!   the payload and returns the answer itself.
//! - A function error (`X-Amz-Function-Error`) fails the task with the function's `errorType` and
//!   the error document as cause (re-serialised compactly by `lambda:invoke`, verbatim for a bare
//!   ARN), `Lambda.Unknown` when it has no type. A service error fails it with `Lambda.<Code>`
//!   (`Lambda.ResourceNotFoundException`, `Lambda.TooManyRequestsException`…) and the Java SDK's
//!   message shape as cause; an error without a code is `Lambda.AWSLambdaException`, a client-side
//!   failure `Lambda.SdkClientException`.
//!
//! The SDK's own retries are off: throttling and service errors surface at once, so the state's
//! Retry decides. The endpoint comes from the configuration, else from `AWS_ENDPOINT_URL_LAMBDA` or
//! `AWS_ENDPOINT_URL` (read by the SDK); with a local endpoint and no AWS credentials in the
//! environment, fixed local credentials are used.

use std::sync::{Arc, Mutex};

use aws_sdk_lambda::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_lambda::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents, SharedCredentialsProvider,
};
use aws_sdk_lambda::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use legion_engine::TaskError;
use serde_json::{json, Map, Value};

use crate::config::LambdaConfig;
use crate::http::error_chain;

/// How a Lambda answer is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `lambda:invoke`: AWS's envelope.
    Envelope,
    /// A bare function ARN: the answer itself.
    Payload,
}

/// One Lambda invocation.
#[derive(Debug, Clone, Default)]
pub struct Invoke {
    /// `FunctionName`: a name, a partial or a full ARN.
    pub function_name: String,
    /// The payload bytes (absent: Lambda hands the function `{}`).
    pub payload: Option<Vec<u8>>,
    /// `InvocationType`.
    pub invocation_type: Option<String>,
    /// `Qualifier`.
    pub qualifier: Option<String>,
    /// `ClientContext` (base64).
    pub client_context: Option<String>,
    /// `LogType`.
    pub log_type: Option<String>,
    /// The temporary credentials of the role the task's `Credentials` name, if any.
    pub credentials: Option<Credentials>,
}

impl Invoke {
    /// The `lambda:invoke` parameters.
    pub fn from_parameters(params: &Value) -> Result<Invoke, TaskError> {
        let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
        let function_name = text("FunctionName")
            .ok_or_else(|| TaskError::new("States.Runtime", "The field 'FunctionName' is required but was missing"))?;
        Ok(Invoke {
            function_name,
            payload: payload_bytes(params.get("Payload")),
            invocation_type: text("InvocationType"),
            qualifier: text("Qualifier"),
            client_context: text("ClientContext"),
            log_type: text("LogType"),
            credentials: None,
        })
    }
}

/// `Payload` as bytes: a JSON string is sent as its text (as Step Functions does), null or absent
/// sends nothing, anything else is serialised.
pub fn payload_bytes(payload: Option<&Value>) -> Option<Vec<u8>> {
    match payload {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone().into_bytes()),
        Some(other) => Some(other.to_string().into_bytes()),
    }
}

/// The Lambda connector.
#[derive(Clone, Debug)]
pub struct LambdaConnector {
    config: LambdaConfig,
    default_region: String,
    client: Arc<tokio::sync::OnceCell<aws_sdk_lambda::Client>>,
}

impl LambdaConnector {
    /// A connector from configuration; `default_region` is used when neither the configuration nor
    /// the environment names one.
    pub async fn new(config: &LambdaConfig, default_region: &str) -> LambdaConnector {
        LambdaConnector {
            config: config.clone(),
            default_region: default_region.to_owned(),
            client: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The SDK client, built on first use: loading the AWS configuration (and the TLS roots behind
    /// it) costs milliseconds that a run which calls no Lambda function should not pay.
    async fn client(&self) -> &aws_sdk_lambda::Client {
        self.client.get_or_init(|| build_client(&self.config, &self.default_region)).await
    }

    /// True when calls go to an endpoint other than AWS's own (the configuration's, or
    /// `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL`).
    pub fn is_local(&self) -> bool {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let url =
            self.config.endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL_LAMBDA")).or_else(|| env("AWS_ENDPOINT_URL"));
        url.is_some_and(|u| crate::aws::client::is_local(&u))
    }

    /// Invokes a function and shapes the answer.
    pub async fn invoke(&self, call: Invoke, shape: Shape) -> Result<Value, TaskError> {
        let captured: Captured = Arc::new(Mutex::new(None));
        let mut request = self.client().await.invoke().function_name(&call.function_name);
        if let Some(p) = call.payload {
            request = request.payload(Blob::new(p));
        }
        if let Some(t) = &call.invocation_type {
            request = request.invocation_type(InvocationType::from(t.as_str()));
        }
        if let Some(q) = &call.qualifier {
            request = request.qualifier(q);
        }
        if let Some(c) = &call.client_context {
            request = request.client_context(c);
        }
        if let Some(l) = &call.log_type {
            request = request.log_type(LogType::from(l.as_str()));
        }
        let mut request = request.customize().interceptor(CaptureResponse { captured: captured.clone() });
        if let Some(c) = call.credentials {
            request = request.config_override(aws_sdk_lambda::config::Builder::default().credentials_provider(c));
        }
        let result = request.send().await;
        let output = match result {
            Ok(o) => o,
            Err(e) => return Err(service_error(&e)),
        };
        let body = output.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        if let Some(function_error) = output.function_error() {
            return Err(function_failure(function_error, &body, shape));
        }
        // The payload is the function's response body as the runtime sent it: JSON from the managed
        // runtimes' encoders, but any bytes from a Python handler returning `bytes` (passed through
        // unencoded) or from a custom runtime. JSON is parsed (AWS recorded b'"HelloWorld!"' as the
        // string "HelloWorld!" for both resource forms); other bytes become a string of their UTF-8
        // text. AWS documents no behaviour for a body that is not JSON; the string follows the
        // open-source emulators whose Lambda tests were recorded against AWS.
        let payload = if body.is_empty() && shape == Shape::Envelope {
            Value::String(String::new())
        } else {
            crate::http::body_value(&body)
        };
        if shape == Shape::Payload {
            return Ok(payload);
        }
        let (status, headers) = captured.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
        let request_id = aws_sdk_lambda::operation::RequestId::request_id(&output).unwrap_or_default().to_owned();
        let mut envelope = Map::new();
        if let Some(v) = output.executed_version() {
            envelope.insert("ExecutedVersion".into(), json!(v));
        }
        if let Some(l) = output.log_result() {
            envelope.insert("LogResult".into(), json!(l));
        }
        envelope.insert("Payload".into(), payload);
        envelope.insert("SdkHttpMetadata".into(), sdk_http_metadata(status, &headers));
        envelope.insert("SdkResponseMetadata".into(), json!({"RequestId": request_id}));
        envelope.insert("StatusCode".into(), json!(output.status_code()));
        Ok(Value::Object(envelope))
    }
}

/// AWS's envelope around an answer that did not come from Lambda (a routed call), so definitions
/// reading `$.Payload` keep working.
pub fn envelope(payload: Value, status: u16, headers: &[(String, String)], request_id: &str) -> Value {
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": sdk_http_metadata(status, headers),
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status,
    })
}

/// `SdkHttpMetadata` as Step Functions reports it: header names as Lambda spells them, `HttpHeaders`
/// sorted case-insensitively.
pub(crate) fn sdk_http_metadata(status: u16, headers: &[(String, String)]) -> Value {
    let mut all: Map<String, Value> = Map::new();
    let mut single: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = canonical_header(name);
        match all.get_mut(&name) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                all.insert(name.clone(), json!([value]));
            }
        }
        match single.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => single.push((name, value.clone())),
        }
    }
    single.sort_by_key(|(n, _)| n.to_ascii_lowercase());
    let single: Map<String, Value> = single.into_iter().map(|(k, v)| (k, json!(v))).collect();
    json!({"AllHttpHeaders": all, "HttpHeaders": single, "HttpStatusCode": status})
}

/// Header names as Lambda sends them (HTTP/1.1 clients lower-case them).
fn canonical_header(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "x-amzn-requestid" => "x-amzn-RequestId".to_owned(),
        "x-amzn-remapped-content-length" => "x-amzn-Remapped-Content-Length".to_owned(),
        "x-amzn-trace-id" => "X-Amzn-Trace-Id".to_owned(),
        "x-amz-executed-version" => "X-Amz-Executed-Version".to_owned(),
        "x-amz-function-error" => "X-Amz-Function-Error".to_owned(),
        "x-amz-log-result" => "X-Amz-Log-Result".to_owned(),
        lower => lower
            .split('-')
            .map(|part| {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// The task error for a function error.
fn function_failure(_function_error: &str, body: &[u8], shape: Shape) -> TaskError {
    let text = String::from_utf8_lossy(body).into_owned();
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed
        .as_ref()
        .and_then(|v| v.get("errorType"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| "Lambda.Unknown".to_owned());
    let cause = match (shape, parsed) {
        (Shape::Envelope, Some(v)) => v.to_string(),
        _ => text,
    };
    TaskError { error, cause: Some(cause) }
}

/// The task error for a failed Invoke call.
fn service_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
) -> TaskError {
    match e {
        SdkError::ServiceError(se) => {
            let raw = se.raw();
            let status = raw.status().as_u16();
            let err = se.err();
            let request_id = raw.headers().get("x-amzn-requestid").unwrap_or_default().to_owned();
            let (error, code) = match err.code() {
                Some(code) => (format!("Lambda.{code}"), code.to_owned()),
                None => ("Lambda.AWSLambdaException".to_owned(), "null".to_owned()),
            };
            let message = err.message().map(str::to_owned).unwrap_or_else(|| {
                let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).into_owned();
                if body.is_empty() {
                    format!("HTTP status {status}")
                } else {
                    body
                }
            });
            let cause = format!(
                "{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
            );
            TaskError::new(error, cause)
        }
        other => TaskError::new("Lambda.SdkClientException", error_chain(other)),
    }
}

/// A response's status and headers.
type Captured = Arc<Mutex<Option<(u16, Vec<(String, String)>)>>>;

/// Keeps the status and headers of the response, for `SdkHttpMetadata`.
#[derive(Debug)]
struct CaptureResponse {
    captured: Captured,
}

impl Intercept for CaptureResponse {
    fn name(&self) -> &'static str {
        "LegionCaptureResponse"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let headers: Vec<(String, String)> =
            response.headers().iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        *self.captured.lock().unwrap_or_else(|e| e.into_inner()) = Some((response.status().as_u16(), headers));
        Ok(())
    }
}

/// An SDK client for `config`, the region settled here so that the SDK never asks the instance
/// metadata service.
async fn build_client(config: &LambdaConfig, default_region: &str) -> aws_sdk_lambda::Client {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let region = config
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| default_region.to_owned());
    let sdk = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region)).load().await;
    let mut builder = aws_sdk_lambda::config::Builder::from(&sdk)
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled());
    let endpoint = config.endpoint.clone();
    let local = endpoint.is_some() || env("AWS_ENDPOINT_URL_LAMBDA").is_some() || env("AWS_ENDPOINT_URL").is_some();
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    let has_credentials = env("AWS_ACCESS_KEY_ID").is_some() || env("AWS_PROFILE").is_some();
    if local && !has_credentials {
        let creds = Credentials::new("legion", "legion", None, None, "legion-local");
        builder = builder.credentials_provider(SharedCredentialsProvider::new(creds));
    }
    aws_sdk_lambda::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_follow_step_functions() {
        assert_eq!(payload_bytes(Some(&json!("0.0"))), Some(b"0.0".to_vec()));
        assert_eq!(payload_bytes(Some(&json!({"a": 1}))), Some(br#"{"a":1}"#.to_vec()));
        assert_eq!(payload_bytes(Some(&Value::Null)), None);
    }

    #[test]
    fn headers_are_spelled_as_lambda_does() {
        let m = sdk_http_metadata(
            200,
            &[("x-amzn-requestid".into(), "r".into()), ("content-type".into(), "application/json".into())],
        );
        assert_eq!(m["AllHttpHeaders"]["x-amzn-RequestId"], json!(["r"]));
        assert_eq!(m["HttpHeaders"]["Content-Type"], json!("application/json"));
        let keys: Vec<&String> = m["HttpHeaders"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Content-Type", "x-amzn-RequestId"]);
    }

    #[test]
    fn function_errors_take_the_error_type() {
        let body = br#"{"errorMessage": "m", "errorType": "Custom", "stackTrace": []}"#;
        let e = function_failure("Unhandled", body, Shape::Envelope);
        assert_eq!(e.error, "Custom");
        assert_eq!(e.cause.as_deref(), Some(r#"{"errorMessage":"m","errorType":"Custom","stackTrace":[]}"#));
        let e = function_failure("Unhandled", body, Shape::Payload);
        assert_eq!(e.cause.as_deref(), Some(std::str::from_utf8(body).unwrap()));
        assert_eq!(function_failure("Unhandled", b"oops", Shape::Payload).error, "Lambda.Unknown");
    }
}
