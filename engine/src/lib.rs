//! The Legion interpreter: runs Amazon States Language state machines on tokio.
//!
//! The engine is a library: it knows nothing of the Step Functions HTTP API. Tasks go through a
//! [`TaskDispatcher`]; executions record their history as AWS's GetExecutionHistory events.
//!
//! ```
//! use std::sync::Arc;
//! use legion_engine::{Engine, StartRequest, ExecutionStatus};
//! use legion_asl::parse::{parse_str, ParseOptions};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let definition = r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"greeting": "hi"}, "End": true}}}"#;
//! let machine = Arc::new(parse_str(definition, ParseOptions::default()).expect("valid definition"));
//! let engine = Engine::builder().time_scale(0.0).build();
//! let (execution, outcome) = engine.run(StartRequest::new(machine, "hello", serde_json::json!({}))).await.expect("a new name is free");
//! assert_eq!(outcome.status, ExecutionStatus::Succeeded);
//! assert_eq!(outcome.output, Some(serde_json::json!({"greeting": "hi"})));
//! assert_eq!(execution.history().len(), 4); // started, entered, exited, succeeded
//! # });
//! ```

pub mod activities;
pub mod dispatch;
mod engine;
pub mod executions;
pub mod history;
mod interp;
pub mod item_formats;
pub mod map_run;
pub mod store;
pub mod test_state;
pub mod tokens;
pub mod vars;

pub use activities::ActivityTask;
pub use dispatch::{Dispatched, LocalHandlers, TaskDispatcher, TaskError, TaskRequest};
pub use engine::{Engine, EngineBuilder, EngineConfig, Execution, ExecutionStatus, Outcome, PurgeHook, StartRequest};
pub use executions::{RedriveError, Redriven, StartOptions, Started, StopError};
pub use interp::MAX_PAYLOAD_BYTES;
pub use store::{
    Commit, DocumentChange, DocumentChanges, DocumentKind, DocumentStore, ExecutionRecord, ExecutionStore, Inbox,
    Launch, ListQuery, MapProgress, MemoryStore, Page, Recovered, RedriveFilter, Reservation, Retention,
    SavedCheckpoint, SavedRetry, Sent, Signal, StoreError,
};
pub use tokens::{TaskTokens, TokenError, TokenSignal};
