//! The console's routes: `GET /console/…`, rendered on the server from API calls.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::api::{Client, ConsoleApi};
use crate::escape::decode_query_value;
use crate::html;
use crate::pages::{self, Page};

/// The page for an address whose ARN is not valid percent-encoded UTF-8.
const MALFORMED: &str = "The ARN in this address is not valid percent-encoded text.";

/// The console's router (paths start with `/console`); every other path gets the console's 404 page.
pub fn router(api: Arc<dyn ConsoleApi>) -> Router {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(index))
        .route(html::SCRIPT_PATH, get(script))
        .route("/console/executions/{*arn}", get(execution))
        .route("/console/map-runs/{*arn}", get(map_run))
        .route("/console/state-machines/{*arn}", get(state_machine))
        .fallback(|| async { respond(Page::NotFound("There is no console page at this address.".into())) })
        .with_state(api)
}

async fn index(State(api): State<Arc<dyn ConsoleApi>>, RawQuery(query): RawQuery) -> Response {
    let status = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("status=")).and_then(decode_query_value));
    respond(pages::index::render(&Client::new(api.as_ref()), status.as_deref()).await)
}

async fn execution(State(api): State<Arc<dyn ConsoleApi>>, arn: Result<Path<String>, PathRejection>) -> Response {
    match arn {
        Ok(Path(arn)) => respond(pages::execution::render(&Client::new(api.as_ref()), &arn).await),
        Err(_) => respond(Page::NotFound(MALFORMED.into())),
    }
}

async fn map_run(State(api): State<Arc<dyn ConsoleApi>>, arn: Result<Path<String>, PathRejection>) -> Response {
    match arn {
        Ok(Path(arn)) => respond(pages::map_run::render(&Client::new(api.as_ref()), &arn).await),
        Err(_) => respond(Page::NotFound(MALFORMED.into())),
    }
}

async fn state_machine(State(api): State<Arc<dyn ConsoleApi>>, arn: Result<Path<String>, PathRejection>) -> Response {
    match arn {
        Ok(Path(arn)) => respond(pages::state_machine::render(&Client::new(api.as_ref()), &arn).await),
        Err(_) => respond(Page::NotFound(MALFORMED.into())),
    }
}

async fn script() -> Response {
    let mut response = html::CONSOLE_JS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn respond(page: Page) -> Response {
    let (status, body) = match page {
        Page::Ok(html) => (StatusCode::OK, html),
        Page::NotFound(message) => (StatusCode::NOT_FOUND, html::not_found(&message, "Check the ARN in the address.")),
        Page::Failed(failure) => (StatusCode::BAD_GATEWAY, html::failure(&failure.kind, &failure.message)),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
