//! Errors raised while evaluating a state's fields, in ASL terms.

use std::fmt;

/// The predefined error names of the States language (Appendix A), plus the ones AWS raises.
pub mod names {
    /// Matches every error but `States.Runtime`.
    pub const ALL: &str = "States.ALL";
    /// Matches every task error but `States.Timeout`.
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A task or execution ran out of time.
    pub const TIMEOUT: &str = "States.Timeout";
    /// A task missed its heartbeat.
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    /// An unrecoverable interpreter error (not matched by `States.ALL`).
    pub const RUNTIME: &str = "States.Runtime";
    /// ResultPath could not be applied.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// A path in Parameters could not be resolved.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// An intrinsic function failed.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// A JSONata expression failed.
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    /// No Choice rule matched and there is no Default.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// A Parallel branch failed.
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    /// A payload exceeded 256 KiB.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// A Map run failed more items than tolerated.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// A Map's ItemReader failed.
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    /// A Map's ResultWriter failed.
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    /// Insufficient privileges.
    pub const PERMISSIONS: &str = "States.Permissions";
}

/// An error raised by the interpreter while evaluating a field: its ASL name, a detail text, and for
/// JSONata failures the field location (`Output/result`) that history's `EvaluationFailed` reports.
///
/// The engine prefixes the detail with `An error occurred while executing the state 'S' (entered at the
/// event id #N). ` to form AWS's cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// The ASL error name, such as `States.Runtime`.
    pub error: String,
    /// The detail text.
    pub detail: String,
    /// For JSONata errors, the field path the expression sits at.
    pub location: Option<String>,
}

impl EvalError {
    /// A `States.Runtime` error.
    pub fn runtime(detail: impl Into<String>) -> EvalError {
        EvalError { error: names::RUNTIME.to_owned(), detail: detail.into(), location: None }
    }

    /// An error with any name.
    pub fn new(error: impl Into<String>, detail: impl Into<String>) -> EvalError {
        EvalError { error: error.into(), detail: detail.into(), location: None }
    }

    /// A `States.QueryEvaluationError` at a field location.
    pub fn query(detail: impl Into<String>, location: impl Into<String>) -> EvalError {
        EvalError {
            error: names::QUERY_EVALUATION_ERROR.to_owned(),
            detail: detail.into(),
            location: Some(location.into()),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.detail)
    }
}

impl std::error::Error for EvalError {}

/// Compact JSON text of a value, as AWS quotes inputs in error causes.
pub fn compact(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
