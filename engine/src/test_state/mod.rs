//! TestState: runs one state in isolation with a given input, context and variables, and reports what
//! each step of its data flow produced.
//!
//! The state is either a single state definition or a state of a full machine named by `state_name`
//! (nested states of Parallel branches and Map item processors included). Task, Map and Parallel
//! states may be mocked: the mock replaces the work (the task call, the branches, the iterations) and
//! everything around it (paths, selectors, Retry, Catch) runs as in an execution. Retry and Catch are
//! reported rather than carried out: a retriable error gives status RETRIABLE with the back-off, a
//! caught one CAUGHT_ERROR with the Catcher's output and next state.

mod map;
mod schema;

use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::error::{names, EvalError};
use legion_asl::model::{
    error_matches, NumberField, Program, QueryLanguage, State, StateKind, StateMachine, StateMachineType, Task,
    Transition,
};
use legion_asl::parse::{parse, ParseOptions};
use legion_asl::path::Scope;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::dispatch::TaskRequest;
use crate::engine::Engine;
use crate::history::{History, Recorder};
use crate::interp::data::{self, input_path, output_path, result_path};
use crate::interp::flow;
use crate::interp::{env, states_value, Exec, ExecutionInfo, Flow, StateError, Thread};
use crate::vars::Vars;

/// How much of the data flow the response shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InspectionLevel {
    /// The output only.
    #[default]
    Info,
    /// The output and each data-flow step.
    Debug,
    /// As DEBUG, plus HTTP request and response for HTTP Tasks.
    Trace,
}

/// How strictly a mocked result is checked against the integration's API shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldValidationMode {
    /// Types, values and required members.
    #[default]
    Strict,
    /// Types and values of the members present.
    Present,
    /// Nothing.
    None,
}

/// What a mock answers in place of the work.
#[derive(Debug, Clone, PartialEq)]
pub enum MockResult {
    /// A result, as JSON text.
    Output(String),
    /// An error.
    Error {
        /// The error name.
        error: Option<String>,
        /// The cause.
        cause: Option<String>,
    },
}

/// A mock for a Task, Map or Parallel state.
#[derive(Debug, Clone, PartialEq)]
pub struct Mock {
    /// The answer.
    pub result: MockResult,
    /// How the result is checked.
    pub field_validation_mode: FieldValidationMode,
}

/// Circumstances of the test (`stateConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateConfiguration {
    /// How many times the state has already been retried.
    pub retrier_retry_count: u64,
    /// The state inside a Map or Parallel that the mocked error comes from.
    pub error_caused_by_state: Option<String>,
    /// How many Map iterations failed.
    pub map_iteration_failure_count: Option<u64>,
    /// The items an ItemReader would have read, as JSON text.
    pub map_item_reader_data: Option<String>,
}

/// A TestState request.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateRequest {
    /// A state definition, or a state machine definition.
    pub definition: Value,
    /// With a state machine definition: the state to test (its StartAt state when absent).
    pub state_name: Option<String>,
    /// The execution role; required to call a service without a mock.
    pub role_arn: Option<String>,
    /// The state input.
    pub input: Value,
    /// How much to report.
    pub inspection_level: InspectionLevel,
    /// Workflow variables in scope.
    pub variables: Map<String, Value>,
    /// A mock for the work.
    pub mock: Option<Mock>,
    /// The context object to use (`$$`); one is made up when absent.
    pub context: Option<Value>,
    /// Circumstances of the test.
    pub state_configuration: StateConfiguration,
}

impl TestStateRequest {
    /// A request to test `definition` with `input`, everything else default.
    pub fn new(definition: Value, input: Value) -> TestStateRequest {
        TestStateRequest {
            definition,
            state_name: None,
            role_arn: None,
            input,
            inspection_level: InspectionLevel::Info,
            variables: Map::new(),
            mock: None,
            context: None,
            state_configuration: StateConfiguration::default(),
        }
    }
}

/// The outcome of a tested state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    /// It completed.
    Succeeded,
    /// It failed for good.
    Failed,
    /// It failed and a Retrier would retry it.
    Retriable,
    /// It failed and a Catcher caught the error.
    CaughtError,
}

impl TestStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Succeeded => "SUCCEEDED",
            TestStatus::Failed => "FAILED",
            TestStatus::Retriable => "RETRIABLE",
            TestStatus::CaughtError => "CAUGHT_ERROR",
        }
    }
}

/// Which Retrier or Catcher matched an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorDetails {
    /// The index of the matching Retrier.
    pub retry_index: Option<u64>,
    /// The index of the matching Catcher.
    pub catch_index: Option<u64>,
    /// The delay before the retry, in seconds.
    pub retry_backoff_interval_seconds: Option<u64>,
}

/// What each step of the data flow produced (DEBUG and TRACE).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InspectionData {
    /// The raw input.
    pub input: Option<Value>,
    /// After `InputPath`.
    pub after_input_path: Option<Value>,
    /// After `Parameters`.
    pub after_parameters: Option<Value>,
    /// After `Arguments` (JSONata).
    pub after_arguments: Option<Value>,
    /// The result of the work.
    pub result: Option<Value>,
    /// After `ResultSelector`.
    pub after_result_selector: Option<Value>,
    /// After `ResultPath`.
    pub after_result_path: Option<Value>,
    /// The variables after the state.
    pub variables: Option<Value>,
    /// Which Retrier or Catcher matched.
    pub error_details: Option<ErrorDetails>,
    /// A Map state's items after `ItemsPath` (JSONPath).
    pub after_items_path: Option<Value>,
    /// A Map state's items read from `mapItemReaderData` at `ReaderConfig.ItemsPointer`.
    pub after_items_pointer: Option<Value>,
    /// A Map state's iteration inputs after `ItemSelector`.
    pub after_item_selector: Option<Value>,
    /// A Map state's batches after `ItemBatcher`.
    pub after_item_batcher: Option<Value>,
    /// A Map state's evaluated `MaxConcurrency` (0 when absent).
    pub max_concurrency: Option<u64>,
    /// A Map state's evaluated `ToleratedFailureCount`.
    pub tolerated_failure_count: Option<u64>,
    /// A Map state's evaluated `ToleratedFailurePercentage`.
    pub tolerated_failure_percentage: Option<f64>,
}

/// A TestState response.
#[derive(Debug, Clone, PartialEq)]
pub struct TestStateResponse {
    /// The outcome.
    pub status: TestStatus,
    /// The state output (SUCCEEDED, CAUGHT_ERROR).
    pub output: Option<Value>,
    /// The error (FAILED, RETRIABLE, CAUGHT_ERROR).
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
    /// The state that would run next.
    pub next_state: Option<String>,
    /// The data-flow steps, at DEBUG and TRACE.
    pub inspection_data: Option<InspectionData>,
}

/// Why a TestState request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestStateError {
    /// The request breaks a rule of the API (AWS's `ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// The definition is invalid or names a state type TestState cannot run (`InvalidDefinition`).
    #[error("{0}")]
    InvalidDefinition(String),
}

/// The name AWS gives the tested state in the context object.
const CONTEXT_STATE_NAME: &str = "StateName";

/// A failure of the tested state.
struct Failed {
    error: String,
    cause: Option<String>,
    /// Retry and Catch apply (not to States.Runtime nor to Fail states).
    handled: bool,
}

impl From<EvalError> for Failed {
    fn from(e: EvalError) -> Failed {
        let handled = e.error != names::RUNTIME;
        Failed { error: e.error, cause: Some(e.detail), handled }
    }
}

/// A completed state.
struct Done {
    output: Value,
    next: Option<String>,
    assigned: Option<Map<String, Value>>,
}

impl Engine {
    /// TestState: runs one state in isolation.
    pub async fn test_state(&self, request: TestStateRequest) -> Result<TestStateResponse, TestStateError> {
        let machine = load(&request)?;
        let state_name = match (&request.state_name, is_machine(&request.definition)) {
            (Some(name), true) => name.clone(),
            _ => machine.program.states[machine.program.start_at].name.to_string(),
        };
        let (program, state) = machine
            .program
            .find_nested(&state_name)
            .ok_or_else(|| TestStateError::Validation("State not found in definition".into()))?;
        check_mock_rules(state, &request)?;
        if let Some(context) = &request.context {
            check_context(context, state)?;
        }
        let mock_result = match &request.mock {
            Some(mock) => Some(check_mock(state, mock, &request.state_configuration)?),
            None => None,
        };
        let mut vars = Vars::new();
        vars.assign(request.variables.clone());
        let context = match &request.context {
            Some(c) => c.clone(),
            None => self.made_up_context(state, &request),
        };
        let info = ExecutionInfo {
            arn: context.pointer("/Execution/Id").and_then(Value::as_str).unwrap_or_default().into(),
            name: context.pointer("/Execution/Name").and_then(Value::as_str).unwrap_or_default().into(),
            state_machine_arn: context.pointer("/StateMachine/Id").and_then(Value::as_str).unwrap_or_default().into(),
            state_machine_name: context
                .pointer("/StateMachine/Name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            role_arn: request.role_arn.as_deref().unwrap_or_default().into(),
            start_time: OffsetDateTime::now_utc(),
            input: request.input.clone(),
            express: true,
            redrive_count: 0,
            redrive_time: None,
            record_history: true,
            token_seed: None,
        };
        let exec = Exec::new(self.shared.clone(), &machine, info);
        let mut thread = Thread { recorder: Recorder::new(History::default(), false), vars };
        let mut inspection = InspectionData { input: Some(request.input.clone()), ..InspectionData::default() };
        let run = Run { exec: &exec, program, state, request: &request, ctx: &context, mock: mock_result };
        let result = run.run(&mut thread, &mut inspection).await;
        let mut response = match result {
            Ok(done) => {
                let mut vars = thread.vars.clone();
                if let Some(assigned) = done.assigned {
                    vars.assign(assigned);
                }
                inspection.variables = visible_variables(&request.variables, &vars, state);
                TestStateResponse {
                    status: TestStatus::Succeeded,
                    output: Some(done.output),
                    error: None,
                    cause: None,
                    next_state: done.next,
                    inspection_data: None,
                }
            }
            Err(failed) => {
                inspection.variables = visible_variables(&request.variables, &thread.vars, state);
                run.on_error(failed, &thread, &mut inspection)
            }
        };
        if request.inspection_level != InspectionLevel::Info {
            response.inspection_data = Some(inspection);
        }
        Ok(response)
    }

    /// The context object TestState makes up when none is given.
    fn made_up_context(&self, state: &State, request: &TestStateRequest) -> Value {
        let c = self.config();
        let machine_name = uuid::Uuid::new_v4().to_string();
        let execution_name = uuid::Uuid::new_v4().to_string();
        let now = legion_asl::timestamp::format(legion_asl::timestamp::truncate_to_millis(OffsetDateTime::now_utc()));
        let mut state_info = json!({"Name": CONTEXT_STATE_NAME, "EnteredTime": now});
        if matches!(state.kind, StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel(_)) {
            state_info["RetryCount"] = json!(request.state_configuration.retrier_retry_count);
        }
        json!({
            "Execution": {
                "Id": format!("arn:aws:states:{}:{}:express:{machine_name}:{execution_name}", c.region, c.account_id),
                "Input": request.input,
                "Name": execution_name,
                "RoleArn": request.role_arn,
                "StartTime": now,
            },
            "StateMachine": {
                "Id": format!("arn:aws:states:{}:{}:stateMachine:{machine_name}", c.region, c.account_id),
                "Name": machine_name,
            },
            "State": state_info,
        })
    }
}

/// The variables to report: those in scope after the state, when there are any.
fn visible_variables(initial: &Map<String, Value>, vars: &Vars, state: &State) -> Option<Value> {
    use legion_asl::path::VarLookup;
    let mut names: Vec<String> = initial.keys().cloned().collect();
    if let Some(t) = &state.assign {
        if let Some(Value::Object(m)) = t.as_literal() {
            names.extend(m.keys().map(|k| k.trim_end_matches(".$").to_owned()));
        } else {
            let mut refs = Vec::new();
            t.variable_references(&mut refs);
        }
    }
    let mut out = Map::new();
    for name in names {
        if let Some(v) = vars.lookup(&name) {
            out.insert(name, v.clone());
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn is_machine(definition: &Value) -> bool {
    definition.get("States").is_some() && definition.get("StartAt").is_some()
}

/// Parses the definition; a single state is wrapped in a machine whose other states are the targets it
/// names, so that its transitions resolve.
fn load(request: &TestStateRequest) -> Result<StateMachine, TestStateError> {
    let options = ParseOptions { state_machine_type: StateMachineType::Standard };
    let definition = if is_machine(&request.definition) {
        request.definition.clone()
    } else {
        let Value::Object(state) = &request.definition else {
            return Err(TestStateError::InvalidDefinition(
                "Invalid State Machine Definition: 'The definition must be a JSON object'".into(),
            ));
        };
        let mut targets: Vec<String> = Vec::new();
        let mut add = |v: Option<&Value>| {
            if let Some(Value::String(s)) = v {
                targets.push(s.clone());
            }
        };
        add(state.get("Next"));
        add(state.get("Default"));
        for list in ["Choices", "Catch"] {
            if let Some(Value::Array(items)) = state.get(list) {
                items.iter().for_each(|i| add(i.get("Next")));
            }
        }
        let mut name = CONTEXT_STATE_NAME.to_owned();
        while targets.contains(&name) {
            name.push('_');
        }
        let mut states = Map::new();
        states.insert(name.clone(), Value::Object(state.clone()));
        for t in targets {
            states.entry(t).or_insert_with(|| json!({"Type": "Succeed"}));
        }
        json!({"StartAt": name, "States": states})
    };
    parse(&definition, options).map_err(|d| TestStateError::InvalidDefinition(invalid_definition_message(&d)))
}

/// True for a `.sync`, `.sync:2` or `.waitForTaskToken` task.
fn callback_pattern(task: &Task) -> bool {
    task.pattern != legion_asl::integrations::Pattern::RequestResponse
}

/// Which states need, accept or refuse a mock, and the role a real call needs.
fn check_mock_rules(state: &State, request: &TestStateRequest) -> Result<(), TestStateError> {
    let type_name = state.kind.type_name();
    match (&state.kind, &request.mock) {
        (StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel(_), Some(_)) => Ok(()),
        (_, Some(_)) => {
            Err(TestStateError::Validation(format!("State type '{type_name}' is not supported when a mock is specified")))
        }
        (StateKind::Map(_) | StateKind::Parallel(_), None) => Err(TestStateError::InvalidDefinition(
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]".into(),
        )),
        (StateKind::Task(task), None) => {
            if task.resource.contains(":activity:") || callback_pattern(task) {
                return Err(TestStateError::Validation(
                    "TestState API does not support Activity tasks, '.sync' or '.waitForTaskToken' integration patterns without a mock".into(),
                ));
            }
            if request.role_arn.as_deref().is_none_or(str::is_empty) {
                return Err(TestStateError::Validation("RoleArn must be specified when testing a Task state".into()));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Checks a given context object: its members and their types.
fn check_context(context: &Value, state: &State) -> Result<(), TestStateError> {
    let invalid = |m: String| TestStateError::Validation(format!("Invalid Context object provided: {m}"));
    let Value::Object(top) = context else { return Err(invalid("The context object must be a JSON object".into())) };
    type Member = (&'static str, fn(&Value) -> bool, &'static str);
    let string: fn(&Value) -> bool = Value::is_string;
    let number: fn(&Value) -> bool = Value::is_number;
    let any: fn(&Value) -> bool = |_| true;
    let sections: [(&str, &[Member]); 4] = [
        (
            "Execution",
            &[
                ("Id", string, "a string"),
                ("Input", any, ""),
                ("Name", string, "a string"),
                ("RoleArn", string, "a string"),
                ("StartTime", string, "a string"),
                ("RedriveCount", number, "a number"),
                ("RedriveTime", string, "a string"),
            ],
        ),
        (
            "State",
            &[("EnteredTime", string, "a string"), ("Name", string, "a string"), ("RetryCount", number, "a number")],
        ),
        ("StateMachine", &[("Id", string, "a string"), ("Name", string, "a string")]),
        ("Task", &[("Token", string, "a string")]),
    ];
    for (key, value) in top {
        if key == "Map" {
            return Err(invalid("'Map' field is not supported when mocking a Context object".into()));
        }
        let Some((_, members)) = sections.iter().find(|(s, _)| s == key) else {
            return Err(invalid(format!("Field '{key}' is not allowed")));
        };
        let Value::Object(fields) = value else { return Err(invalid(format!("{key} must be an object"))) };
        for (field, v) in fields {
            let Some((_, ok, what)) = members.iter().find(|(m, _, _)| m == field) else {
                return Err(invalid(format!("Field '{field}' is not allowed")));
            };
            if !ok(v) {
                return Err(invalid(format!("{key}.{field} must be {what}")));
            }
        }
    }
    if top.contains_key("Task") {
        let callback = matches!(&state.kind, StateKind::Task(t) if callback_pattern(t));
        if !callback {
            return Err(invalid(
                "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into(),
            ));
        }
    }
    Ok(())
}

/// Checks a mock against the state and returns its parsed answer.
fn check_mock(state: &State, mock: &Mock, config: &StateConfiguration) -> Result<MockAnswer, TestStateError> {
    let invalid = |m: &str| TestStateError::Validation(m.to_owned());
    let MockResult::Output(text) = &mock.result else {
        if let MockResult::Error { error, cause } = &mock.result {
            return Ok(MockAnswer::Error(error.clone().unwrap_or_default(), cause.clone()));
        }
        return Err(invalid("A test mock should have one of the following fields: [result, errorOutput]."));
    };
    let result: Value = serde_json::from_str(text).map_err(|_| invalid("Mocked result must be valid JSON"))?;
    match &state.kind {
        StateKind::Parallel(p) => {
            let Value::Array(items) = &result else { return Err(invalid("Mocked result must be an array.")) };
            if items.len() != p.branches.len() {
                return Err(invalid(
                    "Mocked result must contain the same number of items as number of Parallel branches.",
                ));
            }
        }
        StateKind::Map(_) => {
            let Value::Array(items) = &result else { return Err(invalid("Mocked result must be an array.")) };
            if config.map_iteration_failure_count.is_some_and(|n| n > items.len() as u64) {
                return Err(invalid(
                    "Map iteration failure count must be less than or equal to the number of Map iterations",
                ));
            }
        }
        StateKind::Task(task) => {
            let strictness = match mock.field_validation_mode {
                FieldValidationMode::Strict => Some(schema::Strictness::Strict),
                FieldValidationMode::Present => Some(schema::Strictness::Present),
                FieldValidationMode::None => None,
            };
            if let (Some(strictness), Some(shape)) = (strictness, schema::output_shape(&task.resource)) {
                schema::check(shape, &result, "", strictness)
                    .map_err(|m| TestStateError::Validation(format!("Mock result schema validation error: {m}")))?;
            }
        }
        _ => {}
    }
    Ok(MockAnswer::Result(result))
}

/// A checked mock.
enum MockAnswer {
    Result(Value),
    Error(String, Option<String>),
}

/// One test run: the state and everything it is evaluated against.
struct Run<'a> {
    exec: &'a Exec,
    program: &'a Program,
    state: &'a State,
    request: &'a TestStateRequest,
    ctx: &'a Value,
    mock: Option<MockAnswer>,
}

impl Run<'_> {
    fn next_name(&self, transition: Transition) -> Option<String> {
        match transition {
            Transition::Next(i) => self.program.states.get(i).map(|s| s.name.to_string()),
            Transition::End | Transition::None => None,
        }
    }

    async fn run(&self, thread: &mut Thread, inspection: &mut InspectionData) -> Result<Done, Failed> {
        let state = self.state;
        let raw = &self.request.input;
        let ctx = self.ctx;
        let jsonpath = state.query_language == QueryLanguage::JsonPath;
        match &state.kind {
            StateKind::Pass { result } => {
                if !jsonpath {
                    let (output, assigned) = data::finish(state, raw.clone(), Value::Null, ctx, &thread.vars, false)?;
                    return Ok(Done { output, next: self.next_name(state.transition), assigned });
                }
                let result = match result {
                    Some(r) => {
                        data::effective_input(state, raw, ctx, &thread.vars)?;
                        inspection.result = Some(r.clone());
                        r.clone()
                    }
                    None => self.effective_input(thread, inspection)?,
                };
                self.finish_jsonpath(result, thread, inspection)
            }
            StateKind::Succeed | StateKind::Wait(_) => {
                if !jsonpath {
                    let (output, assigned) = data::finish(state, raw.clone(), Value::Null, ctx, &thread.vars, false)?;
                    return Ok(Done { output, next: self.next_name(state.transition), assigned });
                }
                let after = input_path(&state.io.input_path, raw, ctx, &thread.vars)?.into_owned();
                inspection.after_input_path = Some(after.clone());
                let assigned = data::assign(state.assign.as_ref(), &after, ctx, &thread.vars, &Value::Null)?;
                let output = output_path(&state.io.output_path, after, ctx, &thread.vars)?;
                Ok(Done { output, next: self.next_name(state.transition), assigned })
            }
            StateKind::Choice(_) | StateKind::Fail(_) => {
                if jsonpath {
                    inspection.after_input_path =
                        Some(input_path(&state.io.input_path, raw, ctx, &thread.vars)?.into_owned());
                }
                match flow::execute(
                    self.exec,
                    state,
                    raw,
                    ctx,
                    thread,
                    self.request.state_configuration.retrier_retry_count,
                )
                .await
                {
                    Ok(step) => match step.flow {
                        Flow::Next(i, output) => Ok(Done {
                            output,
                            next: self.program.states.get(i).map(|s| s.name.to_string()),
                            assigned: step.assigned,
                        }),
                        Flow::End(output) => Ok(Done { output, next: None, assigned: step.assigned }),
                    },
                    Err(StateError::Eval(e)) => Err(e.into()),
                    Err(StateError::Failed(f)) => Err(Failed {
                        error: f.error,
                        cause: f.cause,
                        handled: !matches!(state.kind, StateKind::Fail(_)),
                    }),
                }
            }
            StateKind::Task(task) => {
                let input = if jsonpath {
                    self.effective_input(thread, inspection)?
                } else {
                    let args = data::effective_input(state, raw, ctx, &thread.vars)?;
                    inspection.after_arguments = Some(args.clone());
                    args
                };
                let result = match &self.mock {
                    Some(MockAnswer::Result(r)) => r.clone(),
                    Some(MockAnswer::Error(error, cause)) => {
                        return Err(Failed { error: error.clone(), cause: cause.clone(), handled: true })
                    }
                    None => {
                        let request = TaskRequest {
                            resource: task.resource.clone(),
                            state_name: state.name.clone(),
                            input,
                            credentials: None,
                            task_token: None,
                            execution_arn: self.exec.info.arn.clone(),
                            retry_count: self.request.state_configuration.retrier_retry_count,
                            heartbeat_seconds: None,
                            timeout_seconds: None,
                        };
                        match self.exec.shared.dispatcher.invoke(request).await {
                            Ok(v) => v,
                            Err(e) => return Err(Failed { error: e.error, cause: e.cause, handled: true }),
                        }
                    }
                };
                inspection.result = Some(result.clone());
                if jsonpath {
                    self.finish_jsonpath(result, thread, inspection)
                } else {
                    let (output, assigned) = data::finish(state, raw.clone(), result, ctx, &thread.vars, true)?;
                    Ok(Done { output, next: self.next_name(state.transition), assigned })
                }
            }
            StateKind::Parallel(_) | StateKind::Map(_) => {
                if let StateKind::Map(map) = &state.kind {
                    self.inspect_map(map, thread, inspection)?;
                    // The iterations are reported when the mock gives the Map's result; a mocked
                    // error ends the Map before them (AWS reports only the input and the limits then).
                    if let Some(MockAnswer::Result(_)) = &self.mock {
                        let inputs = map::MapInputs {
                            state,
                            map,
                            raw,
                            ctx,
                            reader_data: self.request.state_configuration.map_item_reader_data.as_deref(),
                        };
                        inputs.inspect(thread, inspection).await?;
                    }
                }
                let result = match &self.mock {
                    Some(MockAnswer::Result(r)) => r.clone(),
                    Some(MockAnswer::Error(error, cause)) => {
                        return Err(Failed { error: error.clone(), cause: cause.clone(), handled: true })
                    }
                    None => return Err(Failed { error: names::RUNTIME.into(), cause: None, handled: false }),
                };
                if let StateKind::Map(_) = &state.kind {
                    self.check_tolerance(inspection)?;
                }
                if jsonpath {
                    data::effective_input(state, raw, ctx, &thread.vars)?;
                    self.finish_jsonpath(result, thread, inspection)
                } else {
                    let (output, assigned) = data::finish(state, raw.clone(), result, ctx, &thread.vars, true)?;
                    Ok(Done { output, next: self.next_name(state.transition), assigned })
                }
            }
        }
    }

    /// InputPath then Parameters, recorded.
    fn effective_input(&self, thread: &Thread, inspection: &mut InspectionData) -> Result<Value, Failed> {
        let state = self.state;
        let after = input_path(&state.io.input_path, &self.request.input, self.ctx, &thread.vars)?.into_owned();
        inspection.after_input_path = Some(after.clone());
        let params = match &state.io.parameters {
            Some(t) => t.eval(&env(&after, self.ctx, &thread.vars, &Value::Null))?,
            None => after,
        };
        inspection.after_parameters = Some(params.clone());
        Ok(params)
    }

    /// ResultSelector, Assign, ResultPath and OutputPath, recorded.
    fn finish_jsonpath(&self, result: Value, thread: &Thread, inspection: &mut InspectionData) -> Result<Done, Failed> {
        let state = self.state;
        let vars = &thread.vars;
        let selected = match &state.io.result_selector {
            Some(t) => t.eval(&env(&result, self.ctx, vars, &Value::Null))?,
            None => result,
        };
        inspection.after_result_selector = Some(selected.clone());
        let assigned = data::assign(state.assign.as_ref(), &selected, self.ctx, vars, &Value::Null)?;
        let combined = result_path(&state.io.result_path, self.request.input.clone(), selected)?;
        inspection.after_result_path = Some(combined.clone());
        let output = output_path(&state.io.output_path, combined, self.ctx, vars)?;
        Ok(Done { output, next: self.next_name(state.transition), assigned })
    }

    /// Evaluates a Map state's concurrency and failure tolerance for the inspection data.
    fn inspect_map(
        &self,
        map: &legion_asl::model::MapState,
        thread: &Thread,
        inspection: &mut InspectionData,
    ) -> Result<(), Failed> {
        let number = |field: &NumberField, name: &str| -> Result<Value, Failed> {
            Ok(match field {
                NumberField::Literal(n) => json!(n),
                NumberField::Path(p) => {
                    let eff = input_path(&self.state.io.input_path, &self.request.input, self.ctx, &thread.vars)?;
                    let scope = Scope { data: &eff, context: self.ctx, vars: &thread.vars };
                    p.eval(&scope).map_err(|e| data::path_error(e, &format!("{name}Path")))?.into_owned()
                }
                NumberField::Expr(t) => {
                    let states = states_value(self.state, &self.request.input, self.ctx, &[]);
                    t.eval(&env(&self.request.input, self.ctx, &thread.vars, &states))?
                }
            })
        };
        let max = match &map.max_concurrency {
            Some(f) => number(f, "MaxConcurrency")?.as_f64().unwrap_or(0.0).max(0.0) as u64,
            None => 0,
        };
        inspection.max_concurrency = Some(max);
        if let Some(f) = &map.tolerated_failure_count {
            inspection.tolerated_failure_count =
                Some(number(f, "ToleratedFailureCount")?.as_f64().unwrap_or(0.0).max(0.0) as u64);
        }
        if let Some(f) = &map.tolerated_failure_percentage {
            inspection.tolerated_failure_percentage =
                Some(number(f, "ToleratedFailurePercentage")?.as_f64().unwrap_or(0.0).clamp(0.0, 100.0));
        }
        Ok(())
    }

    /// Fails a mocked Map whose failed iterations exceed its tolerance.
    fn check_tolerance(&self, inspection: &InspectionData) -> Result<(), Failed> {
        let failures = self.request.state_configuration.map_iteration_failure_count.unwrap_or(0);
        let total = match &self.mock {
            Some(MockAnswer::Result(Value::Array(items))) => items.len() as u64,
            _ => 0,
        };
        if failures == 0 {
            return Ok(());
        }
        let count_ok = inspection.tolerated_failure_count.is_some_and(|c| failures <= c);
        let percent_ok = inspection
            .tolerated_failure_percentage
            .is_some_and(|p| total > 0 && (failures as f64) * 100.0 / (total as f64) <= p);
        if count_ok || percent_ok {
            return Ok(());
        }
        Err(Failed {
            error: names::EXCEED_TOLERATED_FAILURE_THRESHOLD.into(),
            cause: Some("The specified tolerated failure threshold was exceeded".into()),
            handled: true,
        })
    }

    /// Applies Retry and Catch to a failure, as reports.
    fn on_error(&self, failed: Failed, thread: &Thread, inspection: &mut InspectionData) -> TestStateResponse {
        let state = self.state;
        let mut details = ErrorDetails::default();
        let mut response = TestStateResponse {
            status: TestStatus::Failed,
            output: None,
            error: Some(failed.error.clone()).filter(|e| !e.is_empty()),
            cause: failed.cause.clone(),
            next_state: None,
            inspection_data: None,
        };
        let retryable = matches!(state.kind, StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel(_));
        if failed.handled && retryable {
            if let Some(i) = state.retry.iter().position(|r| error_matches(&r.error_equals, &failed.error)) {
                details.retry_index = Some(i as u64);
                let retrier = &state.retry[i];
                let count = self.request.state_configuration.retrier_retry_count;
                if count < retrier.max_attempts {
                    details.retry_backoff_interval_seconds = Some(retrier.delay_seconds(count + 1).round() as u64);
                    response.status = TestStatus::Retriable;
                    inspection.error_details = Some(details);
                    return response;
                }
            }
            if let Some(j) = state.catch.iter().position(|c| error_matches(&c.error_equals, &failed.error)) {
                details.catch_index = Some(j as u64);
                let catcher = &state.catch[j];
                let mut error_output = Map::new();
                error_output.insert("Error".into(), json!(failed.error));
                if let Some(c) = &failed.cause {
                    error_output.insert("Cause".into(), json!(c));
                }
                let caught = data::catch_output(
                    state,
                    catcher,
                    &self.request.input,
                    Value::Object(error_output),
                    self.ctx,
                    &thread.vars,
                );
                match caught {
                    Ok((output, _assigned)) => {
                        response.status = TestStatus::CaughtError;
                        response.output = Some(output);
                        response.next_state = self.program.states.get(catcher.next).map(|s| s.name.to_string());
                    }
                    Err(e) => {
                        response.error = Some(e.error);
                        response.cause = Some(e.detail);
                    }
                }
            }
        }
        if details != ErrorDetails::default() {
            inspection.error_details = Some(details);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::builder().build()
    }

    #[tokio::test]
    async fn a_pass_state_reports_each_step() {
        let mut request = TestStateRequest::new(
            json!({"Type": "Pass", "InputPath": "$.a", "Parameters": {"x.$": "$.b"}, "ResultPath": "$.r", "End": true}),
            json!({"a": {"b": 1}}),
        );
        request.inspection_level = InspectionLevel::Debug;
        let response = engine().test_state(request).await.expect("valid request");
        assert_eq!(response.status, TestStatus::Succeeded);
        assert_eq!(response.output, Some(json!({"a": {"b": 1}, "r": {"x": 1}})));
        let data = response.inspection_data.expect("DEBUG shows the data flow");
        assert_eq!(data.after_input_path, Some(json!({"b": 1})));
        assert_eq!(data.after_parameters, Some(json!({"x": 1})));
        assert_eq!(data.after_result_path, Some(json!({"a": {"b": 1}, "r": {"x": 1}})));
    }

    #[tokio::test]
    async fn choice_reports_the_next_state() {
        let request = TestStateRequest::new(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}], "Default": "Small"}),
            json!({"n": 5}),
        );
        let response = engine().test_state(request).await.expect("valid request");
        assert_eq!(response.next_state.as_deref(), Some("Big"));
        assert_eq!(response.inspection_data, None, "INFO shows no data flow");
    }

    #[tokio::test]
    async fn mocked_errors_are_retriable_then_caught() {
        let definition = json!({
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
            "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 3, "BackoffRate": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}]
        });
        let mut request = TestStateRequest::new(definition, json!({}));
        request.inspection_level = InspectionLevel::Debug;
        request.mock = Some(Mock {
            result: MockResult::Error { error: Some("Boom".into()), cause: Some("c".into()) },
            field_validation_mode: FieldValidationMode::Strict,
        });
        request.state_configuration.retrier_retry_count = 1;
        let response = engine().test_state(request.clone()).await.expect("valid request");
        assert_eq!(response.status, TestStatus::Retriable);
        let details = response.inspection_data.and_then(|d| d.error_details).expect("details");
        assert_eq!(details.retry_backoff_interval_seconds, Some(6));
        request.state_configuration.retrier_retry_count = 2;
        let response = engine().test_state(request).await.expect("valid request");
        assert_eq!(response.status, TestStatus::CaughtError);
        assert_eq!(response.next_state.as_deref(), Some("Handle"));
        assert_eq!(response.output, Some(json!({"Error": "Boom", "Cause": "c"})));
    }

    #[tokio::test]
    async fn api_rules_are_enforced() {
        let task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
        let err = engine().test_state(TestStateRequest::new(task, json!({}))).await.unwrap_err();
        assert_eq!(err, TestStateError::Validation("RoleArn must be specified when testing a Task state".into()));
        let mut pass = TestStateRequest::new(json!({"Type": "Pass", "End": true}), json!({}));
        pass.mock =
            Some(Mock { result: MockResult::Output("{}".into()), field_validation_mode: FieldValidationMode::Strict });
        let err = engine().test_state(pass).await.unwrap_err();
        assert!(matches!(err, TestStateError::Validation(m) if m.contains("'Pass' is not supported")));
        let mut missing =
            TestStateRequest::new(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}), json!({}));
        missing.state_name = Some("B".into());
        let err = engine().test_state(missing).await.unwrap_err();
        assert_eq!(err, TestStateError::Validation("State not found in definition".into()));
    }

    fn mocked_map(definition: Value, input: Value, reader_data: Option<&str>) -> TestStateRequest {
        let mut request = TestStateRequest::new(definition, input);
        request.inspection_level = InspectionLevel::Debug;
        request.mock = Some(Mock {
            result: MockResult::Output("[1, 2]".into()),
            field_validation_mode: FieldValidationMode::Strict,
        });
        request.state_configuration.map_item_reader_data = reader_data.map(str::to_owned);
        request
    }

    #[tokio::test]
    async fn a_mocked_map_reports_its_items_selected_and_batched() {
        let definition = json!({
            "Type": "Map", "ItemsPath": "$.orders", "End": true,
            "ItemSelector": {"position.$": "$$.Map.Item.Index", "order.$": "$$.Map.Item.Value", "shop.$": "$.shop"},
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"shop.$": "$.shop"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
        });
        let input = json!({"shop": "north", "orders": ["a", "b", "c"]});
        let response = engine().test_state(mocked_map(definition, input, None)).await.expect("valid request");
        assert_eq!(response.status, TestStatus::Succeeded);
        assert_eq!(response.output, Some(json!([1, 2])));
        let data = response.inspection_data.expect("DEBUG");
        assert_eq!(data.after_items_path, Some(json!(["a", "b", "c"])));
        let selected = json!([
            {"position": 0, "order": "a", "shop": "north"},
            {"position": 1, "order": "b", "shop": "north"},
            {"position": 2, "order": "c", "shop": "north"}
        ]);
        assert_eq!(data.after_item_selector, Some(selected.clone()));
        let batches = json!([
            {"BatchInput": {"shop": "north"}, "Items": [selected[0], selected[1]]},
            {"BatchInput": {"shop": "north"}, "Items": [selected[2]]}
        ]);
        assert_eq!(data.after_item_batcher, Some(batches));
        assert_eq!(data.after_items_pointer, None);
    }

    fn reader_map(reader_config: Value) -> Value {
        json!({
            "Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "Parameters": {"Bucket": "b", "Key": "k"}, "ReaderConfig": reader_config},
            "ItemSelector": {"row.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
        })
    }

    #[tokio::test]
    async fn map_item_reader_data_is_read_as_the_reader_config_says() {
        let object = r#"{"meta": {"n": 3}, "data": {"rows": [{"id": 1}, {"id": 2}, {"id": 3}]}}"#;
        let config = json!({"InputType": "JSON", "ItemsPointer": "/data/rows", "MaxItems": 2});
        let response =
            engine().test_state(mocked_map(reader_map(config), json!({}), Some(object))).await.expect("valid request");
        assert_eq!(response.status, TestStatus::Succeeded);
        let data = response.inspection_data.expect("DEBUG");
        assert_eq!(data.after_items_pointer, Some(json!([{"id": 1}, {"id": 2}, {"id": 3}])));
        assert_eq!(data.after_item_selector, Some(json!([{"row": {"id": 1}}, {"row": {"id": 2}}])));
        assert_eq!(data.after_items_path, None, "items from a reader are not filtered by ItemsPath");

        let csv = "id,name\n1,ada\n2,grace\n";
        let config = json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"});
        let response =
            engine().test_state(mocked_map(reader_map(config), json!({}), Some(csv))).await.expect("valid request");
        let data = response.inspection_data.expect("DEBUG");
        assert_eq!(
            data.after_item_selector,
            Some(json!([{"row": {"id": "1", "name": "ada"}}, {"row": {"id": "2", "name": "grace"}}]))
        );

        let lines = "{\"n\": 1}\n\n{\"n\": 2}\n";
        let response = engine()
            .test_state(mocked_map(reader_map(json!({"InputType": "JSONL"})), json!({}), Some(lines)))
            .await
            .expect("valid request");
        assert_eq!(
            response.inspection_data.and_then(|d| d.after_item_selector),
            Some(json!([{"row": {"n": 1}}, {"row": {"n": 2}}]))
        );
    }

    #[tokio::test]
    async fn unreadable_map_item_reader_data_fails_the_map() {
        let config = json!({"InputType": "JSON", "ItemsPointer": "/missing"});
        let response = engine()
            .test_state(mocked_map(reader_map(config), json!({}), Some(r#"{"rows": []}"#)))
            .await
            .expect("valid request");
        assert_eq!(response.status, TestStatus::Failed);
        assert_eq!(response.error.as_deref(), Some("States.ItemReaderFailed"));
        let response = engine()
            .test_state(mocked_map(reader_map(json!({"InputType": "JSON"})), json!({}), Some("not json")))
            .await
            .expect("valid request");
        assert_eq!(response.error.as_deref(), Some("States.ItemReaderFailed"));
    }

    #[tokio::test]
    async fn a_mocked_map_whose_jsonata_items_are_not_an_array_fails() {
        let definition = json!({
            "Type": "Map", "QueryLanguage": "JSONata", "Items": "{% $states.input.count %}", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
        });
        let response =
            engine().test_state(mocked_map(definition, json!({"count": 3}), None)).await.expect("valid request");
        assert_eq!(response.status, TestStatus::Failed);
        assert_eq!(response.error.as_deref(), Some("States.QueryEvaluationError"));
        let cause = response.cause.unwrap_or_default();
        assert!(cause.contains("Expected 'array', but was 'number' for value: 3"), "{cause}");
    }
}
