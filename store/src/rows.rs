//! How both backends turn the engine's types into column values and back.

use legion_engine::{ExecutionRecord, Launch, StoreError};
use time::OffsetDateTime;

/// A row or document this Legion cannot read.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A backend failure; the request may succeed later.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A time as nanoseconds since the epoch (saturating).
pub(crate) fn nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// A record from its JSON column.
pub(crate) fn record_of(text: &str) -> Result<ExecutionRecord, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// A value as JSON text.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

/// A value from JSON text.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// What resuming an execution needs, as the `definition`, `role_arn` and `token_seed` columns.
pub(crate) fn launch_columns(launch: Option<Launch>) -> (Option<String>, Option<String>, Option<String>) {
    match launch {
        Some(l) => (Some(l.definition.to_string()), Some(l.role_arn), l.token_seed),
        None => (None, None, None),
    }
}

/// A reservation whose start never completed cannot be resumed: nobody was told it started.
pub(crate) fn interrupted() -> legion_engine::Outcome {
    legion_engine::Outcome {
        status: legion_engine::ExecutionStatus::Failed,
        output: None,
        error: Some("States.Runtime".to_owned()),
        cause: Some("The execution was interrupted before it started and cannot be resumed".to_owned()),
    }
}
