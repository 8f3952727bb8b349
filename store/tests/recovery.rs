//! Executions in a SQLite store survive the end of the process that ran them: a new engine on the same
//! file resumes each RUNNING execution from its last committed state boundary.
//!
//! The "crash" here drops the first engine's runtime mid-execution, so nothing after the last commit
//! reaches the file; `server/tests/durable_serve.rs` does the same with `kill -9` on the binary.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use legion_asl::parse::{parse_str, ParseOptions};
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, Retention, StartRequest};
use legion_store::{SqliteStore, Sync};
use serde_json::json;

const DEFINITION: &str = r#"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Assign": {"greeting": "hello"}, "Parameters": {"n.$": "$.n"}, "Next": "Call"},
    "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "Next": "Nap"},
    "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Finish"},
    "Finish": {"Type": "Pass", "Parameters": {"result.$": "$.n", "greeting.$": "$greeting"}, "End": true}
  }
}"#;

fn engine(path: &std::path::Path, calls: Arc<AtomicUsize>) -> Engine {
    let handlers = LocalHandlers::new().resource("arn:aws:lambda:us-east-1:123456789012:function:double", move |req| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { Ok(json!({"n": req.input["n"].as_i64().unwrap_or(0) * 2})) }
    });
    let store = SqliteStore::open(path, Sync::Normal, Retention::forever()).expect("the store opens");
    Engine::builder().time_scale(1.0).dispatcher(Arc::new(handlers)).store(Arc::new(store)).build()
}

fn request() -> StartRequest {
    let machine = parse_str(DEFINITION, ParseOptions::default()).expect("valid definition");
    let mut request = StartRequest::new(Arc::new(machine), "durable", json!({"n": 21}));
    request.execution_name = Some("survivor".to_owned());
    request
}

#[test]
fn a_running_execution_resumes_in_a_new_process_with_the_time_left_to_wait() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("legion.db");
    let calls = Arc::new(AtomicUsize::new(0));

    // The first process: runs 1.5 s into the Wait, then dies.
    let first = tokio::runtime::Runtime::new().expect("a runtime");
    let (arn, waiting_since) = first.block_on(async {
        let engine = engine(&path, calls.clone());
        let execution = engine.start(request()).await.expect("starts");
        common::recorded(&execution, "WaitStateEntered").await;
        let waiting_since = Instant::now();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        (execution.arn().to_owned(), waiting_since)
    });
    // Dropping every task of the runtime closes the store (and its lock) as a dead process would.
    first.shutdown_timeout(Duration::from_secs(10));

    // The second process: the execution is RUNNING, resumes in the Wait and finishes.
    let second = tokio::runtime::Runtime::new().expect("a runtime");
    second.block_on(async {
        let engine = engine(&path, calls.clone());
        let record = engine.describe_execution(&arn).await.expect("the store answers").expect("kept");
        assert_eq!(record.status, ExecutionStatus::Running);
        assert_eq!(engine.recover().await.expect("recovers"), 1);
        let execution = engine.running_execution(&arn).expect("running again");
        let outcome = execution.outcome().await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.output, Some(json!({"result": 42, "greeting": "hello"})));
        // The Wait went on with what was left of its 3 s, not 3 s more.
        let waited = waiting_since.elapsed();
        assert!(waited >= Duration::from_millis(2900) && waited < Duration::from_millis(4000), "waited {waited:?}");
        // The Task ran once: its state had ended before the crash.
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let history = engine.execution_history(&arn).await.expect("the store answers").expect("kept");
        let types: Vec<&str> = history.iter().map(|e| e.event_type().name()).collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "PassStateEntered",
                "PassStateExited",
                "TaskStateEntered",
                "LambdaFunctionScheduled",
                "LambdaFunctionStarted",
                "LambdaFunctionSucceeded",
                "TaskStateExited",
                "WaitStateEntered",
                "WaitStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=13).collect::<Vec<_>>(), "every event once, in order");
        let record = engine.describe_execution(&arn).await.expect("the store answers").expect("kept");
        assert_eq!(record.status, ExecutionStatus::Succeeded);
    });
}

#[tokio::test]
async fn names_listings_and_retention_behave_as_in_memory() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("legion.db");
    let store = SqliteStore::open(&path, Sync::Normal, Retention::forever().max_closed(3)).expect("opens");
    common::names_listings_and_retention(Arc::new(store)).await;
}

#[test]
fn a_file_from_a_newer_legion_is_refused() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("legion.db");
    drop(SqliteStore::open(&path, Sync::Normal, Retention::forever()).expect("opens"));
    set_schema_version(&path, 99);
    let err = SqliteStore::open(&path, Sync::Normal, Retention::forever()).err().expect("refused");
    assert!(err.to_string().contains("newer Legion (schema version 99"), "{err}");
}

/// Writes `version` into the database header's user_version field (offset 60, big-endian), as a
/// newer Legion's migrations would have left it.
fn set_schema_version(path: &std::path::Path, version: u32) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("the file exists");
    let mut header = [0u8; 100];
    file.read_exact(&mut header).expect("a database header");
    assert_eq!(&header[..16], b"SQLite format 3\0");
    file.seek(SeekFrom::Start(60)).expect("seeks");
    file.write_all(&version.to_be_bytes()).expect("writes");
}

#[test]
fn a_retry_back_off_resumes_where_it_was() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("legion.db");
    let definition = r#"{
      "StartAt": "Flaky",
      "States": {
        "Flaky": {
          "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
          "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 1, "MaxAttempts": 3}],
          "End": true
        }
      }
    }"#;
    let calls = Arc::new(AtomicUsize::new(0));
    let engine = |calls: Arc<AtomicUsize>| {
        let handlers =
            LocalHandlers::new().resource("arn:aws:lambda:us-east-1:123456789012:function:flaky", move |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err(legion_engine::TaskError::new("Boom", format!("attempt {n}")))
                    } else {
                        Ok(json!({"attempt": n}))
                    }
                }
            });
        let store = SqliteStore::open(&path, Sync::Normal, Retention::forever()).expect("the store opens");
        Engine::builder().time_scale(1.0).dispatcher(Arc::new(handlers)).store(Arc::new(store)).build()
    };
    let machine = Arc::new(parse_str(definition, ParseOptions::default()).expect("valid"));

    let first = tokio::runtime::Runtime::new().expect("a runtime");
    let (arn, failed_at) = first.block_on(async {
        let engine = engine(calls.clone());
        let execution = engine.start(StartRequest::new(machine, "flaky", json!({}))).await.expect("starts");
        common::recorded(&execution, "LambdaFunctionFailed").await;
        let failed_at = Instant::now();
        tokio::time::sleep(Duration::from_millis(800)).await;
        (execution.arn().to_owned(), failed_at)
    });
    // Dropping every task of the runtime closes the store (and its lock) as a dead process would.
    first.shutdown_timeout(Duration::from_secs(10));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let second = tokio::runtime::Runtime::new().expect("a runtime");
    second.block_on(async {
        let engine = engine(calls.clone());
        assert_eq!(engine.recover().await.expect("recovers"), 1);
        let outcome = engine.running_execution(&arn).expect("running again").outcome().await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.output, Some(json!({"attempt": 2})));
        // Two back-offs of 2 s from the first failure: the restart neither restarted nor skipped the first.
        let took = failed_at.elapsed();
        assert!(took >= Duration::from_millis(3900) && took < Duration::from_millis(5500), "took {took:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "each attempt once");
        let history = engine.execution_history(&arn).await.expect("the store answers").expect("kept");
        let types: Vec<&str> = history.iter().map(|e| e.event_type().name()).collect();
        let entered = types.iter().filter(|t| **t == "TaskStateEntered").count();
        assert_eq!(entered, 1, "{types:?}");
        let failed = types.iter().filter(|t| **t == "LambdaFunctionFailed").count();
        assert_eq!(failed, 2, "{types:?}");
        let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>());
    });
}

/// A file of schema version 2 holds one event per row, keyed by the execution's ARN; version 3
/// writes the events of a commit in one row; version 4 keys them by the execution's `seq`. A file
/// written by version 2 reads the same history after the upgrade.
#[test]
fn a_history_written_one_event_per_row_reads_the_same_after_the_upgrade() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("legion.db");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let (arn, history) = runtime.block_on(async {
        let engine = engine(&path, Arc::new(AtomicUsize::new(0)));
        let mut request = request();
        request.machine = Arc::new(
            parse_str(&DEFINITION.replace(r#""Seconds": 3"#, r#""Seconds": 0"#), ParseOptions::default())
                .expect("valid definition"),
        );
        let (execution, outcome) = engine.run(request).await.expect("starts");
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        let history = engine.execution_history(execution.arn()).await.expect("answers").expect("kept");
        (execution.arn().to_owned(), history)
    });
    drop(runtime);
    let conn = rusqlite::Connection::open(&path).expect("opens");
    let rows: i64 = conn.query_row("SELECT count(*) FROM history", [], |r| r.get(0)).expect("counts");
    assert!(rows < history.len() as i64, "{rows} rows for {} events", history.len());
    // Back to version 2's layout: the events table, one event per row, and the status index.
    conn.execute_batch(
        "DROP TABLE history;
         DROP INDEX executions_running;
         CREATE INDEX executions_by_status ON executions (status);
         CREATE TABLE events (arn TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (arn, id)) WITHOUT ROWID;",
    )
    .expect("restores version 2's tables");
    for event in &history {
        let text = serde_json::to_string(event).expect("serialises");
        conn.execute(
            "INSERT INTO events (arn, id, event) VALUES (?1, ?2, ?3)",
            rusqlite::params![arn, event.id as i64, text],
        )
        .expect("inserts");
    }
    conn.pragma_update(None, "user_version", 2).expect("sets the version");
    drop(conn);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let engine = engine(&path, Arc::new(AtomicUsize::new(0)));
        let read = engine.execution_history(&arn).await.expect("answers").expect("kept");
        assert_eq!(read, history);
    });
    drop(runtime);
    let conn = rusqlite::Connection::open(&path).expect("opens");
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE name IN ('events', 'history', 'executions_by_status') ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("reads the schema");
    assert_eq!(tables, ["history"]);
}
