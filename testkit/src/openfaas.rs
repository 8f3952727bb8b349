//! A stand-in for an OpenFaaS gateway with its queue worker, on 127.0.0.1.
//!
//! - `POST /function/{name}` calls the function and answers with its status, body and headers, plus
//!   the gateway's `X-Call-Id`, `X-Start-Time` and `X-Duration-Seconds`.
//! - `POST /async-function/{name}` reads `X-Callback-Url`, queues the call and answers `202 Accepted`
//!   with `X-Call-Id` (the caller's own `X-Call-Id` is kept when it sends one). Queue workers take the
//!   calls, invoke the function through the gateway's `/function/{name}` route over HTTP, and `POST`
//!   the function's body to the callback URL with the function's headers, `X-Function-Status` (its
//!   HTTP status, 503 when it could not be reached) and `X-Call-Id`, as OpenFaaS's queue worker does.
//! - With basic-auth credentials configured, both routes answer 401 without them.
//! - Failure injection: every n-th call to either route can be refused with a 503 before it reaches
//!   the function, to exercise Retry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::http::{text, Body, BoxFuture, HttpRequest, Server, StartError};

/// What a function receives.
#[derive(Debug, Clone)]
pub struct FunctionCall {
    /// The request body.
    pub body: Bytes,
    /// The request headers.
    pub headers: HeaderMap,
}

/// What a function answers.
#[derive(Debug, Clone)]
pub struct FunctionReply {
    /// The HTTP status (a watchdog answers 500 when the handler fails).
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// The `Content-Type`.
    pub content_type: String,
}

impl FunctionReply {
    /// A 200 with a JSON body.
    pub fn json(value: &serde_json::Value) -> FunctionReply {
        FunctionReply { status: 200, body: Bytes::from(value.to_string()), content_type: "application/json".into() }
    }

    /// A reply with `status` and a text body.
    pub fn text(status: u16, body: &str) -> FunctionReply {
        FunctionReply { status, body: Bytes::from(body.to_owned()), content_type: "text/plain".into() }
    }
}

/// A function's handler.
pub type FunctionHandler = Arc<dyn Fn(FunctionCall) -> BoxFuture<FunctionReply> + Send + Sync>;

/// Wraps an async closure as a [`FunctionHandler`].
pub fn handler<F, Fut>(f: F) -> FunctionHandler
where
    F: Fn(FunctionCall) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FunctionReply> + Send + 'static,
{
    Arc::new(move |c| Box::pin(f(c)))
}

/// How the gateway is set up.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Basic-auth credentials the gateway requires, if any.
    pub basic_auth: Option<(String, String)>,
    /// How many queue workers take asynchronous calls.
    pub queue_workers: usize,
    /// Refuse every n-th call (counting both routes from 1) with a 503.
    pub fail_every: Option<u64>,
}

impl Default for GatewayConfig {
    fn default() -> GatewayConfig {
        GatewayConfig { basic_auth: None, queue_workers: 4, fail_every: None }
    }
}

/// Counters, for tests to check that nothing was lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// Synchronous calls that reached a function.
    pub sync_calls: u64,
    /// Asynchronous calls accepted onto the queue.
    pub queued: u64,
    /// Calls refused by failure injection.
    pub injected_failures: u64,
    /// Callbacks posted whose receiver answered 2xx.
    pub callbacks_delivered: u64,
    /// Callbacks that could not be delivered or were refused.
    pub callbacks_failed: u64,
}

struct Job {
    function: String,
    body: Bytes,
    headers: HeaderMap,
    callback: Option<String>,
    call_id: String,
}

struct State {
    functions: Mutex<HashMap<String, FunctionHandler>>,
    config: GatewayConfig,
    calls: AtomicU64,
    sync_calls: AtomicU64,
    queued: AtomicU64,
    injected: AtomicU64,
    delivered: AtomicU64,
    undelivered: AtomicU64,
    queue: mpsc::UnboundedSender<Job>,
}

/// The gateway and its queue workers; dropping it stops them.
pub struct Gateway {
    server: Server,
    state: Arc<State>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("url", &self.server.url()).finish()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for w in &self.workers {
            w.abort();
        }
    }
}

impl Gateway {
    /// Starts a gateway and its queue workers on the current runtime.
    pub async fn start(config: GatewayConfig) -> Result<Gateway, StartError> {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let state = Arc::new(State {
            functions: Mutex::new(HashMap::new()),
            config: config.clone(),
            calls: AtomicU64::new(0),
            sync_calls: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            undelivered: AtomicU64::new(0),
            queue: tx,
        });
        let s = state.clone();
        let server = Server::start(Arc::new(move |req| {
            let s = s.clone();
            Box::pin(async move { route(&s, req).await })
        }))
        .await?;
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let gateway_url = server.url();
        let workers = (0..config.queue_workers.max(1))
            .map(|_| {
                let (rx, state, url) = (rx.clone(), state.clone(), gateway_url.clone());
                tokio::spawn(async move { queue_worker(rx, state, url).await })
            })
            .collect();
        Ok(Gateway { server, state, workers })
    }

    /// Deploys (or replaces) function `name`.
    pub fn deploy(&self, name: &str, handler: FunctionHandler) {
        self.state.functions.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), handler);
    }

    /// Deploys (or replaces) function `name` served over HTTP at `url` (a
    /// [`crate::watchdog::Watchdog`]): the gateway forwards each call's body and headers to it and
    /// relays its status, body and `Content-Type`, or answers 502 when it cannot be reached.
    pub fn deploy_service(&self, name: &str, url: &str) {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let url = url.to_owned();
        self.deploy(
            name,
            handler(move |call: FunctionCall| {
                let (client, url) = (client.clone(), url.clone());
                async move { forward(&client, &url, call).await }
            }),
        );
    }

    /// The gateway URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The counters so far.
    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            sync_calls: self.state.sync_calls.load(Ordering::SeqCst),
            queued: self.state.queued.load(Ordering::SeqCst),
            injected_failures: self.state.injected.load(Ordering::SeqCst),
            callbacks_delivered: self.state.delivered.load(Ordering::SeqCst),
            callbacks_failed: self.state.undelivered.load(Ordering::SeqCst),
        }
    }
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

fn authorised(state: &State, headers: &HeaderMap) -> bool {
    let Some((user, pass)) = &state.config.basic_auth else { return true };
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")));
    headers.get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn start_time() -> String {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos().to_string()
}

async fn route(state: &State, req: HttpRequest) -> Response<Body> {
    let (asynchronous, rest) = if let Some(r) = req.path.strip_prefix("/async-function/") {
        (true, r)
    } else if let Some(r) = req.path.strip_prefix("/function/") {
        (false, r)
    } else {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    if !authorised(state, &req.headers) {
        let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        r.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Restricted\""));
        return r;
    }
    let name = rest.split('/').next().unwrap_or_default().to_owned();
    let n = state.calls.fetch_add(1, Ordering::SeqCst) + 1;
    if state.config.fail_every.is_some_and(|every| every > 0 && n.is_multiple_of(every)) {
        state.injected.fetch_add(1, Ordering::SeqCst);
        return text(StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable\n");
    }
    let call_id = req
        .headers
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if asynchronous {
        let callback = req.headers.get("x-callback-url").and_then(|v| v.to_str().ok()).map(str::to_owned);
        if let Some(cb) = &callback {
            if hyper::Uri::try_from(cb.as_str()).is_err() {
                return text(StatusCode::BAD_REQUEST, "invalid X-Callback-Url\n");
            }
        }
        let mut headers = req.headers.clone();
        if let Some(v) = header_value(&call_id) {
            headers.insert("x-call-id", v);
        }
        let job = Job { function: name, body: req.body, headers, callback, call_id: call_id.clone() };
        if state.queue.send(job).is_err() {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "queue closed\n");
        }
        state.queued.fetch_add(1, Ordering::SeqCst);
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::ACCEPTED;
        if let Some(v) = header_value(&call_id) {
            r.headers_mut().insert("x-call-id", v);
        }
        if let Some(v) = header_value(&start_time()) {
            r.headers_mut().insert("x-start-time", v);
        }
        return r;
    }
    let handler = state.functions.lock().unwrap_or_else(|e| e.into_inner()).get(&name).cloned();
    let Some(handler) = handler else {
        return text(StatusCode::NOT_FOUND, &format!("error finding function {name}: not found\n"));
    };
    state.sync_calls.fetch_add(1, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let start = start_time();
    let reply = handler(FunctionCall { body: req.body, headers: req.headers }).await;
    let mut r = Response::new(Full::new(reply.body));
    *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if let Some(v) = header_value(&reply.content_type) {
        h.insert(hyper::header::CONTENT_TYPE, v);
    }
    if let Some(v) = header_value(&call_id) {
        h.insert("x-call-id", v);
    }
    if let Some(v) = header_value(&start) {
        h.insert("x-start-time", v);
    }
    if let Some(v) = header_value(&format!("{:.6}", started.elapsed().as_secs_f64())) {
        h.insert("x-duration-seconds", v);
    }
    r
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One call forwarded to a function's own HTTP server.
async fn forward(client: &HttpClient, url: &str, call: FunctionCall) -> FunctionReply {
    let mut request = hyper::Request::post(url);
    for (k, v) in &call.headers {
        if k != hyper::header::HOST && k != hyper::header::CONTENT_LENGTH && k != hyper::header::CONNECTION {
            request = request.header(k, v);
        }
    }
    let Ok(request) = request.body(Full::new(call.body)) else {
        return FunctionReply::text(502, "cannot build the upstream request\n");
    };
    match client.request(request).await {
        Ok(res) => {
            let status = res.status().as_u16();
            let content_type = res
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/plain")
                .to_owned();
            match res.into_body().collect().await {
                Ok(b) => FunctionReply { status, body: b.to_bytes(), content_type },
                Err(e) => FunctionReply::text(502, &format!("upstream body: {e}\n")),
            }
        }
        Err(e) => FunctionReply::text(502, &format!("upstream unreachable: {e}\n")),
    }
}

async fn queue_worker(rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Job>>>, state: Arc<State>, gateway: String) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let job = { rx.lock().await.recv().await };
        let Some(job) = job else { return };
        // The function is invoked through the gateway, as the queue worker's gateway-invoke mode does.
        let mut request = hyper::Request::post(format!("{gateway}/function/{}", job.function));
        for (k, v) in &job.headers {
            if k != hyper::header::HOST && k != hyper::header::CONTENT_LENGTH && k.as_str() != "x-callback-url" {
                request = request.header(k, v);
            }
        }
        let (status, headers, body) = match request.body(Full::new(job.body.clone())) {
            Ok(r) => match client.request(r).await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let headers = res.headers().clone();
                    let body = res.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    (status, headers, body)
                }
                Err(_) => (503, HeaderMap::new(), Bytes::new()),
            },
            Err(_) => (503, HeaderMap::new(), Bytes::new()),
        };
        let Some(callback) = job.callback else { continue };
        let mut post = hyper::Request::post(callback.as_str());
        for (k, v) in &headers {
            if k != hyper::header::CONTENT_LENGTH
                && k != hyper::header::CONNECTION
                && k != hyper::header::TRANSFER_ENCODING
            {
                post = post.header(k, v);
            }
        }
        post = post.header("x-function-status", status.to_string()).header("x-call-id", job.call_id.as_str());
        let delivered = match post.body(Full::new(body)) {
            Ok(r) => client.request(r).await.map(|res| res.status().is_success()).unwrap_or(false),
            Err(_) => false,
        };
        if delivered {
            state.delivered.fetch_add(1, Ordering::SeqCst);
        } else {
            state.undelivered.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The name a header has in a function's response, for tests that look at them.
pub fn header_name(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}
