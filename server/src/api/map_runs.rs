//! Map runs: DescribeMapRun, ListMapRuns and UpdateMapRun, over the engine's map-run records.

use legion_engine::map_run::{Counts, MapRunInfo, MapRunLimitsUpdate, UpdateMapRunError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{paginate, required, AppState, Empty};
use crate::error::ApiError;
use crate::protocol::{epoch, epoch_opt};
use crate::registry::parse_arn;

/// Input naming one map run.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapRunArnInput {
    map_run_arn: Option<String>,
}

/// DescribeMapRun's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeOutput {
    map_run_arn: String,
    execution_arn: String,
    status: &'static str,
    #[serde(serialize_with = "epoch")]
    start_date: OffsetDateTime,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    stop_date: Option<OffsetDateTime>,
    max_concurrency: u64,
    tolerated_failure_percentage: f64,
    tolerated_failure_count: u64,
    item_counts: CountsOutput,
    execution_counts: CountsOutput,
    redrive_count: u32,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    redrive_date: Option<OffsetDateTime>,
}

async fn find(state: &AppState, arn: &str) -> Result<MapRunInfo, ApiError> {
    match parse_arn(arn) {
        Some(a) if a.resource_type == "mapRun" => {}
        _ => return Err(ApiError::invalid_arn(arn)),
    }
    state
        .engine()
        .describe_map_run(arn)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("Resource not found: '{arn}'")))
}

/// DescribeMapRun.
pub async fn describe(state: AppState, input: MapRunArnInput) -> Result<DescribeOutput, ApiError> {
    let arn = required(input.map_run_arn, "mapRunArn")?;
    let run = find(&state, &arn).await?;
    Ok(DescribeOutput {
        map_run_arn: run.map_run_arn,
        execution_arn: run.execution_arn,
        status: run.status.as_str(),
        start_date: run.start_date,
        stop_date: run.stop_date,
        max_concurrency: run.max_concurrency,
        tolerated_failure_percentage: run.tolerated_failure_percentage,
        tolerated_failure_count: run.tolerated_failure_count,
        item_counts: run.item_counts.into(),
        execution_counts: run.execution_counts.into(),
        redrive_count: run.redrive_count,
        redrive_date: run.redrive_date,
    })
}

/// DescribeMapRun's `itemCounts` and `executionCounts`. Legion counts no failures that a redrive
/// cannot rerun, nor items waiting for a redrive, so the last two are always 0.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountsOutput {
    pending: u64,
    running: u64,
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    aborted: u64,
    total: u64,
    results_written: u64,
    failures_not_redrivable: u64,
    pending_redrive: u64,
}

impl From<Counts> for CountsOutput {
    fn from(c: Counts) -> CountsOutput {
        CountsOutput {
            pending: c.pending,
            running: c.running,
            succeeded: c.succeeded,
            failed: c.failed,
            timed_out: c.timed_out,
            aborted: c.aborted,
            total: c.total,
            results_written: c.results_written,
            failures_not_redrivable: 0,
            pending_redrive: 0,
        }
    }
}

/// ListMapRuns's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    execution_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MapRunItem {
    execution_arn: String,
    map_run_arn: String,
    state_machine_arn: String,
    #[serde(serialize_with = "epoch")]
    start_date: OffsetDateTime,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    stop_date: Option<OffsetDateTime>,
}

/// ListMapRuns's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOutput {
    map_runs: Vec<MapRunItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListMapRuns: the map runs an execution started.
pub async fn list(state: AppState, input: ListInput) -> Result<ListOutput, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    match parse_arn(&arn) {
        Some(a) if a.resource_type == "execution" => {}
        _ => return Err(ApiError::invalid_arn(&arn)),
    }
    if state.engine().describe_execution(&arn).await?.is_none() && state.engine().map_run_child(&arn).await?.is_none() {
        return Err(ApiError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'")));
    }
    let items = state
        .engine()
        .list_map_runs(&arn)
        .await?
        .into_iter()
        .map(|r| MapRunItem {
            execution_arn: r.execution_arn,
            map_run_arn: r.map_run_arn,
            state_machine_arn: r.state_machine_arn,
            start_date: r.start_date,
            stop_date: r.stop_date,
        })
        .collect();
    let (map_runs, next_token) =
        paginate(items, input.max_results, input.next_token.as_deref(), &format!("ListMapRuns {arn}"))?;
    Ok(ListOutput { map_runs, next_token })
}

/// UpdateMapRun's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    map_run_arn: Option<String>,
    max_concurrency: Option<i64>,
    tolerated_failure_percentage: Option<f64>,
    tolerated_failure_count: Option<i64>,
}

/// UpdateMapRun: changes a running map run's limits; refused for a completed run, as AWS does.
pub async fn update(state: AppState, input: UpdateInput) -> Result<Empty, ApiError> {
    let arn = required(input.map_run_arn, "mapRunArn")?;
    if input.max_concurrency.is_none()
        && input.tolerated_failure_percentage.is_none()
        && input.tolerated_failure_count.is_none()
    {
        return Err(ApiError::validation(
            "At least one of the parameters maxConcurrency, toleratedFailurePercentage or toleratedFailureCount must be specified",
        ));
    }
    let non_negative = |v: Option<i64>, name: &str| -> Result<Option<u64>, ApiError> {
        match v {
            Some(n) if n < 0 => {
                Err(ApiError::constraint(&n.to_string(), name, "Member must have value greater than or equal to 0"))
            }
            other => Ok(other.map(|n| n as u64)),
        }
    };
    let max_concurrency = non_negative(input.max_concurrency, "maxConcurrency")?;
    let tolerated_failure_count = non_negative(input.tolerated_failure_count, "toleratedFailureCount")?;
    if let Some(p) = input.tolerated_failure_percentage {
        if p < 0.0 {
            return Err(ApiError::constraint(
                &p.to_string(),
                "toleratedFailurePercentage",
                "Member must have value greater than or equal to 0",
            ));
        }
        if p > 100.0 {
            return Err(ApiError::constraint(
                &p.to_string(),
                "toleratedFailurePercentage",
                "Member must have value less than or equal to 100",
            ));
        }
    }
    find(&state, &arn).await?;
    let update = MapRunLimitsUpdate {
        max_concurrency,
        tolerated_failure_percentage: input.tolerated_failure_percentage,
        tolerated_failure_count,
    };
    match state.engine().update_map_run(&arn, update).await {
        Ok(_) => Ok(Empty {}),
        Err(UpdateMapRunError::NotFound(_)) => Err(ApiError::ResourceNotFound(format!("Resource not found: '{arn}'"))),
        Err(e @ UpdateMapRunError::Completed(_)) => Err(ApiError::ValidationException {
            message: e.to_string(),
            reason: Some("CANNOT_UPDATE_COMPLETED_MAP_RUN"),
        }),
        Err(UpdateMapRunError::Invalid(message)) => Err(ApiError::validation(&message)),
        Err(UpdateMapRunError::Store(e)) => Err(e.into()),
    }
}
