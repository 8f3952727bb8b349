//! Executions: StartExecution, StartSyncExecution, DescribeExecution, StopExecution, ListExecutions,
//! GetExecutionHistory, RedriveExecution and DescribeStateMachineForExecution.

use legion_asl::model::StateMachineType;
use legion_engine::history::Event;
use legion_engine::map_run::ChildExecution;
use legion_engine::{
    ExecutionRecord, ExecutionStatus, ListQuery, RedriveError, RedriveFilter, StartOptions, StartRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{check_len, page_size, required, AppState};
use crate::error::ApiError;
use crate::protocol::{epoch, epoch_opt};
use crate::registry::{check_name, parse_arn};

/// The largest execution input, in bytes of UTF-8.
pub const MAX_INPUT_BYTES: usize = 262_144;

/// Parses an execution input (`{}` when absent).
pub fn parse_input(input: Option<&str>) -> Result<Value, ApiError> {
    let text = input.unwrap_or("{}");
    if text.len() > MAX_INPUT_BYTES {
        return Err(ApiError::constraint(
            "'…'",
            "input",
            &format!("Member must have length less than or equal to {MAX_INPUT_BYTES}"),
        ));
    }
    serde_json::from_str(text)
        .map_err(|e| ApiError::InvalidExecutionInput(format!("Invalid State Machine Execution Input: '{e}'")))
}

/// StartExecution's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    state_machine_arn: Option<String>,
    name: Option<String>,
    input: Option<String>,
    trace_header: Option<String>,
}

/// StartExecution's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartOutput {
    execution_arn: String,
    #[serde(serialize_with = "epoch")]
    start_date: OffsetDateTime,
}

struct Launched {
    started: legion_engine::Started,
    name: String,
    state_machine_arn: String,
    input: Value,
}

async fn launch(state: &AppState, input: StartInput, sync: bool) -> Result<Launched, ApiError> {
    let machine_arn = required(input.state_machine_arn, "stateMachineArn")?;
    check_len(&machine_arn, "stateMachineArn", 1, 256)?;
    // Step Functions Local's mock test cases: `stateMachineArn#TestCase`.
    let (machine_arn, test_case) = match machine_arn.split_once('#') {
        Some((arn, case)) if state.mocks().is_some() => (arn.to_owned(), Some(case.to_owned())),
        _ => (machine_arn, None),
    };
    if let Some(name) = &input.name {
        check_name(name, 80)?;
    }
    if let Some(t) = &input.trace_header {
        check_len(t, "traceHeader", 0, 256)?;
    }
    let resolved = state.registry().resolve(&machine_arn)?;
    if sync && resolved.machine_type == StateMachineType::Standard {
        return Err(ApiError::StateMachineTypeNotSupported(
            "This operation is not supported by this type of state machine".into(),
        ));
    }
    let execution_input = parse_input(input.input.as_deref())?;
    let name = input.name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut request =
        StartRequest::new(resolved.revision.machine.clone(), resolved.name.clone(), execution_input.clone());
    request.execution_name = Some(name.clone());
    request.machine_type = resolved.machine_type;
    request.role_arn = Some(resolved.revision.role_arn.clone());
    // Nothing can read an Express execution's history (AWS records none); a Standard one records it
    // all the same.
    request.record_history = false;
    // Only a Standard execution can be described later (AWS keeps no Express executions): its record
    // names the revision it ran, which the registry keeps (written with the start, at its first run).
    let standard = resolved.machine_type == StateMachineType::Standard;
    if standard {
        state.registry().note_revision(&resolved.revision, resolved.machine_type);
    }
    let options = StartOptions {
        version_arn: resolved.version_arn.clone(),
        alias_arn: resolved.alias_arn.clone(),
        map_run_arn: None,
        trace_header: input.trace_header,
        revision_id: standard.then(|| resolved.revision.revision_id.clone()),
    };
    if let (Some(case), Some(mocks), StateMachineType::Standard) = (&test_case, state.mocks(), resolved.machine_type) {
        mocks.assign(&state.engine().execution_arn(&resolved.name, &name), case);
    }
    let state_machine_arn = state.arn(&format!("stateMachine:{}", resolved.name));
    let (started, flushed) = tokio::join!(state.engine().start_execution(request, options), state.registry().flush());
    let started = started?;
    flushed?;
    if let (Some(case), Some(mocks), StateMachineType::Express) = (&test_case, state.mocks(), resolved.machine_type) {
        // An Express ARN is only known once started: its first task may already have been dispatched.
        mocks.assign(started.arn(), case);
    }
    Ok(Launched { started, name, state_machine_arn, input: execution_input })
}

/// StartExecution.
pub async fn start(state: AppState, input: StartInput) -> Result<StartOutput, ApiError> {
    let launched = launch(&state, input, false).await?;
    tracing::debug!(execution = %launched.started.arn(), "execution started");
    Ok(StartOutput { execution_arn: launched.started.arn().to_owned(), start_date: launched.started.start_date() })
}

/// StartSyncExecution's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartSyncOutput {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    #[serde(serialize_with = "epoch")]
    start_date: OffsetDateTime,
    #[serde(serialize_with = "epoch")]
    stop_date: OffsetDateTime,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    input: String,
    input_details: Included,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Included>,
    billing_details: BillingDetails,
}

/// `inputDetails` and `outputDetails`: whether the payload is in the answer (always, here).
#[derive(Debug, Serialize)]
pub struct Included {
    included: bool,
}

/// The payload is in the answer.
const INCLUDED: Included = Included { included: true };

/// StartSyncExecution's `billingDetails`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingDetails {
    #[serde(rename = "billedMemoryUsedInMB")]
    billed_memory_used_in_mb: u64,
    billed_duration_in_milliseconds: u64,
}

/// StartSyncExecution: runs an Express machine to its end (HTTP 200 even when it fails).
pub async fn start_sync(state: AppState, input: StartInput) -> Result<StartSyncOutput, ApiError> {
    let launched = launch(&state, input, true).await?;
    let outcome = launched.started.execution.outcome().await;
    let stop_date = OffsetDateTime::now_utc();
    let billed_ms =
        ((stop_date - launched.started.start_date()).whole_milliseconds().max(1) as u64).div_ceil(100) * 100;
    let output = outcome.output.as_ref().map(|o| o.to_string());
    Ok(StartSyncOutput {
        execution_arn: launched.started.arn().to_owned(),
        state_machine_arn: launched.state_machine_arn,
        name: launched.name,
        start_date: launched.started.start_date(),
        stop_date,
        status: outcome.status.as_str(),
        error: outcome.error,
        cause: outcome.cause,
        input: launched.input.to_string(),
        input_details: INCLUDED,
        output_details: output.as_ref().map(|_| INCLUDED),
        output,
        billing_details: BillingDetails { billed_memory_used_in_mb: 64, billed_duration_in_milliseconds: billed_ms },
    })
}

/// Input naming one execution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionArnInput {
    execution_arn: Option<String>,
}

/// AWS's answer to an Express execution's ARN where only Standard executions are valid.
fn express_not_valid() -> ApiError {
    ApiError::InvalidArn("Invalid Arn: 'Resource type not valid in this context: express'".to_owned())
}

/// Finds an execution that the Standard-only operations may look at: a Standard execution, or a child
/// execution of a map run (of either type).
async fn find(state: &AppState, arn: &str) -> Result<ExecutionRecord, ApiError> {
    let parsed = parse_arn(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    if let Some(child) = state.engine().map_run_child(arn).await? {
        return Ok(child_record(&child));
    }
    match parsed.resource_type {
        "execution" if parsed.parts.len() == 2 => {}
        "express" => return Err(express_not_valid()),
        _ => return Err(ApiError::invalid_arn(arn)),
    }
    state
        .engine()
        .describe_execution(arn)
        .await?
        .ok_or_else(|| ApiError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'")))
}

/// A map run's child execution as an execution record, its input and outcome read from its history.
fn child_record(child: &ChildExecution) -> ExecutionRecord {
    let events = child.history.as_ref().map(|h| h.events()).unwrap_or_default();
    let name = child.state_machine_arn.rsplit(':').next().unwrap_or_default().to_owned();
    let input = events.iter().find_map(|e| match &e.event {
        Event::ExecutionStarted { input, .. } => Some(input.to_value()),
        _ => None,
    });
    let mut record = ExecutionRecord::new(
        child.execution_arn.to_string(),
        child.name.to_string(),
        child.state_machine_arn.to_string(),
        name,
        input.unwrap_or(Value::Null),
    );
    record.map_run_arn = Some(child.map_run_arn.to_string());
    record.start_date = child.start_date;
    record.stop_date = child.stop_date;
    record.status = child.status;
    record.machine_type =
        if child.execution_arn.contains(":express:") { StateMachineType::Express } else { StateMachineType::Standard };
    for e in events.iter().rev() {
        match &e.event {
            Event::ExecutionSucceeded { output } => record.output = Some(output.to_value()),
            Event::ExecutionFailed(d) | Event::ExecutionAborted(d) => {
                (record.error, record.cause) = (d.error.clone(), d.cause.clone());
            }
            _ => continue,
        }
        break;
    }
    record
}

/// DescribeExecution's `redriveStatus` and `redriveStatusReason` (a reason only when not redrivable).
fn redrive_status(record: &ExecutionRecord) -> (&'static str, Option<String>) {
    if record.map_run_arn.is_some() {
        // A child's status says whether its map run can rerun it (by redriving the parent).
        return match record.status {
            ExecutionStatus::Running | ExecutionStatus::Succeeded => {
                ("NOT_REDRIVABLE", Some(format!("Execution is {} and cannot be redriven", record.status.as_str())))
            }
            _ if record.machine_type == StateMachineType::Express => ("REDRIVABLE_BY_MAP_RUN", None),
            _ => ("REDRIVABLE", None),
        };
    }
    match record.not_redrivable_reason() {
        Some(reason) => ("NOT_REDRIVABLE", Some(reason)),
        None => ("REDRIVABLE", None),
    }
}

/// DescribeExecution's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeOutput {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    status: &'static str,
    #[serde(serialize_with = "epoch")]
    start_date: OffsetDateTime,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    stop_date: Option<OffsetDateTime>,
    input: String,
    input_details: Included,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Included>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_run_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_alias_arn: Option<String>,
    redrive_count: u32,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    redrive_date: Option<OffsetDateTime>,
    redrive_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_status_reason: Option<String>,
}

/// DescribeExecution.
pub async fn describe(state: AppState, input: ExecutionArnInput) -> Result<DescribeOutput, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    let r = find(&state, &arn).await?;
    let (redrive_status, redrive_status_reason) = redrive_status(&r);
    let output = (r.status == ExecutionStatus::Succeeded).then(|| r.output.clone().unwrap_or(Value::Null).to_string());
    Ok(DescribeOutput {
        execution_arn: r.arn,
        state_machine_arn: r.state_machine_arn,
        name: r.name,
        status: r.status.as_str(),
        start_date: r.start_date,
        stop_date: r.stop_date,
        input: r.input.to_string(),
        input_details: INCLUDED,
        output_details: output.as_ref().map(|_| INCLUDED),
        output,
        error: r.error,
        cause: r.cause,
        trace_header: r.trace_header,
        map_run_arn: r.map_run_arn,
        state_machine_version_arn: r.version_arn,
        state_machine_alias_arn: r.alias_arn,
        redrive_count: r.redrive_count,
        redrive_date: r.redrive_date,
        redrive_status,
        redrive_status_reason,
    })
}

/// StopExecution's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopInput {
    execution_arn: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

/// StopExecution's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopOutput {
    #[serde(serialize_with = "epoch")]
    stop_date: OffsetDateTime,
}

/// StopExecution.
pub async fn stop(state: AppState, input: StopInput) -> Result<StopOutput, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    if let Some(e) = &input.error {
        check_len(e, "error", 0, 256)?;
    }
    if let Some(c) = &input.cause {
        check_len(c, "cause", 0, 32_768)?;
    }
    find(&state, &arn).await?;
    let stop_date = state
        .engine()
        .stop_execution(&arn, input.error, input.cause)
        .await
        .map_err(|e| ApiError::ExecutionDoesNotExist(e.to_string()))?;
    Ok(StopOutput { stop_date })
}

/// ListExecutions's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    state_machine_arn: Option<String>,
    map_run_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    redrive_filter: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionItem {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    status: &'static str,
    #[serde(serialize_with = "epoch")]
    start_date: OffsetDateTime,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    stop_date: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    map_run_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_alias_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_count: Option<u64>,
    redrive_count: u32,
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    redrive_date: Option<OffsetDateTime>,
}

/// ListExecutions's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOutput {
    executions: Vec<ExecutionItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn parse_status(s: &str) -> Result<ExecutionStatus, ApiError> {
    Ok(match s {
        "RUNNING" => ExecutionStatus::Running,
        "SUCCEEDED" => ExecutionStatus::Succeeded,
        "FAILED" => ExecutionStatus::Failed,
        "TIMED_OUT" => ExecutionStatus::TimedOut,
        "ABORTED" => ExecutionStatus::Aborted,
        "PENDING_REDRIVE" => {
            return Err(ApiError::validation("The status filter PENDING_REDRIVE can only be used with a mapRunArn"))
        }
        other => {
            return Err(ApiError::constraint(
                &format!("'{other}'"),
                "statusFilter",
                "Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]",
            ))
        }
    })
}

/// ListExecutions (newest first).
pub async fn list(state: AppState, input: ListInput) -> Result<ListOutput, ApiError> {
    let mut query =
        ListQuery { max_results: page_size(input.max_results)?, next_token: input.next_token, ..ListQuery::default() };
    match (input.state_machine_arn, input.map_run_arn) {
        (Some(arn), None) => {
            let resolved = state.registry().resolve(&arn)?;
            if resolved.machine_type == StateMachineType::Express {
                return Err(ApiError::StateMachineTypeNotSupported(
                    "This operation is not supported by this type of state machine".into(),
                ));
            }
            query.state_machine_arn = Some(state.arn(&format!("stateMachine:{}", resolved.name)));
            query.alias_arn = resolved.alias_arn.clone();
            if resolved.alias_arn.is_none() {
                query.version_arn = resolved.version_arn;
            }
        }
        (None, Some(arn)) => {
            return list_children(
                &state,
                &arn,
                input.status_filter.as_deref(),
                input.max_results,
                query.next_token.take(),
            )
            .await
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::validation("Only one of stateMachineArn and mapRunArn can be specified"))
        }
        (None, None) => return Err(ApiError::validation("Must provide a StateMachine ARN or MapRun ARN")),
    }
    if let Some(s) = &input.status_filter {
        query.status = Some(parse_status(s)?);
    }
    if let Some(f) = &input.redrive_filter {
        query.redrive_filter = Some(match f.as_str() {
            "REDRIVEN" => RedriveFilter::Redriven,
            "NOT_REDRIVEN" => RedriveFilter::NotRedriven,
            other => {
                return Err(ApiError::constraint(
                    &format!("'{other}'"),
                    "redriveFilter",
                    "Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
                ))
            }
        });
    }
    let page = state.engine().list_executions(&query).await?;
    let executions = page
        .items
        .into_iter()
        .map(|r| ExecutionItem {
            execution_arn: r.arn,
            state_machine_arn: r.state_machine_arn,
            name: r.name,
            status: r.status.as_str(),
            start_date: r.start_date,
            stop_date: r.stop_date,
            map_run_arn: r.map_run_arn,
            state_machine_version_arn: r.version_arn,
            state_machine_alias_arn: r.alias_arn,
            item_count: None,
            redrive_count: r.redrive_count,
            redrive_date: r.redrive_date,
        })
        .collect();
    Ok(ListOutput { executions, next_token: page.next_token })
}

/// ListExecutions of a map run: its child executions, newest first.
async fn list_children(
    state: &AppState,
    arn: &str,
    status_filter: Option<&str>,
    max_results: Option<i64>,
    next_token: Option<String>,
) -> Result<ListOutput, ApiError> {
    match parse_arn(arn) {
        Some(a) if a.resource_type == "mapRun" => {}
        _ => return Err(ApiError::invalid_arn(arn)),
    }
    if state.engine().describe_map_run(arn).await?.is_none() {
        return Err(ApiError::ResourceNotFound(format!("Resource not found: '{arn}'")));
    }
    let status = match status_filter {
        Some("PENDING_REDRIVE") => return Ok(ListOutput { executions: Vec::new(), next_token: None }),
        Some(s) => Some(parse_status(s)?),
        None => None,
    };
    let items: Vec<ExecutionItem> = state
        .engine()
        .list_map_run_executions(arn)
        .await?
        .into_iter()
        .rev()
        .filter(|c| status.is_none_or(|s| s == c.status))
        .map(|c| ExecutionItem {
            execution_arn: c.execution_arn.to_string(),
            state_machine_arn: c.state_machine_arn.to_string(),
            name: c.name.to_string(),
            status: c.status.as_str(),
            start_date: c.start_date,
            stop_date: c.stop_date,
            map_run_arn: Some(c.map_run_arn.to_string()),
            state_machine_version_arn: None,
            state_machine_alias_arn: None,
            item_count: Some(c.item_count),
            redrive_count: 0,
            redrive_date: None,
        })
        .collect();
    let scope = format!("ListExecutions {arn} {status_filter:?}");
    let (executions, next_token) = super::paginate(items, max_results, next_token.as_deref(), &scope)?;
    Ok(ListOutput { executions, next_token })
}

/// GetExecutionHistory's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryInput {
    execution_arn: Option<String>,
    max_results: Option<i64>,
    #[serde(default)]
    reverse_order: bool,
    next_token: Option<String>,
    include_execution_data: Option<bool>,
}

/// GetExecutionHistory's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryOutput {
    events: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Removes payloads from event details (`includeExecutionData: false`).
fn strip_payloads(event: &mut Value) {
    if let Value::Object(m) = event {
        for (key, details) in m.iter_mut() {
            if !key.ends_with("EventDetails") {
                continue;
            }
            if let Value::Object(d) = details {
                for payload in ["input", "output", "parameters"] {
                    if d.remove(payload).is_some() {
                        d.insert(format!("{payload}Details"), json!({"included": false}));
                    }
                }
            }
        }
    }
}

/// GetExecutionHistory.
pub async fn history(state: AppState, input: HistoryInput) -> Result<HistoryOutput, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    // A map run's EXPRESS child can be described, but like every Express execution it records no
    // history.
    if parse_arn(&arn).is_some_and(|a| a.resource_type == "express") {
        return Err(express_not_valid());
    }
    // A map run's child is looked up once, without building the record DescribeExecution shows.
    let history = match state.engine().map_run_child(&arn).await? {
        Some(child) => child.history.map(|h| h.events()).unwrap_or_default(),
        None => {
            find(&state, &arn).await?;
            state.engine().execution_history(&arn).await?.unwrap_or_default()
        }
    };
    let mut events: Vec<Value> = history.iter().map(crate::history_json::event).collect();
    if input.reverse_order {
        events.reverse();
    }
    if input.include_execution_data == Some(false) {
        events.iter_mut().for_each(strip_payloads);
    }
    let scope = format!("GetExecutionHistory {arn} {}", input.reverse_order);
    let (events, next_token) = super::paginate(events, input.max_results, input.next_token.as_deref(), &scope)?;
    Ok(HistoryOutput { events, next_token })
}

/// RedriveExecution's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveInput {
    execution_arn: Option<String>,
    client_token: Option<String>,
}

/// RedriveExecution's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveOutput {
    #[serde(serialize_with = "epoch")]
    redrive_date: OffsetDateTime,
}

/// RedriveExecution: runs a failed, timed-out or aborted Standard execution again from where it stopped.
pub async fn redrive(state: AppState, input: RedriveInput) -> Result<RedriveOutput, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    // The SDKs fill in a client token; a retried request with the same token is refused as not
    // redrivable (the execution is RUNNING again) rather than answered as the first one was.
    if let Some(t) = &input.client_token {
        check_len(t, "clientToken", 1, 64)?;
    }
    let record = find(&state, &arn).await?;
    if record.map_run_arn.is_some() {
        // A map run reruns its children when the parent is redriven; AWS's wording for a direct
        // request is not known.
        let reason = match redrive_status(&record) {
            (_, Some(reason)) => reason,
            _ => "A Map Run's child executions are rerun by redriving the parent execution".to_owned(),
        };
        return Err(ApiError::ExecutionNotRedrivable(reason));
    }
    match state.engine().redrive(&arn).await {
        Ok(r) => Ok(RedriveOutput { redrive_date: r.redrive_date }),
        Err(RedriveError::DoesNotExist(_)) => {
            Err(ApiError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'")))
        }
        Err(RedriveError::NotRedrivable(reason)) => Err(ApiError::ExecutionNotRedrivable(reason)),
        Err(RedriveError::Store(e)) => Err(e.into()),
    }
}

/// DescribeStateMachineForExecution's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForExecutionOutput {
    state_machine_arn: String,
    name: String,
    definition: String,
    role_arn: String,
    #[serde(serialize_with = "epoch")]
    update_date: OffsetDateTime,
    logging_configuration: Value,
    tracing_configuration: Value,
    revision_id: String,
}

/// DescribeStateMachineForExecution: the definition the execution ran.
pub async fn describe_state_machine_for_execution(
    state: AppState,
    input: ExecutionArnInput,
) -> Result<ForExecutionOutput, ApiError> {
    let arn = required(input.execution_arn, "executionArn")?;
    let record = find(&state, &arn).await?;
    let snapshot = state
        .registry()
        .snapshot(&record)
        .ok_or_else(|| ApiError::ExecutionDoesNotExist(format!("Execution Does Not Exist: '{arn}'")))?;
    let revision = snapshot.revision;
    Ok(ForExecutionOutput {
        state_machine_arn: snapshot.state_machine_arn,
        name: snapshot.name,
        definition: revision.definition.clone(),
        role_arn: revision.role_arn.clone(),
        update_date: revision.update_date,
        logging_configuration: revision.logging.clone(),
        tracing_configuration: revision.tracing.clone(),
        revision_id: revision.revision_id.clone(),
    })
}
