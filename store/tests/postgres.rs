//! Several engines on one PostgreSQL database (`LEGION_TEST_POSTGRES`, which `.ci/run` starts; each
//! test works in a database of its own): a running execution belongs to one engine through a lease,
//! another takes it over when that engine dies, and answers, stop requests and listings work from any
//! engine.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::history::Event;
use legion_engine::map_run::{ChildQueue, ChildResult, QueuedChild};
use legion_engine::{
    Engine, ExecutionStatus, LocalHandlers, Retention, StartRequest, StoreError, TokenError, TokenSignal,
};
use legion_store::PostgresStore;
use serde_json::json;

async fn store(url: &str, lease_secs: f64, retention: Retention) -> Arc<PostgresStore> {
    let url = format!("{url}{}lease={lease_secs}", if url.contains('?') { '&' } else { '?' });
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
        assert_eq!(history.last().map(|e| e.event_type().name()), Some("ExecutionSucceeded"));
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

    // A worker polling the other engine gets the owner's activity task, once; SendTaskSuccess through
    // the other engine completes it.
    let execution = owner.start(StartRequest::new(machine(APPROVAL), "approval", json!({"order": 7}))).await.unwrap();
    let activity = "arn:aws:states:us-east-1:123456789012:activity:approve";
    let task = other.get_activity_task(activity, Some("far-worker"), Duration::from_secs(5)).await.expect("a task");
    assert_eq!(task.input, json!({"order": 7}));
    common::recorded(&execution, "ActivityStarted").await;
    let started = execution.history().into_iter().find(|e| e.event_type().name() == "ActivityStarted").unwrap();
    assert_eq!(started.event, Event::ActivityStarted { worker_name: Some("far-worker".into()) });
    for engine in [&owner, &other] {
        let again = engine.get_activity_task(activity, Some("late"), Duration::from_millis(300)).await;
        assert_eq!(again, None, "a task is handed out once");
    }
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

/// An engine whose Distributed Map children go through the store's queue; its Task sleeps `nap`
/// and counts its calls in `calls`.
fn sharing_engine(store: Arc<PostgresStore>, calls: Arc<AtomicUsize>, nap: Duration) -> Engine {
    let handlers = LocalHandlers::new().resource(LAMBDA, move |req| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(nap).await;
            Ok(json!({"n": req.input["n"].as_i64().unwrap_or(0) * 2}))
        }
    });
    Engine::builder()
        .dispatcher(Arc::new(handlers))
        .store(store.clone())
        .map_run_store(store.clone())
        .child_queue(store)
        .build()
}

const FAN_OUT: &str = r#"{
  "StartAt": "Fan",
  "States": {
    "Fan": {
      "Type": "Map",
      "ItemsPath": "$.items",
      "MaxConcurrency": 40,
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Call",
        "States": {
          "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "OutputPath": "$.n", "End": true}
        }
      },
      "End": true
    }
  }
}"#;

fn items(n: i64) -> serde_json::Value {
    json!({"items": (0..n).map(|i| json!({"n": i})).collect::<Vec<_>>()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_runs_children_of_a_map_run() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    let (mine, theirs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let nap = Duration::from_millis(30);
    // Each engine runs at most 10 children at once: the coordinator offers the rest.
    let url = format!("{url}?children=10");
    let coordinator = sharing_engine(store(&url, 5.0, Retention::forever()).await, mine.clone(), nap);
    let other = sharing_engine(store(&url, 5.0, Retention::forever()).await, theirs.clone(), nap);
    coordinator.recover().await.expect("recovers");
    other.recover().await.expect("recovers");

    let execution = coordinator.start(StartRequest::new(machine(FAN_OUT), "fan", items(200))).await.expect("starts");
    let outcome = tokio::time::timeout(Duration::from_secs(60), execution.outcome()).await.expect("ends");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!((0..200).map(|i| i * 2).collect::<Vec<_>>())), "every result in order");
    let (mine, theirs) = (mine.load(Ordering::SeqCst), theirs.load(Ordering::SeqCst));
    assert_eq!(mine + theirs, 200, "each child ran once");
    assert!(mine > 0 && theirs > 0, "both engines ran children: {mine} and {theirs}");

    // The map run and its children, with the histories the other engine recorded, from either engine.
    let runs = other.list_map_runs(execution.arn()).await.expect("the store answers");
    assert_eq!(runs.len(), 1);
    let run = other.describe_map_run(&runs[0].map_run_arn).await.expect("answers").expect("kept");
    assert_eq!(run.item_counts.succeeded, 200);
    let children = coordinator.list_map_run_executions(&run.map_run_arn).await.expect("answers");
    assert_eq!(children.len(), 200);
    assert!(children.iter().all(|c| c.status == ExecutionStatus::Succeeded));
    for child in children.iter().take(20) {
        let kept = other.map_run_child(&child.execution_arn).await.expect("answers").expect("kept");
        let history = kept.history.expect("a STANDARD child keeps its history").events();
        let types: Vec<&str> = history.iter().map(|e| e.event_type().name()).collect();
        assert_eq!(types.first().copied(), Some("ExecutionStarted"), "{types:?}");
        assert_eq!(types.last().copied(), Some("ExecutionSucceeded"), "{types:?}");
    }
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM map_child_queue").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 0, "the queue is empty once the map run ended");
}

/// A child queue whose first `failures` definition reads fail, as a database that goes away a moment.
struct FlakyDefinitions {
    store: Arc<PostgresStore>,
    failures: AtomicUsize,
}

#[async_trait::async_trait]
impl ChildQueue for FlakyDefinitions {
    fn offer(&self, child: QueuedChild) {
        self.store.offer(child)
    }
    async fn result(&self, map_run_arn: &str, ordinal: u64) -> Result<ChildResult, StoreError> {
        self.store.result(map_run_arn, ordinal).await
    }
    fn close_run(&self, map_run_arn: &str) {
        self.store.close_run(map_run_arn)
    }
    async fn claim(&self, max: usize) -> Result<Vec<QueuedChild>, StoreError> {
        self.store.claim(max).await
    }
    async fn offered(&self) {
        self.store.offered().await
    }
    async fn renew(&self, running: &[(String, u64)]) -> Result<Vec<(String, u64)>, StoreError> {
        self.store.renew(running).await
    }
    fn complete(&self, child: &QueuedChild, result: ChildResult) {
        self.store.complete(child, result)
    }
    async fn definition(&self, parent_arn: &str) -> Result<Option<(String, StateMachineType)>, StoreError> {
        let failing = self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing {
            return Err(StoreError::Unavailable("connection refused".to_owned()));
        }
        self.store.definition(parent_arn).await
    }
    fn capacity(&self) -> usize {
        self.store.capacity()
    }
    fn renew_every(&self) -> Duration {
        self.store.renew_every()
    }
}

/// A claimed child whose definition cannot be read for a moment is not failed: its claim lapses and
/// it runs once the store answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_whose_definition_cannot_be_read_yet_runs_later() {
    let Some(url) = legion_testkit::postgres::fresh_database().await else { return };
    let url = format!("{url}?children=10");
    let (mine, theirs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let nap = Duration::from_millis(30);
    let coordinator = sharing_engine(store(&url, 1.0, Retention::forever()).await, mine.clone(), nap);
    let theirs_store = store(&url, 1.0, Retention::forever()).await;
    let flaky = Arc::new(FlakyDefinitions { store: theirs_store.clone(), failures: AtomicUsize::new(3) });
    let handlers = {
        let calls = theirs.clone();
        LocalHandlers::new().resource(LAMBDA, move |req| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(nap).await;
                Ok(json!({"n": req.input["n"].as_i64().unwrap_or(0) * 2}))
            }
        })
    };
    let other = Engine::builder()
        .dispatcher(Arc::new(handlers))
        .store(theirs_store.clone())
        .map_run_store(theirs_store)
        .child_queue(flaky.clone())
        .build();
    coordinator.recover().await.expect("recovers");
    other.recover().await.expect("recovers");

    let execution = coordinator.start(StartRequest::new(machine(FAN_OUT), "fan", items(100))).await.expect("starts");
    let outcome = tokio::time::timeout(Duration::from_secs(60), execution.outcome()).await.expect("ends");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!((0..100).map(|i| i * 2).collect::<Vec<_>>())));
    assert_eq!(flaky.failures.load(Ordering::SeqCst), 0, "the other engine met the failing reads");
    let (mine, theirs) = (mine.load(Ordering::SeqCst), theirs.load(Ordering::SeqCst));
    assert_eq!(mine + theirs, 100, "each child ran once");
}

#[test]
fn children_claimed_by_an_engine_that_died_run_elsewhere() {
    let url = {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let Some(url) = rt.block_on(legion_testkit::postgres::fresh_database()) else { return };
        url
    };
    let url = format!("{url}?children=10");
    let (mine, theirs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let coordinator_rt = tokio::runtime::Runtime::new().expect("a runtime");
    let coordinator = coordinator_rt.block_on(async {
        let engine = sharing_engine(store(&url, 1.0, Retention::forever()).await, mine.clone(), Duration::ZERO);
        engine.recover().await.expect("recovers");
        engine
    });

    // The other engine claims children and never finishes them: its Task hangs, then it dies.
    let doomed = tokio::runtime::Runtime::new().expect("a runtime");
    let hung = theirs.clone();
    doomed.block_on(async {
        let engine = sharing_engine(store(&url, 1.0, Retention::forever()).await, hung, Duration::from_secs(3600));
        engine.recover().await.expect("recovers");
        std::mem::forget(engine);
    });
    let execution = coordinator_rt
        .block_on(coordinator.start(StartRequest::new(machine(FAN_OUT), "fan", items(100))))
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while theirs.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the other engine never claimed a child");
        std::thread::sleep(Duration::from_millis(20));
    }
    doomed.shutdown_timeout(Duration::from_secs(1));

    // Its claims lapse after the lease (1 s); the coordinator's engine claims and runs them.
    let outcome = coordinator_rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), execution.outcome()).await })
        .expect("ends");
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!((0..100).map(|i| i * 2).collect::<Vec<_>>())));
    let claimed_by_the_dead = theirs.load(Ordering::SeqCst);
    assert_eq!(mine.load(Ordering::SeqCst), 100, "what the dead engine had claimed ran again ({claimed_by_the_dead})");
}
