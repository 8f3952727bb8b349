//! The console's routes through the API's router: GET pages under /console/, 404 pages for unknown
//! or malformed ARNs, and the API's POST routes on the same paths.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use legion_engine::Engine;
use legion_server::{app, AppState};
use tower::ServiceExt;

async fn get(path: &str) -> (StatusCode, String, Option<String>) {
    let router = app(AppState::new(Engine::builder().time_scale(0.0).build()));
    let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let csp = response.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), csp)
}

#[tokio::test]
async fn the_home_page_is_html_that_runs_no_inline_script() {
    let (status, body, csp) = get("/console/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("<!DOCTYPE html>") && body.contains("State machines"));
    assert!(csp.unwrap().contains("script-src 'self'"));
    let (status, script, _) = get("/console/assets/console.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(script.contains("DOMParser"));
}

#[tokio::test]
async fn unknown_and_malformed_arns_are_404_pages() {
    for path in [
        "/console/executions/arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3Aexecution%3Am%3Anope",
        "/console/executions/%3Cb%3E",
        "/console/executions/%FF",
        "/console/map-runs/arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3AmapRun%3Am%2Fl%3Aid",
        "/console/state-machines/nothing",
        "/console/else",
    ] {
        let (status, body, _) = get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("<h1>Not found</h1>"), "{path}");
        assert!(!body.contains("<b>"), "{path}");
    }
}

#[tokio::test]
async fn posts_under_console_still_reach_the_api() {
    let router = app(AppState::new(Engine::builder().build()));
    let request = Request::post("/console/")
        .header("x-amz-target", "AWSStepFunctions.ListStateMachines")
        .header("content-type", "application/x-amz-json-1.0")
        .body(Body::from("{}"))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_browser_opening_the_root_is_sent_to_the_console() {
    let router = app(AppState::new(Engine::builder().build()));
    let request = Request::get("/").header("accept", "text/html,application/xhtml+xml").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/console/");
    let response = router.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "other clients still get the API's answer");
}
