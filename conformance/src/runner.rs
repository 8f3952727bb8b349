//! The boundary between the harness and an engine: the [`Runner`] trait and the [`Actual`] result it
//! produces for one case.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::case::Case;

/// A boxed, sendable future borrowing for `'a`; what [`Runner::run`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one case against an engine.
///
/// For an execution case the runner creates the state machine (account [`crate::case::ACCOUNT_ID`],
/// region [`crate::case::REGION`], the names in `state_machine`), sets up the resources the case lists,
/// starts the execution with the case input and waits for it to finish. For a validation case it only
/// creates the state machine; for a TestState case it calls TestState with the case's request.
///
/// The harness bounds the time a case may take; a runner must not block the thread for long, since
/// several cases run concurrently on the same task.
pub trait Runner: Send + Sync {
    /// Runs `case` and reports what the engine did.
    fn run<'a>(&'a self, case: &'a Case) -> BoxFuture<'a, Actual>;
}

/// What the engine did with one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Actual {
    /// A finished (or stopped) execution, as DescribeExecution and GetExecutionHistory show it.
    Execution {
        /// The final status.
        status: ExecutionStatus,
        /// The execution output parsed as JSON; `None` when the execution has no output.
        output: Option<Value>,
        /// The error of a failed execution.
        error: Option<String>,
        /// The cause of a failed execution, as the raw string AWS returns.
        cause: Option<String>,
        /// GetExecutionHistory events as JSON objects, each with at least a `type` field.
        history: Vec<Value>,
    },
    /// The outcome of CreateStateMachine: `Err` holds the message of the `InvalidDefinition` error.
    Validation(Result<(), String>),
    /// The TestState response as JSON (AWS wire shape: `status`, `output`, `error`, `cause`,
    /// `nextState`, `inspectionData`), or the API error it failed with.
    TestState(Result<Value, ApiError>),
    /// The case needs a service integration the engine does not support; the reason names it.
    Skipped(String),
}

/// The final status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// Still running (reported when the runner gave up waiting).
    Running,
    /// Finished successfully.
    Succeeded,
    /// Failed.
    Failed,
    /// Timed out (`TimeoutSeconds` of the state machine).
    TimedOut,
    /// Stopped by StopExecution.
    Aborted,
    /// Failed and waiting for a redrive.
    PendingRedrive,
}

impl ExecutionStatus {
    /// The status as AWS spells it (`SUCCEEDED`, `TIMED_OUT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
            Self::PendingRedrive => "PENDING_REDRIVE",
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered by an API call instead of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The error type (`__type`), e.g. `ValidationException` or `InvalidDefinition`.
    pub error_type: String,
    /// The error message.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}
