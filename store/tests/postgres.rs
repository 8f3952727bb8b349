//! Several engines on one PostgreSQL database (`LEGION_TEST_POSTGRES`, which `.ci/run` starts; each
//! test works in a database of its own): a running execution belongs to one engine through a lease,
//! another takes it over when that engine dies, and answers, stop requests and listings work from any
//! engine.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, Retention, StartRequest, TokenError, TokenSignal};
use legion_store::PostgresStore;
use serde_json::json;

async fn store(url: &str, lease_secs: f64, retention: Retention) -> Arc<PostgresStore> {
    let url = format!("{url}?lease={lease_secs}");
    Arc::new(PostgresStore::open(&url, retention).await.expect("the store opens"))
}

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:double";

fn engine(store: Arc<PostgresStore>, calls: Arc<AtomicUsize>) -> Engine {
    let handlers = LocalHandlers::new().resource(LAMBDA, move |req| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { Ok(json!({"n": req.input["n"].as_i64().unwrap_or(0) * 2})) }
    });
    Engine::builder().time_scale(1.0).dispatcher(Arc::new(handlers)).store(store).build()
}

fn machine(definition: &str) -> Arc<legion_asl::model::StateMachine> {
    Arc::new(parse_str(definition, ParseOptions::default()).expect("valid definition"))
}

const WAITS: &str = r#"{
  "StartAt": "Call",
  "States": {
    "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "Next": "Nap"},
    "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Finish"},
    "Finish": {"Type": "Pass", "Parameters": {"result.$": "$.n"}, "End": true}
  }
}"#;

#[test]
fn another_engine_takes_over_the_executions_of_one_that_died() {
    let first = tokio::runtime::Runtime::new().expect("a runtime");
    let Some(url) = first.block_on(legion_testkit::postgres::fresh_database()) else { return };
    let calls = Arc::new(AtomicUsize::new(0));

    // The first engine runs into the Wait and dies: its lease (1 s) is no longer renewed.
    let (arn, waiting_since) = first.block_on(async {
        let engine = engine(store(&url, 1.0, Retention::forever()).await, calls.clone());
        engine.recover().await.expect("nothing to recover");
        let mut request = StartRequest::new(machine(WAITS), "waits", json!({"n": 21}));
        request.execution_name = Some("handed-over".to_owned());
        let execution = engine.start(request).await.expect("starts");
        common::recorded(&execution, "WaitStateEntered").await;
        (execution.arn().to_owned(), Instant::now())
    });
    first.shutdown_timeout(Duration::from_secs(5));

    // The second engine was already running; it finds the execution orphaned and finishes it.
    let second = tokio::runtime::Runtime::new().expect("a runtime");
    second.block_on(async {
        let engine = engine(store(&url, 1.0, Retention::forever()).await, calls.clone());
        engine.recover().await.expect("looks for orphans");
        let deadline = Instant::now() + Duration::from_secs(10);
        let execution = loop {
            if let Some(e) = engine.running_execution(&arn) {
                break e;
            }
            assert!(Instant::now() < deadline, "never taken over");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let outcome = execution.outcome().await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.output, Some(json!({"result": 42})));
        // Taken over within the lease and the half-lease look, then the Wait's remaining time.
        let took = waiting_since.elapsed();
        assert!(took >= Duration::from_millis(2900) && took < Duration::from_millis(5000), "took {took:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the Task had ended before the first engine died");
        let history = engine.execution_history(&arn).await.expect("the store answers").expect("kept");
        let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>(), "every event once");
        assert_eq!(history.last().map(|e| e.event_type().name()).as_deref(), Some("ExecutionSucceeded"));
    });
}

const APPROVAL: &str = r#"{
  "StartAt": "Approve",
  "States": {
    "Approve": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:approve", "End": true}
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_stops_reach_the_engine_that_runs_the_execution() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    let calls = Arc::new(AtomicUsize::new(0));
    let owner = engine(store(&url, 5.0, Retention::forever()).await, calls.clone());
    let other = engine(store(&url, 5.0, Retention::forever()).await, calls);
    owner.recover().await.expect("recovers");
    other.recover().await.expect("recovers");

    // SendTaskSuccess through the other engine completes the owner's activity task.
    let execution = owner.start(StartRequest::new(machine(APPROVAL), "approval", json!({"order": 7}))).await.unwrap();
    let activity = "arn:aws:states:us-east-1:123456789012:activity:approve";
    let task = owner.get_activity_task(activity, Some("worker"), Duration::from_secs(5)).await.expect("a task");
    other.answer_task(&task.task_token, TokenSignal::Success(json!({"ok": true}))).await.expect("routed");
    let outcome = tokio::time::timeout(Duration::from_secs(10), execution.outcome()).await.expect("answered in time");
    assert_eq!(outcome.output, Some(json!({"ok": true})));
    // The token is closed now, whichever engine is asked.
    let again = other.answer_task(&task.task_token, TokenSignal::Success(json!(1))).await;
    assert_eq!(again, Err(TokenError::TaskDoesNotExist));
    assert_eq!(
        other.answer_task("f".repeat(64).as_str(), TokenSignal::Heartbeat).await,
        Err(TokenError::TaskDoesNotExist)
    );

    // StopExecution through the other engine stops the owner's execution.
    let waiting = owner.start(StartRequest::new(machine(APPROVAL), "approval", json!({}))).await.unwrap();
    common::recorded(&waiting, "ActivityScheduled").await;
    let stopped = other.stop_execution(waiting.arn(), Some("Halt".into()), Some("from elsewhere".into())).await;
    assert!(stopped.is_ok(), "{stopped:?}");
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiting.outcome()).await.expect("stopped in time");
    assert_eq!(outcome.status, ExecutionStatus::Aborted);
    let record = other.describe_execution(waiting.arn()).await.unwrap().expect("any engine describes it");
    assert_eq!(record.status, ExecutionStatus::Aborted);
    assert_eq!(record.error.as_deref(), Some("Halt"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_listings_and_retention_behave_as_in_memory() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    common::names_listings_and_retention(store(&url, 5.0, Retention::forever().max_closed(3)).await).await;
}

#[tokio::test]
async fn a_database_from_a_newer_legion_is_refused() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    drop(store(&url, 5.0, Retention::forever()).await);
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    sqlx::query("UPDATE legion_meta SET value = 99 WHERE key = 'schema_version'").execute(&pool).await.unwrap();
    let err = PostgresStore::open(&url, Retention::forever()).await.expect_err("refused");
    assert!(err.to_string().contains("newer Legion (schema version 99"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // Nothing listens on port 9 of the loopback interface.
    let err = PostgresStore::open("postgres://legion@127.0.0.1:9/legion", Retention::forever()).await;
    let err = err.expect_err("refused").to_string();
    assert!(err.contains("cannot connect to postgres://legion@127.0.0.1:9/legion"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_execution_waits_out_a_database_outage() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    // The store reaches the database through a proxy that can cut it off.
    let server = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).expect("HOST:PORT").to_owned();
    let proxy = legion_testkit::outage::OutageProxy::start(&server).await.expect("the proxy starts");
    let via = url.replace(&server, &proxy.addr().to_string());
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = engine(store(&via, 2.0, Retention::forever()).await, calls.clone());
    engine.recover().await.expect("recovers");
    let execution = engine.start(StartRequest::new(machine(WAITS), "waits", json!({"n": 5}))).await.expect("starts");
    common::recorded(&execution, "WaitStateEntered").await;

    // The database goes away before the execution ends (the Wait lasts 3 s) and comes back 3 s later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(execution.try_outcome().is_none(), "the end waits for the database");
    proxy.restore();

    let outcome = tokio::time::timeout(Duration::from_secs(20), execution.outcome()).await.expect("ends");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let record = engine.describe_execution(execution.arn()).await.expect("the store answers").expect("kept");
    assert_eq!(record.status, ExecutionStatus::Succeeded, "the end was recorded once the database was back");
    let history = engine.execution_history(execution.arn()).await.expect("the store answers").expect("kept");
    let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>(), "every event once");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
