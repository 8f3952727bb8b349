//! The callback listener: a small HTTP server that receives the results of asynchronous OpenFaaS
//! calls (`POST /legion/callback/{token}`) and completes their tasks through the engine's task
//! tokens ([`crate::openfaas::complete_callback`]).
//!
//! `legion run` and embedders start one on 127.0.0.1; the API server can instead route
//! `/legion/callback/` to [`crate::openfaas::complete_callback`] on its own listener.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use legion_engine::TaskTokens;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::openfaas::complete_callback;

/// A running listener; dropping it stops accepting callbacks.
#[derive(Debug)]
pub struct CallbackListener {
    addr: SocketAddr,
    base_url: String,
    _stop: watch::Sender<()>,
}

impl CallbackListener {
    /// Listens on `addr` (`127.0.0.1:0` for a free port) on the current runtime. `public_url`, when
    /// given, is the base URL handed to gateways instead of `http://{addr}`.
    pub async fn start(
        tokens: TaskTokens,
        addr: SocketAddr,
        public_url: Option<String>,
    ) -> Result<CallbackListener, std::io::Error> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((s, _)) => s,
                        Err(_) => continue,
                    },
                    _ = stopped.changed() => return,
                };
                let tokens = tokens.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let tokens = tokens.clone();
                        async move { Ok::<_, Infallible>(serve(&tokens, req).await) }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        let base_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
        Ok(CallbackListener { addr, base_url, _stop: stop })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL callbacks are posted to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

async fn serve(tokens: &TaskTokens, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let respond = |status: u16, text: String| {
        let mut r = Response::new(Full::new(Bytes::from(text)));
        *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        r
    };
    if req.method() != hyper::Method::POST {
        return respond(405, "callbacks are POSTed\n".to_owned());
    }
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return respond(400, "unreadable body\n".to_owned()),
    };
    let reply = complete_callback(tokens, &path_and_query, &parts.headers, &body);
    respond(reply.status, format!("{}\n", reply.message))
}
