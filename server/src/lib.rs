//! Legion's AWS Step Functions HTTP API: the AWS JSON 1.0 protocol over axum, in front of the engine.
//!
//! [`app`] builds the router; tests call it without a socket (`tower::ServiceExt::oneshot`), and
//! [`serve`] runs it on a listener for `legion serve`. Only this crate knows the wire format.
//!
//! ```
//! use legion_engine::Engine;
//! use legion_server::{app, AppState};
//!
//! let router = app(AppState::new(Engine::builder().build()));
//! # let _ = router;
//! ```

pub mod api;
pub mod auth;
pub mod catalog;
pub mod cfn;
pub mod console;
pub mod error;
pub mod history_json;
pub mod limits;
pub mod protocol;
pub mod registry;
pub mod serve;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use legion_connectors::openfaas::{complete_callback, CALLBACK_PATH};
use tower_http::trace::TraceLayer;

pub use api::{AppState, PurgeForwarder};
pub use error::ApiError;
pub use protocol::Operation;

/// The default largest request body: AWS accepts 1 MiB requests; definitions are counted in characters
/// and JSON escaping can double them, so the wire limit leaves room for that.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The router for every operation, with the default body limit.
pub fn app(state: AppState) -> Router {
    app_with_limit(state, DEFAULT_BODY_LIMIT)
}

/// The router, refusing request bodies larger than `body_limit` bytes.
pub fn app_with_limit(state: AppState, body_limit: usize) -> Router {
    app_with_limits(state, limits::Limits::with_body_bytes(body_limit))
}

/// The router, reading each request body within `limits` (size and deadline) before routing it.
pub fn app_with_limits(state: AppState, limits: limits::Limits) -> Router {
    app_with_options(state, limits, None)
}

/// The router with `limits`, and with `keys` requiring every request to be signed (SigV4) by one of
/// them.
pub fn app_with_options(state: AppState, limits: limits::Limits, keys: Option<auth::Keys>) -> Router {
    let console = legion_console::router(std::sync::Arc::new(console::InProcessApi(state.clone())));
    let mut router = Router::new()
        .route(&format!("{CALLBACK_PATH}{{*token}}"), axum::routing::post(callback))
        .fallback(move |state: State<AppState>, request: axum::extract::Request| route(state, console.clone(), request))
        .layer(DefaultBodyLimit::max(limits.body_bytes));
    if let Some(keys) = keys {
        router = router.layer(axum::middleware::from_fn(move |request, next| {
            auth::require_signature(keys.clone(), request, next)
        }));
    }
    router
        .layer(axum::middleware::from_fn(move |request, next| limits::read_body(limits, request, next)))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenFaaS callback endpoint (`POST /legion/callback/{token}`): a queue worker's result completes
/// the callback task of its token.
async fn callback(State(state): State<AppState>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or_else(|| uri.path());
    let reply = complete_callback(state.engine().task_tokens(), path_and_query, &headers, &body);
    let status = axum::http::StatusCode::from_u16(reply.status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (status, reply.message).into_response()
}

/// `GET /console…` goes to the web console (and a browser's `GET /` is sent there); every other
/// request to the API.
async fn route(State(state): State<AppState>, console: Router, request: axum::extract::Request) -> Response {
    let path = request.uri().path();
    let wants_html = request
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if request.method() == Method::GET && path == "/" && wants_html {
        return axum::response::Redirect::to("/console/").into_response();
    }
    if request.method() == Method::GET && (path == "/console" || path.starts_with("/console/")) {
        use tower::ServiceExt;
        return match console.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    handle(state, request).await
}

/// Every request: `POST` (any path, any host, including the `sync-` prefixed ones) with
/// `X-Amz-Target` naming the operation. The body is already in memory ([`limits::read_body`]).
async fn handle(state: AppState, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        let method = parts.method;
        return ApiError::UnknownOperationException(format!("{method} is not supported: use POST")).into_response();
    }
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::SerializationException(format!("The request body could not be read: {e}")).into_response()
        }
    };
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    match target.parse::<Operation>() {
        Ok(operation) => {
            tracing::info!(operation = operation.name(), bytes = body.len(), "request");
            api::dispatch(state, operation, body).await
        }
        Err(e) => e.into_response(),
    }
}
