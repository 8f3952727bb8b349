//! A function served the way OpenFaaS's watchdog serves one (`of-watchdog` in `http` mode): an HTTP
//! server on 127.0.0.1 whose every `POST` hands the request body and headers to the function and
//! answers with the function's status, body and `Content-Type`. Put it behind a [`crate::openfaas::Gateway`]
//! with [`crate::openfaas::Gateway::deploy_service`], as a gateway fronts a function's pods.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

use crate::http::{text, Server, StartError};
use crate::openfaas::{FunctionCall, FunctionHandler};

/// A running function; dropping it stops the server.
#[derive(Debug)]
pub struct Watchdog {
    server: Server,
}

impl Watchdog {
    /// Serves `function` on a free port of 127.0.0.1 on the current runtime.
    pub async fn start(function: FunctionHandler) -> Result<Watchdog, StartError> {
        let server = Server::start(Arc::new(move |req| {
            let function = function.clone();
            Box::pin(async move {
                if req.method != hyper::Method::POST && req.method != hyper::Method::PUT {
                    return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                }
                let reply = function(FunctionCall { body: req.body, headers: req.headers }).await;
                let mut r = Response::new(Full::new(Bytes::clone(&reply.body)));
                *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if let Ok(v) = HeaderValue::from_str(&reply.content_type) {
                    r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
                }
                r
            })
        }))
        .await?;
        Ok(Watchdog { server })
    }

    /// The function's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.server.url()
    }
}
