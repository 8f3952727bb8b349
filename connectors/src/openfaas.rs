//! OpenFaaS functions, synchronous and asynchronous, as Task targets.
//!
//! # Resources
//!
//! | Resource | What it does |
//! |---|---|
//! | `arn:legion:states:::openfaas:invoke` | `POST {gateway}/function/{FunctionName}`; the task ends with the answer |
//! | `arn:legion:states:::openfaas:invoke.sync` | `POST {gateway}/async-function/{FunctionName}` with `X-Callback-Url` pointing back at Legion; the task ends when the queue worker posts the result |
//! | `arn:legion:states:::openfaas:invoke.waitForTaskToken` | the synchronous call, then waits for SendTaskSuccess/Failure with `$$.Task.Token` |
//!
//! The `legion` partition keeps these apart from AWS's integrations (AWS refuses them, so a definition
//! using one is plainly meant for Legion). Their history events read `resourceType: openfaas`.
//!
//! # Parameters
//!
//! - `FunctionName` (required): the function, `name` or `name.namespace`;
//! - `Payload`: the request body; a string is sent as it is, anything else as JSON;
//! - `Gateway`: the name of a configured gateway (default `default`);
//! - `Headers`: extra request headers (`{"X-Tenant": "a"}`);
//! - `QueryParameters`: added to the URL.
//!
//! # Results and errors
//!
//! The result is `{"Payload": <body, parsed when JSON>, "StatusCode": n, "Headers": {name: [values]}}`,
//! plus `"CallId"` for asynchronous calls (the gateway's `X-Call-Id`, which Legion sets itself). A
//! non-2xx status, whether the gateway's answer or the `X-Function-Status` of the callback, fails the
//! task with `OpenFaaS.StatusCode.<n>` (cause: `{"Function", "StatusCode", "Body"}` as JSON), so Retry
//! and Catch match exact statuses as they do for the HTTP Task; an unreachable gateway is
//! `OpenFaaS.ConnectionError`, bad parameters `OpenFaaS.InvalidParameters`.
//!
//! # Callbacks
//!
//! Asynchronous calls carry `X-Callback-Url: {base}/legion/callback/{task token}?shape=…`. The
//! connector can host its own listener ([`crate::callback::CallbackListener`]); a server that already
//! listens mounts [`complete_callback`] under `/legion/callback/` instead.

use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use hyper::{HeaderMap, Method};
use legion_engine::{TaskError, TaskTokens, TokenError};
use serde_json::{json, Value};

use crate::config::OpenFaasConfig;
use crate::http::{body_value, headers_value, HttpClient};

/// The path under which callbacks are received.
pub const CALLBACK_PATH: &str = "/legion/callback/";

/// How a callback's result is shaped for the task that waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultShape {
    /// The OpenFaaS result object.
    OpenFaas,
    /// AWS's `lambda:invoke` envelope (a routed `lambda:invoke`).
    LambdaEnvelope,
    /// The answer itself (a routed bare Lambda ARN).
    Payload,
}

impl ResultShape {
    fn as_str(self) -> &'static str {
        match self {
            ResultShape::OpenFaas => "openfaas",
            ResultShape::LambdaEnvelope => "lambda",
            ResultShape::Payload => "payload",
        }
    }

    fn parse(s: &str) -> Option<ResultShape> {
        match s {
            "openfaas" => Some(ResultShape::OpenFaas),
            "lambda" => Some(ResultShape::LambdaEnvelope),
            "payload" => Some(ResultShape::Payload),
            _ => None,
        }
    }
}

/// One call of an OpenFaaS function.
#[derive(Debug, Clone, Default)]
pub struct FunctionCall {
    /// The function (`name` or `name.namespace`).
    pub function: String,
    /// The gateway's name (default `default`).
    pub gateway: Option<String>,
    /// The body.
    pub payload: Vec<u8>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The query string, already encoded.
    pub query: Option<String>,
}

impl FunctionCall {
    /// The `openfaas:invoke` parameters.
    pub fn from_parameters(params: &Value) -> Result<FunctionCall, TaskError> {
        let function = params.get("FunctionName").and_then(Value::as_str).ok_or_else(|| {
            TaskError::new("OpenFaaS.InvalidParameters", "The field 'FunctionName' is required but was missing")
        })?;
        let mut headers = Vec::new();
        if let Some(Value::Object(h)) = params.get("Headers") {
            for (k, v) in h {
                headers.push((k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())));
            }
        }
        let query = match params.get("QueryParameters") {
            Some(Value::Object(q)) => Some(
                q.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                        format!(
                            "{}={}",
                            percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                            percent_encoding::utf8_percent_encode(&v, percent_encoding::NON_ALPHANUMERIC)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            _ => None,
        };
        Ok(FunctionCall {
            function: function.to_owned(),
            gateway: params.get("Gateway").and_then(Value::as_str).map(str::to_owned),
            payload: crate::lambda::payload_bytes(params.get("Payload")).unwrap_or_default(),
            headers,
            query,
        })
    }
}

/// A function's synchronous answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The headers, as received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

#[derive(Debug, Clone)]
struct Gateway {
    url: String,
    authorization: Option<String>,
}

/// The OpenFaaS connector.
#[derive(Debug, Clone)]
pub struct OpenFaas {
    gateways: HashMap<String, Gateway>,
    client: HttpClient,
    callback_base: Option<String>,
}

fn pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// The error for a non-2xx status.
pub fn status_error(function: &str, status: u16, body: &[u8]) -> TaskError {
    let cause = json!({"Function": function, "StatusCode": status, "Body": String::from_utf8_lossy(body)});
    TaskError::new(format!("OpenFaaS.StatusCode.{status}"), cause.to_string())
}

impl OpenFaas {
    /// A connector for the configured gateways; `callback_base` is where asynchronous results are
    /// posted (`http://127.0.0.1:PORT`), if a listener runs.
    pub fn new(config: &OpenFaasConfig, client: HttpClient, callback_base: Option<String>) -> OpenFaas {
        let gateways = config
            .gateways
            .iter()
            .map(|(name, g)| {
                let authorization = g.password.as_ref().map(|p| {
                    let user = g.username.clone().unwrap_or_else(|| "admin".to_owned());
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{p}")))
                });
                (name.clone(), Gateway { url: g.url.trim_end_matches('/').to_owned(), authorization })
            })
            .collect();
        OpenFaas { gateways, client, callback_base }
    }

    fn gateway(&self, name: Option<&str>) -> Result<&Gateway, TaskError> {
        let name = name.unwrap_or("default");
        self.gateways.get(name).ok_or_else(|| {
            TaskError::new("OpenFaaS.InvalidParameters", format!("No OpenFaaS gateway named '{name}' is configured"))
        })
    }

    fn url(gateway: &Gateway, route: &str, call: &FunctionCall) -> String {
        let mut url = format!("{}/{route}/{}", gateway.url, call.function);
        if let Some(q) = &call.query {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    fn headers(gateway: &Gateway, call: &FunctionCall) -> Vec<(String, String)> {
        let mut headers = call.headers.clone();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        if let Some(a) = &gateway.authorization {
            headers.push(("Authorization".into(), a.clone()));
        }
        headers
    }

    /// Calls a function synchronously (`/function/{name}`); a non-2xx answer is an error.
    pub async fn call(&self, call: &FunctionCall) -> Result<Answer, TaskError> {
        let gateway = self.gateway(call.gateway.as_deref())?;
        let response = self
            .client
            .send(
                Method::POST,
                &Self::url(gateway, "function", call),
                &Self::headers(gateway, call),
                Bytes::from(call.payload.clone()),
            )
            .await
            .map_err(|e| TaskError::new("OpenFaaS.ConnectionError", e.to_string()))?;
        if !response.status.is_success() {
            return Err(status_error(&call.function, response.status.as_u16(), &response.body));
        }
        Ok(Answer { status: response.status.as_u16(), headers: pairs(&response.headers), body: response.body })
    }

    /// The OpenFaaS result object for a synchronous answer.
    pub fn result(answer: &Answer) -> Value {
        let mut headers = HeaderMap::new();
        for (k, v) in &answer.headers {
            if let (Ok(k), Ok(v)) =
                (hyper::header::HeaderName::from_bytes(k.as_bytes()), hyper::header::HeaderValue::from_str(v))
            {
                headers.append(k, v);
            }
        }
        json!({"Payload": body_value(&answer.body), "StatusCode": answer.status, "Headers": headers_value(&headers)})
    }

    /// Queues an asynchronous call (`/async-function/{name}`) whose result will complete `token`;
    /// returns the gateway's acknowledgement (`{"CallId", "StatusCode"}`) for `TaskSubmitted`.
    pub async fn submit(&self, call: &FunctionCall, token: &str, shape: ResultShape) -> Result<Value, TaskError> {
        let base = self.callback_base.as_deref().ok_or_else(|| {
            TaskError::new("OpenFaaS.InvalidParameters", "Asynchronous OpenFaaS calls need the callback listener")
        })?;
        let gateway = self.gateway(call.gateway.as_deref())?;
        let call_id = uuid::Uuid::new_v4().to_string();
        let mut headers = Self::headers(gateway, call);
        headers.push(("X-Callback-Url".into(), callback_url(base, token, shape, &call.function)));
        headers.push(("X-Call-Id".into(), call_id.clone()));
        let response = self
            .client
            .send(
                Method::POST,
                &Self::url(gateway, "async-function", call),
                &headers,
                Bytes::from(call.payload.clone()),
            )
            .await
            .map_err(|e| TaskError::new("OpenFaaS.ConnectionError", e.to_string()))?;
        if !response.status.is_success() {
            return Err(status_error(&call.function, response.status.as_u16(), &response.body));
        }
        let call_id =
            response.headers.get("x-call-id").and_then(|v| v.to_str().ok()).map(str::to_owned).unwrap_or(call_id);
        Ok(json!({"CallId": call_id, "StatusCode": response.status.as_u16()}))
    }
}

/// `{base}/legion/callback/{token}?shape=…&function=…`.
pub fn callback_url(base: &str, token: &str, shape: ResultShape, function: &str) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!(
        "{}{CALLBACK_PATH}{}?shape={}&function={}",
        base.trim_end_matches('/'),
        enc(token),
        shape.as_str(),
        enc(function)
    )
}

/// The answer to a callback request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackReply {
    /// The HTTP status: 200 taken, 400 malformed, 404 no such task, 410 the task timed out.
    pub status: u16,
    /// A short text.
    pub message: String,
}

/// Completes the task a queue worker's callback is for. `path_and_query` is the request's path
/// (starting with [`CALLBACK_PATH`]) and query; `headers` and `body` are the callback's.
pub fn complete_callback(tokens: &TaskTokens, path_and_query: &str, headers: &HeaderMap, body: &[u8]) -> CallbackReply {
    let reply = |status: u16, message: &str| CallbackReply { status, message: message.to_owned() };
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let Some(token) = path.strip_prefix(CALLBACK_PATH) else { return reply(404, "not a callback path") };
    let token = percent_encoding::percent_decode_str(token).decode_utf8_lossy().into_owned();
    let shape = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("shape="))
        .map(ResultShape::parse)
        .unwrap_or(Some(ResultShape::OpenFaas));
    let Some(shape) = shape else { return reply(400, "unknown result shape") };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = match header("x-function-status") {
        Some(s) => match s.trim().parse::<u16>() {
            Ok(n) => n,
            Err(_) => return reply(400, "X-Function-Status is not a status code"),
        },
        None => 200,
    };
    let call_id = header("x-call-id").unwrap_or_default();
    let outcome = if (200..300).contains(&status) {
        let payload = body_value(body);
        let value = match shape {
            ResultShape::OpenFaas => {
                json!({"Payload": payload, "StatusCode": status, "CallId": call_id, "Headers": headers_value(headers)})
            }
            ResultShape::LambdaEnvelope => crate::lambda::envelope(payload, 200, &pairs(headers), &call_id),
            ResultShape::Payload => payload,
        };
        tokens.succeed(&token, value)
    } else {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let typed = parsed.as_ref().and_then(|v| v.get("errorType")).and_then(Value::as_str).map(str::to_owned);
        let error = match (shape, typed) {
            // A routed Lambda-style function that reports its own error type keeps it.
            (ResultShape::LambdaEnvelope | ResultShape::Payload, Some(t)) => {
                TaskError::new(t, parsed.map(|v| v.to_string()).unwrap_or_default())
            }
            _ => {
                let function = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("function="))
                    .map(|f| percent_encoding::percent_decode_str(f).decode_utf8_lossy().into_owned())
                    .unwrap_or_default();
                let mut e = status_error(&function, status, body);
                if let Some(cause) = &mut e.cause {
                    if let Ok(mut v) = serde_json::from_str::<Value>(cause) {
                        v["CallId"] = json!(call_id);
                        *cause = v.to_string();
                    }
                }
                e
            }
        };
        tokens.fail(&token, Some(error.error), error.cause)
    };
    match outcome {
        Ok(()) => reply(200, "ok"),
        Err(TokenError::TaskTimedOut) => reply(410, "the task timed out"),
        Err(TokenError::InvalidToken(_)) => reply(400, "invalid token"),
        Err(TokenError::TaskDoesNotExist) => reply(404, "no task waits for this token"),
        Err(TokenError::Store(_)) => reply(503, "try again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_complete_and_fail_tasks() {
        let tokens = TaskTokens::new();
        let mut ok = tokens.open();
        let url = callback_url("http://127.0.0.1:1", ok.token(), ResultShape::Payload, "f");
        let path = url.trim_start_matches("http://127.0.0.1:1");
        let mut headers = HeaderMap::new();
        headers.insert("x-function-status", "200".parse().unwrap());
        assert_eq!(complete_callback(&tokens, path, &headers, br#"{"n": 1}"#).status, 200);
        assert_eq!(complete_callback(&tokens, path, &headers, b"again").status, 404);
        let got = futures::executor::block_on(ok.next());
        assert_eq!(got, Some(legion_engine::tokens::TokenSignal::Success(json!({"n": 1}))));

        let mut bad = tokens.open();
        let url = callback_url("http://h", bad.token(), ResultShape::OpenFaas, "f");
        headers.insert("x-function-status", "503".parse().unwrap());
        headers.insert("x-call-id", "c-1".parse().unwrap());
        let reply = complete_callback(&tokens, url.trim_start_matches("http://h"), &headers, b"down");
        assert_eq!(reply.status, 200);
        match futures::executor::block_on(bad.next()) {
            Some(legion_engine::tokens::TokenSignal::Failure { error, cause }) => {
                assert_eq!(error.as_deref(), Some("OpenFaaS.StatusCode.503"));
                let cause: Value = serde_json::from_str(&cause.unwrap()).unwrap();
                assert_eq!(cause["CallId"], "c-1");
                assert_eq!(cause["Body"], "down");
                assert_eq!(cause["Function"], "f");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn parameters() {
        let c = FunctionCall::from_parameters(
            &json!({"FunctionName": "f", "Payload": {"a": 1}, "QueryParameters": {"x": "a b"}}),
        )
        .unwrap();
        assert_eq!(c.payload, br#"{"a":1}"#);
        assert_eq!(c.query.as_deref(), Some("x=a%20b"));
        assert!(FunctionCall::from_parameters(&json!({})).is_err());
    }
}
