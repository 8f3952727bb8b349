//! What the store tests share.

use std::time::{Duration, Instant};

/// Waits (at most 10 s) until `execution` has recorded an event of type `event_type`.
pub async fn recorded(execution: &legion_engine::Execution, event_type: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !execution.history().iter().any(|e| e.event_type().name() == event_type) {
        assert!(Instant::now() < deadline, "{} never recorded {event_type}", execution.arn());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Five Pass executions on `store` (kept: at most three closed ones): a name is taken for good,
/// listings come newest first in pages, histories are read back, and retention removes the oldest.
pub async fn names_listings_and_retention(store: std::sync::Arc<dyn legion_engine::ExecutionStore>) {
    use legion_engine::{Engine, ExecutionStatus, ListQuery, StartRequest};
    let engine = Engine::builder().time_scale(0.0).store(store.clone()).build();
    let definition = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
    let options = legion_asl::parse::ParseOptions::default();
    let machine = std::sync::Arc::new(legion_asl::parse::parse_str(definition, options).expect("valid"));
    for n in 0..5 {
        let mut r = StartRequest::new(machine.clone(), "m", serde_json::json!({"n": n}));
        r.execution_name = Some(format!("e{n}"));
        let (_, outcome) = engine.run(r).await.expect("starts");
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    }
    // The same name again is refused once the first has ended.
    let mut again = StartRequest::new(machine.clone(), "m", serde_json::json!({"n": 4}));
    again.execution_name = Some("e4".to_owned());
    assert!(matches!(engine.start(again).await, Err(legion_engine::StoreError::AlreadyExists(_))));
    // Three closed executions are kept, newest first, in pages.
    let mut query = ListQuery { max_results: 2, ..ListQuery::default() };
    let first = engine.list_executions(&query).await.expect("lists");
    assert_eq!(first.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["e4", "e3"]);
    query.next_token = first.next_token;
    let second = engine.list_executions(&query).await.expect("lists");
    assert_eq!(second.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["e2"]);
    assert_eq!(second.next_token, None);
    // A history read back from the store; the oldest execution purged.
    let history = store.history(&engine.execution_arn("m", "e3")).await.expect("reads").expect("kept");
    assert_eq!(history.len(), 4);
    assert_eq!(store.history(&engine.execution_arn("m", "e0")).await.expect("reads"), None, "purged");
}
