//! Nested executions: `arn:aws:states:::states:startExecution` (`.sync`, `.sync:2`,
//! `.waitForTaskToken`) and `arn:aws:states:::aws-sdk:sfn:<action>`, carried out on the same engine
//! that runs the parent, against the state machines a [`MachineCatalog`] knows (`legion serve`'s
//! registry, `legion run --machine NAME=FILE`).
//!
//! `startExecution` answers at once with the child's ARN and start date. `.sync` and `.sync:2` are
//! callback tasks: the start is recorded as `TaskSubmitted`, and the task ends when the child ends,
//! with DescribeExecution's fields (`Input` and `Output` as JSON text for `.sync`, as JSON for
//! `.sync:2`), or fails with `States.TaskFailed` and the same fields as its cause when the child
//! fails, times out or is aborted. When the parent's task ends first (StopExecution of the parent, a
//! task timeout), the child is stopped. `.waitForTaskToken` starts the child and waits for the
//! token, which the child (or anyone) completes with `aws-sdk:sfn:sendTaskSuccess` or the API.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use legion_asl::model::{StateMachine, StateMachineType};
use legion_engine::executions::StartOptions;
use legion_engine::store::StoreError;
use legion_engine::{Dispatched, Engine, ExecutionStatus, Outcome, StartRequest, TaskError, TaskRequest, TokenSignal};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A state machine a nested execution can start.
#[derive(Debug, Clone)]
pub struct NestedMachine {
    /// The parsed definition.
    pub machine: Arc<StateMachine>,
    /// The state machine's name.
    pub name: String,
    /// Standard or Express.
    pub machine_type: StateMachineType,
    /// Its execution role, when it has one.
    pub role_arn: Option<String>,
}

/// The state machines executions may start.
pub trait MachineCatalog: Send + Sync {
    /// The machine a state machine ARN (or version or alias ARN) names.
    fn resolve(&self, state_machine_arn: &str) -> Option<NestedMachine>;
}

/// A fixed set of machines, by ARN (`legion run --machine`, tests).
#[derive(Debug, Clone, Default)]
pub struct StaticCatalog {
    machines: HashMap<String, NestedMachine>,
}

impl StaticCatalog {
    /// An empty catalog.
    pub fn new() -> StaticCatalog {
        StaticCatalog::default()
    }

    /// Adds a machine under its ARN.
    pub fn insert(&mut self, arn: impl Into<String>, machine: NestedMachine) {
        self.machines.insert(arn.into(), machine);
    }
}

impl MachineCatalog for StaticCatalog {
    fn resolve(&self, state_machine_arn: &str) -> Option<NestedMachine> {
        self.machines.get(state_machine_arn).cloned()
    }
}

/// How a `states:startExecution` task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// When the child has started.
    Start,
    /// When the child ends; `Input` and `Output` as JSON text.
    Sync,
    /// When the child ends; `Input` and `Output` as JSON.
    Sync2,
    /// When the task token is completed.
    WaitForToken,
}

/// What a Step Functions resource asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfnTarget {
    /// The optimized `states:startExecution` integration.
    Start(StartMode),
    /// `aws-sdk:sfn:<action>`.
    Sdk(String),
}

impl SfnTarget {
    /// The target a resource names, if it is a Step Functions one.
    pub fn parse(resource: &str) -> Option<SfnTarget> {
        match resource {
            "arn:aws:states:::states:startExecution" => Some(SfnTarget::Start(StartMode::Start)),
            "arn:aws:states:::states:startExecution.sync" => Some(SfnTarget::Start(StartMode::Sync)),
            "arn:aws:states:::states:startExecution.sync:2" => Some(SfnTarget::Start(StartMode::Sync2)),
            "arn:aws:states:::states:startExecution.waitForTaskToken" => {
                Some(SfnTarget::Start(StartMode::WaitForToken))
            }
            r => {
                let (service, action) = crate::aws::sdk_resource(r)?;
                (service == "sfn").then(|| SfnTarget::Sdk(action.to_owned()))
            }
        }
    }

    /// True when the task ends through the child's end (the engine then mints a token).
    pub fn completes_by_callback(&self) -> bool {
        matches!(self, SfnTarget::Start(StartMode::Sync | StartMode::Sync2))
    }
}

struct Attached {
    engine: Engine,
    catalog: Arc<dyn MachineCatalog>,
}

/// Starts and manages executions of the engine it is attached to.
#[derive(Clone, Default)]
pub struct StepFunctions {
    attached: Arc<OnceLock<Attached>>,
}

impl std::fmt::Debug for StepFunctions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepFunctions").field("attached", &self.attached.get().is_some()).finish()
    }
}

/// The error names of the two integrations: the optimized one as the AWS SDK for Java 1.x names them
/// (`StepFunctions.…`, a guess following the recorded SQS and DynamoDB names), `aws-sdk:sfn` as 2.x
/// does (`Sfn.…`, as recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Naming {
    Optimized,
    Sdk,
}

fn api_error(naming: Naming, exception: &str, message: &str) -> TaskError {
    let request_id = uuid::Uuid::new_v4();
    match naming {
        Naming::Sdk => TaskError::new(
            format!("Sfn.{exception}"),
            format!("{message} (Service: Sfn, Status Code: 400, Request ID: {request_id}) (SDK Attempt Count: 1)"),
        ),
        Naming::Optimized => TaskError::new(
            format!("StepFunctions.{exception}"),
            format!(
                "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {}; Request ID: {request_id}; Proxy: null)",
                exception.strip_suffix("Exception").unwrap_or(exception)
            ),
        ),
    }
}

fn iso(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
}

/// A date as the optimized integration renders it: epoch milliseconds (not confirmed by a recording).
fn millis(t: OffsetDateTime) -> Value {
    json!((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A date as AWS JSON 1.0 sends it (`1.733512345678E9`), for the length of a synthesized answer.
fn wire_seconds(t: OffsetDateTime) -> String {
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    let digits = ms.to_string();
    let (int, frac) = digits.split_at(1);
    format!("{int}.{}E{}", frac.trim_end_matches('0'), digits.len() - 4)
}

impl StepFunctions {
    /// A connector not yet attached to an engine.
    pub fn new() -> StepFunctions {
        StepFunctions::default()
    }

    /// Attaches the engine whose executions this starts and the machines it may start; only the first
    /// call counts.
    pub fn attach(&self, engine: Engine, catalog: Arc<dyn MachineCatalog>) {
        let _ = self.attached.set(Attached { engine, catalog });
    }

    /// True once an engine is attached.
    pub fn is_attached(&self) -> bool {
        self.attached.get().is_some()
    }

    fn attached(&self) -> Result<&Attached, TaskError> {
        self.attached.get().ok_or_else(|| {
            TaskError::new("States.Runtime", "nested executions are not available: no engine is attached")
        })
    }

    /// Carries out a Step Functions task.
    pub async fn dispatch(&self, target: &SfnTarget, request: TaskRequest) -> Result<Dispatched, TaskError> {
        let attached = self.attached()?;
        match target {
            SfnTarget::Start(mode) => self.start(attached, *mode, request).await,
            SfnTarget::Sdk(action) => sdk(attached, action, &request.input).await.map(Dispatched::Done),
        }
    }

    async fn start(&self, a: &Attached, mode: StartMode, request: TaskRequest) -> Result<Dispatched, TaskError> {
        let (execution, start_date, arn) = start_child(a, Naming::Optimized, &request.input).await?;
        let response_len = format!(r#"{{"executionArn":"{arn}","startDate":{}}}"#, wire_seconds(start_date)).len();
        let answer = json!({
            "ExecutionArn": arn,
            "SdkHttpMetadata": synthesized_metadata(response_len),
            "SdkResponseMetadata": {"RequestId": uuid::Uuid::new_v4().to_string()},
            "StartDate": millis(start_date),
        });
        match mode {
            StartMode::Start => Ok(Dispatched::Done(answer)),
            StartMode::WaitForToken => Ok(Dispatched::Submitted(answer)),
            StartMode::Sync | StartMode::Sync2 => {
                let Some(token) = request.task_token.clone() else {
                    return Err(TaskError::new("States.Runtime", "a .sync task has no token"));
                };
                tokio::spawn(watch_child(a.engine.clone(), execution, token, mode == StartMode::Sync2));
                Ok(Dispatched::Submitted(answer))
            }
        }
    }
}

/// `SdkHttpMetadata` of an answer Legion gives itself (StartExecution on its own engine): the headers
/// AWS's Step Functions endpoint sends.
fn synthesized_metadata(content_length: usize) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    let date = OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
    json!({
        "AllHttpHeaders": {
            "x-amzn-RequestId": [id],
            "connection": ["keep-alive"],
            "Content-Length": [content_length.to_string()],
            "Date": [date],
            "Content-Type": ["application/x-amz-json-1.0"],
        },
        "HttpHeaders": {
            "connection": "keep-alive",
            "Content-Length": content_length.to_string(),
            "Content-Type": "application/x-amz-json-1.0",
            "Date": date,
            "x-amzn-RequestId": id,
        },
        "HttpStatusCode": 200,
    })
}

/// The child's input: JSON, or JSON text given as a string; `{}` when absent.
fn child_input(params: &Value, naming: Naming) -> Result<Value, TaskError> {
    match params.get("Input") {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|_| {
            api_error(naming, "InvalidExecutionInputException", &format!("Invalid execution input: '{text}'"))
        }),
        Some(v) => Ok(v.clone()),
    }
}

type StartedChild = (legion_engine::Execution, OffsetDateTime, String);

async fn start_child(a: &Attached, naming: Naming, params: &Value) -> Result<StartedChild, TaskError> {
    let Some(arn) = params.get("StateMachineArn").and_then(Value::as_str) else {
        return Err(api_error(naming, "InvalidArnException", "Invalid Arn: 'StateMachineArn' is required"));
    };
    let Some(target) = a.catalog.resolve(arn) else {
        return Err(api_error(
            naming,
            "StateMachineDoesNotExistException",
            &format!("State Machine Does Not Exist: '{arn}'"),
        ));
    };
    let input = child_input(params, naming)?;
    let mut request = StartRequest::new(target.machine, target.name, input);
    request.machine_type = target.machine_type;
    // An Express child records no history, as on AWS (a Standard one always does).
    request.record_history = false;
    request.role_arn = target.role_arn;
    request.execution_name = params.get("Name").and_then(Value::as_str).map(str::to_owned);
    let options = StartOptions {
        trace_header: params.get("TraceHeader").and_then(Value::as_str).map(str::to_owned),
        ..StartOptions::default()
    };
    match a.engine.start_execution(request, options).await {
        // An idempotent start (same name and input while it runs) is watched like a new one.
        Ok(started) => Ok((started.execution.clone(), started.start_date(), started.arn().to_owned())),
        Err(StoreError::AlreadyExists(arn)) => {
            Err(api_error(naming, "ExecutionAlreadyExistsException", &format!("Execution Already Exists: '{arn}'")))
        }
        Err(e) => Err(api_error(naming, "InvalidExecutionInputException", &e.to_string())),
    }
}

/// Ends the parent's task when the child ends, or stops the child when the parent's task ends first.
async fn watch_child(engine: Engine, child: legion_engine::Execution, token: String, json_io: bool) {
    let parent_gone = engine.task_tokens().closed(&token);
    tokio::select! {
        outcome = child.outcome() => {
            let description = describe(&engine, &child, &outcome, json_io).await;
            let tokens = engine.task_tokens();
            let _ = match outcome.status {
                ExecutionStatus::Succeeded => tokens.succeed(&token, description),
                _ => tokens.fail(&token, Some("States.TaskFailed".to_owned()), Some(description.to_string())),
            };
        }
        () = parent_gone => {
            let _ = engine.stop_execution(child.arn(), None, None).await;
        }
    }
}

/// DescribeExecution's fields of an ended child, as the `.sync` integrations give them.
async fn describe(engine: &Engine, child: &legion_engine::Execution, outcome: &Outcome, json_io: bool) -> Value {
    // A store that fails leaves the fields the record would give out, not the child's outcome.
    let record = engine.describe_execution(child.arn()).await.ok().flatten();
    let input = record.as_ref().map(|r| r.input.clone()).unwrap_or(Value::Null);
    let text = |v: &Value| if json_io { v.clone() } else { Value::String(v.to_string()) };
    let stop = record.as_ref().and_then(|r| r.stop_date).unwrap_or_else(OffsetDateTime::now_utc);
    let mut d = Map::new();
    if outcome.status != ExecutionStatus::Succeeded {
        if let Some(c) = &outcome.cause {
            d.insert("Cause".into(), json!(c));
        }
        if let Some(e) = &outcome.error {
            d.insert("Error".into(), json!(e));
        }
    }
    d.insert("ExecutionArn".into(), json!(child.arn()));
    d.insert("Input".into(), text(&input));
    d.insert("InputDetails".into(), json!({"Included": true}));
    d.insert("Name".into(), json!(child.name()));
    if outcome.status == ExecutionStatus::Succeeded {
        d.insert("Output".into(), text(outcome.output.as_ref().unwrap_or(&Value::Null)));
        d.insert("OutputDetails".into(), json!({"Included": true}));
        d.insert("RedriveCount".into(), json!(0));
        d.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        d.insert("RedriveStatusReason".into(), json!("Execution is SUCCEEDED and cannot be redriven"));
    }
    d.insert("StartDate".into(), millis(child.start_date()));
    let machine_arn = record.as_ref().map(|r| r.state_machine_arn.clone()).unwrap_or_default();
    d.insert("StateMachineArn".into(), json!(machine_arn));
    d.insert("Status".into(), json!(outcome.status.as_str()));
    d.insert("StopDate".into(), millis(stop));
    Value::Object(d)
}

fn text_param<'v>(params: &'v Value, key: &str) -> Option<&'v str> {
    params.get(key).and_then(Value::as_str)
}

/// `aws-sdk:sfn:<action>` on the same engine.
async fn sdk(a: &Attached, action: &str, params: &Value) -> Result<Value, TaskError> {
    let token_error = |e: legion_engine::TokenError| match e {
        legion_engine::TokenError::InvalidToken(_) => {
            api_error(Naming::Sdk, "InvalidTokenException", "Invalid Token: 'Invalid token'")
        }
        legion_engine::TokenError::TaskDoesNotExist => {
            api_error(Naming::Sdk, "TaskDoesNotExistException", "Task Does Not Exist")
        }
        legion_engine::TokenError::TaskTimedOut => api_error(Naming::Sdk, "TaskTimedOutException", "Task Timed Out"),
        legion_engine::TokenError::Store(e) => TaskError::new("States.Runtime", e.to_string()),
    };
    let token = || -> Result<String, TaskError> {
        let t = text_param(params, "TaskToken").unwrap_or_default();
        // AWS rejects a token it could not have minted as invalid; Legion's are 64 hexadecimal digits.
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(token_error(legion_engine::TokenError::InvalidToken(t.to_owned())));
        }
        Ok(t.to_owned())
    };
    match action {
        "startExecution" => {
            let (_, start_date, arn) = start_child(a, Naming::Sdk, params).await?;
            Ok(json!({"ExecutionArn": arn, "StartDate": iso(start_date)}))
        }
        "sendTaskSuccess" => {
            let token = token()?;
            let output = match params.get("Output") {
                Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| {
                    api_error(Naming::Sdk, "InvalidOutputException", &format!("Invalid Output: '{s}'"))
                })?,
                Some(v) => v.clone(),
                None => Value::Null,
            };
            a.engine.answer_task(&token, TokenSignal::Success(output)).await.map_err(token_error)?;
            Ok(json!({}))
        }
        "sendTaskFailure" => {
            let error = text_param(params, "Error").map(str::to_owned);
            let cause = text_param(params, "Cause").map(str::to_owned);
            a.engine.answer_task(&token()?, TokenSignal::Failure { error, cause }).await.map_err(token_error)?;
            Ok(json!({}))
        }
        "sendTaskHeartbeat" => {
            a.engine.answer_task(&token()?, TokenSignal::Heartbeat).await.map_err(token_error)?;
            Ok(json!({}))
        }
        "stopExecution" => {
            let arn = text_param(params, "ExecutionArn").unwrap_or_default();
            let error = text_param(params, "Error").map(str::to_owned);
            let cause = text_param(params, "Cause").map(str::to_owned);
            match a.engine.stop_execution(arn, error, cause).await {
                Ok(date) => Ok(json!({"StopDate": iso(date)})),
                Err(e) => Err(api_error(Naming::Sdk, "ExecutionDoesNotExistException", &e.to_string())),
            }
        }
        "describeExecution" => {
            let arn = text_param(params, "ExecutionArn").unwrap_or_default();
            let found = a.engine.describe_execution(arn).await;
            let found = found.map_err(|e| api_error(Naming::Sdk, "InternalFailure", &e.to_string()))?;
            let Some(r) = found else {
                return Err(api_error(
                    Naming::Sdk,
                    "ExecutionDoesNotExistException",
                    &format!("Execution Does Not Exist: '{arn}'"),
                ));
            };
            let mut d = Map::new();
            d.insert("ExecutionArn".into(), json!(r.arn));
            d.insert("Input".into(), json!(r.input.to_string()));
            d.insert("InputDetails".into(), json!({"Included": true}));
            d.insert("Name".into(), json!(r.name));
            if let Some(o) = &r.output {
                d.insert("Output".into(), json!(o.to_string()));
                d.insert("OutputDetails".into(), json!({"Included": true}));
            }
            if let Some(e) = &r.error {
                d.insert("Error".into(), json!(e));
            }
            if let Some(c) = &r.cause {
                d.insert("Cause".into(), json!(c));
            }
            d.insert("StartDate".into(), iso(r.start_date));
            d.insert("StateMachineArn".into(), json!(r.state_machine_arn));
            d.insert("Status".into(), json!(r.status.as_str()));
            if let Some(s) = r.stop_date {
                d.insert("StopDate".into(), iso(s));
            }
            Ok(Value::Object(d))
        }
        other => Err(TaskError::new(
            "States.Runtime",
            format!(
                "Legion does not carry out aws-sdk:sfn:{other} (it does startExecution, describeExecution, stopExecution, sendTaskSuccess, sendTaskFailure, sendTaskHeartbeat)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_modes() {
        assert_eq!(
            SfnTarget::parse("arn:aws:states:::states:startExecution.sync:2"),
            Some(SfnTarget::Start(StartMode::Sync2))
        );
        assert_eq!(
            SfnTarget::parse("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess"),
            Some(SfnTarget::Sdk("sendTaskSuccess".into()))
        );
        assert_eq!(SfnTarget::parse("arn:aws:states:::aws-sdk:sqs:sendMessage"), None);
        assert!(SfnTarget::parse("arn:aws:states:::states:startExecution.sync").unwrap().completes_by_callback());
    }

    #[test]
    fn wire_dates_are_in_scientific_notation() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_733_512_345_678_000_000).unwrap();
        assert_eq!(wire_seconds(t), "1.733512345678E9");
    }
}
