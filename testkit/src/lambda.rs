//! A stand-in for the AWS Lambda Invoke API on 127.0.0.1.
//!
//! `POST /2015-03-31/functions/{FunctionName}/invocations` as Lambda answers it:
//!
//! - `FunctionName` is a name, a full or partial ARN (percent-encoded in the path), optionally with a
//!   `:qualifier`; `?Qualifier=` works too. An unknown function is a 404 with
//!   `X-Amzn-ErrorType: ResourceNotFoundException`.
//! - `X-Amz-Invocation-Type`: `RequestResponse` (200 and the function's answer), `Event` (202, the
//!   function runs afterwards), `DryRun` (204).
//! - A function error is a 200 with `X-Amz-Function-Error: Unhandled` and the runtime's error
//!   document (`errorMessage`, `errorType`, `requestId`, `stackTrace`).
//! - Throttling is a 429 with `X-Amzn-ErrorType: TooManyRequestsException`.
//! - An empty payload reaches the function as `{}`; answers are serialised as the Python runtime does
//!   ([`crate::python::json_dumps`]); every answer carries Lambda's headers (`x-amzn-RequestId`,
//!   `X-Amz-Executed-Version`, `X-Amzn-Trace-Id`, `x-amzn-Remapped-Content-Length`, `Date`,
//!   `Connection: keep-alive`), and `X-Amz-Log-Result` when `X-Amz-Log-Type: Tail` asks for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use crate::http::{http_date, Body, HttpRequest, Server, StartError};
use crate::python;

/// What a function does with its event.
#[derive(Clone)]
pub enum Behaviour {
    /// Returns the event unchanged.
    Identity,
    /// Returns this value whatever the event.
    Constant(Value),
    /// Raises an exception: a function error with this type, message and stack trace.
    Raise {
        /// `errorType` (the exception class).
        error_type: String,
        /// `errorMessage`.
        message: String,
        /// `stackTrace` lines.
        stack_trace: Vec<String>,
    },
    /// Returns a string of this many `a` characters.
    LargeString(usize),
    /// Returns `prefix` followed by the Python `repr` of the event.
    FormatEvent(String),
    /// Returns these bytes as the payload, unencoded: what Python's runtime sends for a handler that
    /// returns `bytes` (it passes them through instead of JSON-encoding them), and what a custom
    /// runtime sends for any response body. They need not be JSON.
    RawBytes(Vec<u8>),
    /// Sleeps, then behaves as the inner behaviour.
    Sleep(Duration, Box<Behaviour>),
    /// Is throttled (429 `TooManyRequestsException`) for the first `n` invocations, then behaves as
    /// the inner behaviour.
    ThrottleFirst(u64, Box<Behaviour>),
    /// Fails with a function error for the first `n` invocations, then behaves as the inner behaviour.
    FailFirst(u64, Box<Behaviour>),
    /// Lambda's reserved concurrency: an invocation that would make more than `n` run at once is
    /// throttled (429 `TooManyRequestsException`); the others behave as the inner behaviour.
    ReservedConcurrency(usize, Box<Behaviour>),
    /// Runs a handler written in Rust, as a function's code: `Ok` is its answer, `Err` an
    /// unhandled exception.
    Handler(Handler),
}

/// A function's code: the event in, the answer or a raised exception out.
pub type Handler = Arc<dyn Fn(&Value) -> Result<Value, Raised> + Send + Sync>;

/// An exception a [`Handler`] raises.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    /// `errorType` (the exception class).
    pub error_type: String,
    /// `errorMessage`.
    pub message: String,
}

impl Raised {
    /// An exception of class `error_type`.
    pub fn new(error_type: &str, message: impl Into<String>) -> Raised {
        Raised { error_type: error_type.to_owned(), message: message.into() }
    }
}

/// Wraps a closure as a [`Behaviour::Handler`].
pub fn handler<F>(f: F) -> Behaviour
where
    F: Fn(&Value) -> Result<Value, Raised> + Send + Sync + 'static,
{
    Behaviour::Handler(Arc::new(f))
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Behaviour::Identity => write!(f, "Identity"),
            Behaviour::Constant(v) => write!(f, "Constant({v})"),
            Behaviour::Raise { error_type, .. } => write!(f, "Raise({error_type})"),
            Behaviour::LargeString(n) => write!(f, "LargeString({n})"),
            Behaviour::FormatEvent(p) => write!(f, "FormatEvent({p:?})"),
            Behaviour::RawBytes(b) => write!(f, "RawBytes({:?})", String::from_utf8_lossy(b)),
            Behaviour::Sleep(d, b) => write!(f, "Sleep({d:?}, {b:?})"),
            Behaviour::ThrottleFirst(n, b) => write!(f, "ThrottleFirst({n}, {b:?})"),
            Behaviour::FailFirst(n, b) => write!(f, "FailFirst({n}, {b:?})"),
            Behaviour::ReservedConcurrency(n, b) => write!(f, "ReservedConcurrency({n}, {b:?})"),
            Behaviour::Handler(_) => write!(f, "Handler"),
        }
    }
}

impl Behaviour {
    /// Python's `raise Exception(message)` on line 2 of `handler.py`.
    pub fn exception(message: &str) -> Behaviour {
        Behaviour::Raise {
            error_type: "Exception".to_owned(),
            message: message.to_owned(),
            stack_trace: vec![format!(
                "  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception({})\n",
                python::json_dumps(&json!(message))
            )],
        }
    }
}

/// What one invocation produced.
enum Outcome {
    Answer(Value),
    Raw(Vec<u8>),
    FunctionError { error_type: String, message: String, stack_trace: Vec<String> },
    Throttled,
}

/// One invocation as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The function's name.
    pub function: String,
    /// The qualifier asked for, if any.
    pub qualifier: Option<String>,
    /// `X-Amz-Invocation-Type` (default `RequestResponse`).
    pub invocation_type: String,
    /// The event the function received.
    pub event: Value,
    /// The decoded `X-Amz-Client-Context`, if sent.
    pub client_context: Option<String>,
    /// The access key id the request was signed with (`Credential=` of its SigV4 `Authorization`).
    pub access_key: Option<String>,
}

struct Function {
    behaviour: Behaviour,
    calls: AtomicU64,
    in_flight: AtomicUsize,
}

#[derive(Default)]
struct State {
    functions: Mutex<HashMap<String, Arc<Function>>>,
    invocations: Mutex<Vec<Invocation>>,
}

/// The Lambda stand-in: register functions, start it, point a Lambda client at [`LambdaServer::url`].
pub struct LambdaServer {
    server: Server,
    state: Arc<State>,
    account: String,
    region: String,
}

impl std::fmt::Debug for LambdaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaServer").field("url", &self.server.url()).finish()
    }
}

impl LambdaServer {
    /// Starts a server for `account` in `region` (used in the ARNs it reports) on the current runtime.
    pub async fn start(account: &str, region: &str) -> Result<LambdaServer, StartError> {
        let state = Arc::new(State::default());
        let (acct, reg) = (account.to_owned(), region.to_owned());
        let s = state.clone();
        let server = Server::start(Arc::new(move |req| {
            let (s, acct, reg) = (s.clone(), acct.clone(), reg.clone());
            Box::pin(async move { handle(&s, &acct, &reg, req).await })
        }))
        .await?;
        Ok(LambdaServer { server, state, account: account.to_owned(), region: region.to_owned() })
    }

    /// Registers (or replaces) the function `name`.
    pub fn add(&self, name: &str, behaviour: Behaviour) {
        let f = Arc::new(Function { behaviour, calls: AtomicU64::new(0), in_flight: AtomicUsize::new(0) });
        self.state.functions.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), f);
    }

    /// The endpoint URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The ARN of function `name`.
    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account)
    }

    /// Every invocation received so far, in arrival order.
    pub fn invocations(&self) -> Vec<Invocation> {
        self.state.invocations.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Splits `FunctionName` (name, `account:function:name`, or a full ARN, each with an optional
/// `:qualifier`) into name and qualifier.
fn parse_function_name(raw: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name] => ((*name).to_owned(), None),
        ["arn", _, "lambda", _, _, "function", name, q] => ((*name).to_owned(), Some((*q).to_owned())),
        [_, "function", name] => ((*name).to_owned(), None),
        [_, "function", name, q] => ((*name).to_owned(), Some((*q).to_owned())),
        [name, q] => ((*name).to_owned(), Some((*q).to_owned())),
        _ => (raw.to_owned(), None),
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn trace_id() -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("root=1-{now:08x}-{};parent={};sampled=0;lineage=1:{}:0", &r[..24], &r[..16], &r[24..32])
}

/// A response carrying Lambda's usual headers.
fn lambda_response(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("date", http_date());
    set("content-type", "application/json".to_owned());
    set("connection", "keep-alive".to_owned());
    set("x-amzn-requestid", request_id.to_owned());
    set("x-amzn-trace-id", trace_id());
    r
}

/// A service error: `X-Amzn-ErrorType` and a JSON body with the message.
fn service_error(status: StatusCode, error_type: &str, message: &str, extra: Value) -> Response<Body> {
    let mut body = json!({"Type": "User", "message": message});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let id = request_id();
    let mut r = lambda_response(status, body.to_string().into_bytes(), &id);
    if let Ok(v) = HeaderValue::from_str(error_type) {
        r.headers_mut().insert(HeaderName::from_static("x-amzn-errortype"), v);
    }
    r
}

async fn handle(state: &State, account: &str, region: &str, req: HttpRequest) -> Response<Body> {
    let Some(rest) = req.path.strip_prefix("/2015-03-31/functions/") else {
        return service_error(StatusCode::NOT_FOUND, "UnknownOperationException", "Unknown operation", json!({}));
    };
    let Some(encoded) = rest.strip_suffix("/invocations") else {
        return service_error(StatusCode::NOT_FOUND, "UnknownOperationException", "Unknown operation", json!({}));
    };
    if req.method != hyper::Method::POST {
        return service_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "Only POST", json!({}));
    }
    let raw_name = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned();
    let (name, mut qualifier) = parse_function_name(&raw_name);
    if let Some(q) = req.query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("Qualifier="))
            .map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
    }) {
        qualifier = Some(q);
    }
    let header = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let invocation_type = header("x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".to_owned());
    let function = state.functions.lock().unwrap_or_else(|e| e.into_inner()).get(&name).cloned();
    let Some(function) = function else {
        let arn =
            format!("arn:aws:lambda:{region}:{account}:function:{name}:{}", qualifier.as_deref().unwrap_or("$LATEST"));
        return service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
            json!({"Message": format!("Function not found: {arn}")}),
        );
    };
    if qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
        let arn = format!("arn:aws:lambda:{region}:{account}:function:{name}:{}", qualifier.as_deref().unwrap_or(""));
        return service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
            json!({}),
        );
    }
    // Lambda hands an empty payload to the function as an empty object.
    let event: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => {
                return service_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {e}"),
                    json!({}),
                )
            }
        }
    };
    let client_context = header("x-amz-client-context")
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok().and_then(|b| String::from_utf8(b).ok()));
    let access_key = header("authorization").and_then(|a| {
        let credential = a.split("Credential=").nth(1)?;
        credential.split('/').next().map(str::to_owned)
    });
    state.invocations.lock().unwrap_or_else(|e| e.into_inner()).push(Invocation {
        access_key,
        function: name.clone(),
        qualifier: qualifier.clone(),
        invocation_type: invocation_type.clone(),
        event: event.clone(),
        client_context,
    });
    let id = request_id();
    match invocation_type.as_str() {
        "DryRun" => return lambda_response(StatusCode::NO_CONTENT, Vec::new(), &id),
        "Event" => {
            let f = function.clone();
            tokio::spawn(async move {
                let call = f.calls.fetch_add(1, Ordering::SeqCst);
                let _ = run(&f.behaviour, &event, call, &f.in_flight).await;
            });
            return lambda_response(StatusCode::ACCEPTED, Vec::new(), &id);
        }
        "RequestResponse" => {}
        other => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &format!("Unsupported invocation type: {other}"),
                json!({}),
            )
        }
    }
    let call = function.calls.fetch_add(1, Ordering::SeqCst);
    let (mut response, log) = match run(&function.behaviour, &event, call, &function.in_flight).await {
        Outcome::Answer(v) => {
            let body = python::json_dumps(&v).into_bytes();
            (lambda_response(StatusCode::OK, body, &id), format!("START RequestId: {id} Version: $LATEST\n"))
        }
        Outcome::Raw(body) => {
            (lambda_response(StatusCode::OK, body, &id), format!("START RequestId: {id} Version: $LATEST\n"))
        }
        Outcome::FunctionError { error_type, message, stack_trace } => {
            let doc =
                json!({"errorMessage": message, "errorType": error_type, "requestId": id, "stackTrace": stack_trace});
            let mut r = lambda_response(StatusCode::OK, python::json_dumps(&doc).into_bytes(), &id);
            r.headers_mut()
                .insert(HeaderName::from_static("x-amz-function-error"), HeaderValue::from_static("Unhandled"));
            (r, format!("START RequestId: {id} Version: $LATEST\n[ERROR] {error_type}: {message}\n"))
        }
        Outcome::Throttled => {
            let mut r = service_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                "Rate Exceeded.",
                json!({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}),
            );
            r.headers_mut().insert(HeaderName::from_static("retry-after"), HeaderValue::from_static("1"));
            return r;
        }
    };
    let h = response.headers_mut();
    h.insert(HeaderName::from_static("x-amz-executed-version"), HeaderValue::from_static("$LATEST"));
    h.insert(HeaderName::from_static("x-amzn-remapped-content-length"), HeaderValue::from_static("0"));
    if header("x-amz-log-type").as_deref() == Some("Tail") {
        let tail = base64::engine::general_purpose::STANDARD.encode(format!("{log}END RequestId: {id}\n"));
        if let Ok(v) = HeaderValue::from_str(&tail) {
            h.insert(HeaderName::from_static("x-amz-log-result"), v);
        }
    }
    response
}

/// One invocation counted as running until dropped (also when the caller goes away).
struct Running<'a> {
    counter: &'a AtomicUsize,
    before: usize,
}

impl<'a> Running<'a> {
    fn enter(counter: &'a AtomicUsize) -> Running<'a> {
        Running { counter, before: counter.fetch_add(1, Ordering::SeqCst) }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a behaviour for invocation number `call` (from 0); `in_flight` counts the function's
/// invocations running now.
fn run<'a>(
    behaviour: &'a Behaviour,
    event: &'a Value,
    call: u64,
    in_flight: &'a AtomicUsize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
    Box::pin(async move {
        match behaviour {
            Behaviour::Identity => Outcome::Answer(event.clone()),
            Behaviour::Constant(v) => Outcome::Answer(v.clone()),
            Behaviour::Raise { error_type, message, stack_trace } => Outcome::FunctionError {
                error_type: error_type.clone(),
                message: message.clone(),
                stack_trace: stack_trace.clone(),
            },
            Behaviour::LargeString(n) => Outcome::Answer(Value::String("a".repeat(*n))),
            Behaviour::RawBytes(b) => Outcome::Raw(b.clone()),
            Behaviour::FormatEvent(prefix) => {
                Outcome::Answer(Value::String(format!("{prefix}{}", python::repr(event))))
            }
            Behaviour::Sleep(d, then) => {
                tokio::time::sleep(*d).await;
                run(then, event, call, in_flight).await
            }
            Behaviour::ThrottleFirst(n, then) => {
                if call < *n {
                    Outcome::Throttled
                } else {
                    run(then, event, call, in_flight).await
                }
            }
            Behaviour::FailFirst(n, then) => {
                if call < *n {
                    Outcome::FunctionError {
                        error_type: "TransientError".to_owned(),
                        message: format!("failure {} of {n}", call + 1),
                        stack_trace: Vec::new(),
                    }
                } else {
                    run(then, event, call, in_flight).await
                }
            }
            Behaviour::ReservedConcurrency(n, then) => {
                let running = Running::enter(in_flight);
                if running.before >= *n {
                    return Outcome::Throttled;
                }
                run(then, event, call, in_flight).await
            }
            Behaviour::Handler(code) => match code(event) {
                Ok(v) => Outcome::Answer(v),
                Err(e) => {
                    Outcome::FunctionError { error_type: e.error_type, message: e.message, stack_trace: Vec::new() }
                }
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        assert_eq!(parse_function_name("f"), ("f".to_owned(), None));
        assert_eq!(parse_function_name("f:prod"), ("f".to_owned(), Some("prod".to_owned())));
        assert_eq!(parse_function_name("123456789012:function:f"), ("f".to_owned(), None));
        assert_eq!(
            parse_function_name("arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"),
            ("f".to_owned(), Some("$LATEST".to_owned()))
        );
    }
}
