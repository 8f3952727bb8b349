//! Retention: closed executions, their history and their map runs are removed as the engine's
//! retention says, running ones never; an embedder is told which went.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use legion_asl::parse::{parse, ParseOptions};
use legion_engine::store::ListQuery;
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, Retention, StartRequest};
use serde_json::{json, Value};

fn request(definition: &Value, name: &str) -> StartRequest {
    let machine = Arc::new(parse(definition, ParseOptions::default()).expect("valid definition"));
    let mut r = StartRequest::new(machine, "kept", json!([1, 2, 3]));
    r.execution_name = Some(name.to_owned());
    r
}

async fn listed(engine: &Engine) -> Vec<String> {
    let query = ListQuery { max_results: 100, ..ListQuery::default() };
    let page = engine.list_executions(&query).await.expect("a listing");
    page.items.into_iter().map(|r| r.name).collect()
}

#[tokio::test]
async fn a_count_keeps_the_latest_closed_executions_with_their_map_runs() {
    let purged = Arc::new(Mutex::new(Vec::new()));
    let seen = purged.clone();
    let engine = Engine::builder()
        .retention(Retention::forever().max_closed(2))
        .on_purged(move |arns| seen.lock().expect("not poisoned").extend_from_slice(arns))
        .build();
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    let mut arns = Vec::new();
    for i in 0..5 {
        let (execution, outcome) = engine.run(request(&definition, &format!("e{i}"))).await.expect("starts");
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(engine.list_map_runs(execution.arn()).await.expect("the map-run store answers").len(), 1);
        arns.push(execution.arn().to_owned());
    }
    assert_eq!(listed(&engine).await, ["e4", "e3"]);
    for arn in &arns[..3] {
        assert!(engine.describe_execution(arn).await.expect("the store answers").is_none(), "{arn} is gone");
        assert!(engine.execution_history(arn).await.expect("the store answers").is_none());
        assert!(
            engine.list_map_runs(arn).await.expect("the map-run store answers").is_empty(),
            "its map run went with it"
        );
    }
    assert_eq!(engine.list_map_runs(&arns[4]).await.expect("the map-run store answers").len(), 1);
    assert_eq!(*purged.lock().expect("not poisoned"), arns[..3].to_vec());
}

#[tokio::test]
async fn an_age_never_removes_a_running_execution() {
    let (release, wait) = tokio::sync::watch::channel(false);
    let handlers = LocalHandlers::new().resource("hold", move |req| {
        let mut wait = wait.clone();
        async move {
            let _ = wait.wait_for(|go| *go).await;
            Ok(req.input)
        }
    });
    let engine = Engine::builder()
        .dispatcher(Arc::new(handlers))
        .retention(Retention::forever().max_age(Duration::ZERO))
        .build();
    let held = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "hold", "End": true}}});
    let quick = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let running = engine.start(request(&held, "running")).await.expect("starts");
    for i in 0..3 {
        engine.run(request(&quick, &format!("q{i}"))).await.expect("starts");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Each end removes the executions that closed before it; the running one stays.
    assert_eq!(listed(&engine).await, ["q2", "running"]);
    release.send_replace(true);
    assert_eq!(running.outcome().await.status, ExecutionStatus::Succeeded);
    engine.run(request(&quick, "last")).await.expect("starts");
    assert_eq!(listed(&engine).await, ["last"]);
}
