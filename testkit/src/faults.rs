//! A fault-injecting HTTP proxy on 127.0.0.1, put in front of a stand-in (the Lambda Invoke API,
//! an OpenFaaS gateway, an HTTP target, an S3 endpoint) so that connectors meet the failures real
//! networks and services have.
//!
//! For every request the proxy asks its [`Plan`] what to do, given the request and how many earlier
//! requests had the same method, path and body (its attempt number), and then either forwards it
//! untouched or injects a [`Fault`]: an error status of its own, a dropped connection, a stall, a
//! truncated or non-JSON answer, or a body trickled out slowly. [`FaultProxy::stats`] counts what it
//! did, so a test can account for every call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::channel::{Channel, Sender};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http::StartError;

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forwards the request and relays the answer untouched.
    Pass,
    /// Answers this HTTP status itself, without reaching the target; a 429 and a 5xx carry the
    /// `X-Amzn-ErrorType` AWS services send with them (`TooManyRequestsException`,
    /// `ServiceException`).
    Status(u16),
    /// Reads the request, then closes the connection without answering; the target never sees it.
    Drop,
    /// Waits this long, then forwards the request (the answer comes too late for a short timeout).
    Stall(Duration),
    /// Forwards the request, then sends the answer's headers (with its full `Content-Length`) and
    /// only the first half of its body before closing the connection.
    Truncate,
    /// Forwards the request (the target runs), then answers 200 with an HTML page instead.
    NotJson,
    /// Forwards the request and relays the answer with its body sent `chunk` bytes at a time,
    /// `every` apart.
    Trickle {
        /// Bytes per write.
        chunk: usize,
        /// The pause between writes.
        every: Duration,
    },
}

impl Fault {
    /// A short name for statistics (`pass`, `status-500`, `drop`, `stall`…).
    pub fn name(&self) -> String {
        match self {
            Fault::Pass => "pass".into(),
            Fault::Status(s) => format!("status-{s}"),
            Fault::Drop => "drop".into(),
            Fault::Stall(_) => "stall".into(),
            Fault::Truncate => "truncate".into(),
            Fault::NotJson => "not-json".into(),
            Fault::Trickle { .. } => "trickle".into(),
        }
    }
}

/// A request as the plan sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: hyper::Method,
    /// The path and query.
    pub path: String,
    /// The body, parsed when it is JSON (else `Null`).
    pub json: Value,
    /// The raw body.
    pub body: Bytes,
    /// How many earlier requests had the same method, path and body.
    pub attempt: u32,
}

/// Decides the fault for each request.
pub type Plan = Arc<dyn Fn(&Seen) -> Fault + Send + Sync>;

/// What the proxy did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests received.
    pub requests: u64,
    /// Requests forwarded to the target (whatever was done with the answer).
    pub forwarded: u64,
    /// Faults injected, by [`Fault::name`] (`pass` not counted).
    pub injected: Vec<(String, u64)>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    injected: Mutex<HashMap<String, u64>>,
    attempts: Mutex<HashMap<(String, String, Bytes), u32>>,
}

/// A running proxy; it stops accepting connections when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    _stop: watch::Sender<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// The body of every answer the proxy sends: a channel, so it can be trickled or cut short.
type ProxyBody = Channel<Bytes, std::io::Error>;

/// Shared by every connection of one proxy.
struct Inner {
    target: String,
    plan: Plan,
    client: Client<HttpConnector, Full<Bytes>>,
    counters: Arc<Counters>,
}

impl FaultProxy {
    /// Starts a proxy in front of `target` (`http://127.0.0.1:PORT`) that follows `plan`.
    pub async fn start(target: &str, plan: Plan) -> Result<FaultProxy, StartError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let inner = Arc::new(Inner {
            target: target.trim_end_matches('/').to_owned(),
            plan,
            client: Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build_http(),
            counters: counters.clone(),
        });
        let (stop, mut stopped) = watch::channel(());
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(c) => c,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                    _ = stopped.changed() => return,
                };
                let inner = inner.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let inner = inner.clone();
                        async move { inner.handle(req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy { addr, counters, _stop: stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it did so far.
    pub fn stats(&self) -> FaultStats {
        let mut injected: Vec<(String, u64)> = self
            .counters
            .injected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        injected.sort();
        FaultStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            forwarded: self.counters.forwarded.load(Ordering::Relaxed),
            injected,
        }
    }

    /// How many faults of this kind ([`Fault::name`]) were injected.
    pub fn injected(&self, name: &str) -> u64 {
        self.counters.injected.lock().unwrap_or_else(|e| e.into_inner()).get(name).copied().unwrap_or(0)
    }
}

/// Why the proxy closed a connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the fault proxy")]
pub struct Dropped;

impl Inner {
    async fn handle(&self, request: Request<Incoming>) -> Result<Response<ProxyBody>, Dropped> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
        let attempt = {
            let mut attempts = self.counters.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let n = attempts.entry((parts.method.to_string(), path.clone(), body.clone())).or_insert(0);
            *n += 1;
            *n - 1
        };
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let seen = Seen {
            method: parts.method.clone(),
            path: path.clone(),
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            body: body.clone(),
            attempt,
        };
        let fault = (self.plan)(&seen);
        if fault != Fault::Pass {
            *self.counters.injected.lock().unwrap_or_else(|e| e.into_inner()).entry(fault.name()).or_insert(0) += 1;
        }
        match fault {
            Fault::Status(status) => return Ok(error_status(status)),
            Fault::Drop => return Err(Dropped),
            Fault::Stall(wait) => tokio::time::sleep(wait).await,
            _ => {}
        }
        let mut forward = Request::builder().method(parts.method).uri(format!("{}{path}", self.target));
        // Every header goes through unchanged, `Host` included, so signed requests stay valid.
        for (name, value) in &parts.headers {
            forward = forward.header(name, value);
        }
        let forward = forward.body(Full::new(body)).map_err(|_| Dropped)?;
        self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
        let answer = self.client.request(forward).await.map_err(|_| Dropped)?;
        let (parts, body) = answer.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        let mut response = Response::builder().status(parts.status);
        for (name, value) in &parts.headers {
            if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
                response = response.header(name, value);
            }
        }
        let (sender, channel) = Channel::new(4);
        match fault {
            Fault::NotJson => {
                let page = Bytes::from_static(b"<html><body><h1>502 Bad Gateway</h1></body></html>");
                let response = Response::builder()
                    .status(200)
                    .header(hyper::header::CONTENT_TYPE, "text/html")
                    .header(hyper::header::CONTENT_LENGTH, page.len());
                tokio::spawn(send_all(sender, page));
                return response.body(channel).map_err(|_| Dropped);
            }
            Fault::Truncate => {
                response = response.header(hyper::header::CONTENT_LENGTH, body.len().max(2));
                let half = body.slice(..body.len() / 2);
                tokio::spawn(async move {
                    let mut sender = sender;
                    let _ = sender.send_data(half).await;
                    sender.abort(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "truncated"));
                });
            }
            Fault::Trickle { chunk, every } => {
                response = response.header(hyper::header::CONTENT_LENGTH, body.len());
                tokio::spawn(async move {
                    let mut sender = sender;
                    for piece in body.chunks(chunk.max(1)) {
                        if sender.send_data(Bytes::copy_from_slice(piece)).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(every).await;
                    }
                });
            }
            _ => {
                response = response.header(hyper::header::CONTENT_LENGTH, body.len());
                tokio::spawn(send_all(sender, body));
            }
        }
        response.body(channel).map_err(|_| Dropped)
    }
}

async fn send_all(mut sender: Sender<Bytes, std::io::Error>, body: Bytes) {
    let _ = sender.send_data(body).await;
}

/// The proxy's own error answer, shaped as an AWS JSON error so SDK clients name it.
fn error_status(status: u16) -> Response<ProxyBody> {
    let kind = match status {
        429 => "TooManyRequestsException",
        500..=599 => "ServiceException",
        _ => "InvalidRequestContentException",
    };
    let body = Bytes::from(format!(r#"{{"Type":"Service","message":"injected fault: HTTP {status}"}}"#));
    let (sender, channel) = Channel::new(1);
    tokio::spawn(send_all(sender, body.clone()));
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CONTENT_LENGTH, body.len())
        .header("x-amzn-ErrorType", kind)
        .body(channel)
        .unwrap_or_else(|_| Response::new(Channel::new(1).1))
}
