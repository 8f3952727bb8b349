//! What one client may cost the server: the largest request body, how long its headers and its body
//! may take to arrive, and how many connections are open at once.
//!
//! The header read timeout is the connection's (hyper closes a connection whose request headers are
//! not complete in time, the idle time between keep-alive requests included); the body deadline and
//! the size limit are applied by [`read_body`], a middleware that reads the whole body before the
//! router sees it, so a client trickling its body a byte at a time holds its connection for at most
//! the deadline.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;

/// The default time a client has to send a request's headers, and to start a new request on an idle
/// keep-alive connection.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time a client has to send a request's whole body once its headers are in.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The default largest number of connections open at once; more wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8192;

/// Per-request and per-connection limits of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body, in bytes.
    pub body_bytes: usize,
    /// How long a request's headers may take to arrive (and an idle connection may stay open).
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive.
    pub body_timeout: Duration,
    /// How many connections are served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: crate::DEFAULT_BODY_LIMIT,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The default limits with another body size limit.
    pub fn with_body_bytes(body_bytes: usize) -> Limits {
        Limits { body_bytes, ..Limits::default() }
    }
}

/// Middleware: reads the request body within `limits.body_timeout` and `limits.body_bytes`, then
/// passes the request on with its body in memory. A body too large is answered with AWS's
/// `RequestEntityTooLargeException` (413), one too slow with `RequestTimeoutException` (408), and
/// the connection is closed after either, since the rest of the body was not read.
pub async fn read_body(limits: Limits, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // A declared length over the limit is refused before a byte of the body is read.
    if usize::try_from(http_body::Body::size_hint(&body).lower()).map_or(true, |n| n > limits.body_bytes) {
        return closing(ApiError::RequestEntityTooLarge("Request entity too large".into()));
    }
    let read = Limited::new(body, limits.body_bytes).collect();
    let bytes = match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return closing(ApiError::RequestEntityTooLarge("Request entity too large".into()))
        }
        // The client went away or sent a malformed chunked body.
        Ok(Err(e)) => {
            return closing(ApiError::SerializationException(format!("The request body could not be read: {e}")))
        }
        Err(_) => {
            return closing(ApiError::RequestTimeoutException(format!(
                "The request body was not received within {} seconds",
                limits.body_timeout.as_secs_f64()
            )))
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// An error answer after which the connection is closed.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
