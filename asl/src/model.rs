//! The typed model of a state machine: what [`crate::parse`] builds from a definition.
//!
//! Everything the interpreter needs is resolved here once: transitions are indexes, paths,
//! templates, intrinsic calls and JSONata expressions are compiled.

use std::sync::Arc;

use serde_json::Value;

use crate::choice::Condition;
use crate::path::Path;
use crate::template::Template;

/// Which expression language a state's fields use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// Paths, payload templates and intrinsic functions (the default).
    #[default]
    JsonPath,
    /// `{% %}` expressions and `$states`.
    Jsonata,
}

/// Standard or Express: decides which integrations a definition may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum StateMachineType {
    /// Long-running, exactly-once.
    #[default]
    Standard,
    /// Short-lived, at-least-once.
    Express,
}

/// A parsed, validated state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// `Comment`.
    pub comment: Option<String>,
    /// The machine-wide query language.
    pub query_language: QueryLanguage,
    /// `TimeoutSeconds` of the whole execution.
    pub timeout_seconds: Option<u64>,
    /// The top-level states.
    pub program: Program,
    /// Whether any field may read the context object (`$$` or `$states`); when none can, the
    /// interpreter never builds it.
    pub reads_context: bool,
    /// The definition text it was parsed from ([`crate::parse::parse_str`]), which a durable store keeps
    /// so that an execution can be resumed after a restart.
    pub source: Option<std::sync::Arc<str>>,
}

/// Index of a state inside its [`Program`].
pub type StateId = usize;

/// A set of states with a start: the top level, a Parallel branch, or a Map's ItemProcessor.
#[derive(Debug, Clone)]
pub struct Program {
    /// Where execution begins.
    pub start_at: StateId,
    /// The states, in definition order.
    pub states: Vec<State>,
}

impl Program {
    /// The state with this name.
    pub fn find(&self, name: &str) -> Option<StateId> {
        self.states.iter().position(|s| *s.name == *name)
    }

    /// The state with this name anywhere in the program (nested branches and item processors
    /// included; names are unique in a definition), with the program that holds it.
    pub fn find_nested(&self, name: &str) -> Option<(&Program, &State)> {
        for state in &self.states {
            if *state.name == *name {
                return Some((self, state));
            }
            let nested = match &state.kind {
                StateKind::Parallel(p) => p.branches.iter().find_map(|b| b.find_nested(name)),
                StateKind::Map(m) => m.processor.find_nested(name),
                _ => None,
            };
            if nested.is_some() {
                return nested;
            }
        }
        None
    }
}

/// Where control goes after a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `Next`.
    Next(StateId),
    /// `End: true`.
    End,
    /// Choice, Succeed and Fail decide for themselves.
    None,
}

/// An optional path field whose absence means `$` and whose `null` means "nothing".
#[derive(Debug, Clone, Default)]
pub enum PathField {
    /// Absent: `$`.
    #[default]
    Default,
    /// Explicit `null`.
    Null,
    /// A path.
    Path(Path),
}

/// A number given literally, by path, or by JSONata expression.
#[derive(Debug, Clone)]
pub enum NumberField {
    /// A literal.
    Literal(f64),
    /// A `…Path` reference.
    Path(Path),
    /// A JSONata expression.
    Expr(Template),
}

/// A string given literally, by path or intrinsic (Fail's `ErrorPath`), or by JSONata expression.
#[derive(Debug, Clone)]
pub enum StringField {
    /// A literal.
    Literal(String),
    /// A `…Path` field: a reference path or an intrinsic call, as a one-member payload template.
    Path(Template),
    /// A JSONata expression.
    Expr(Template),
}

/// One state.
#[derive(Debug, Clone)]
pub struct State {
    /// Its name (shared with the history events that name it).
    pub name: Arc<str>,
    /// The language its fields use.
    pub query_language: QueryLanguage,
    /// What kind of state it is, with its specific fields.
    pub kind: StateKind,
    /// Input/output processing.
    pub io: Io,
    /// `Assign`.
    pub assign: Option<Template>,
    /// `Next` / `End`.
    pub transition: Transition,
    /// `Retry` (Task, Parallel, Map).
    pub retry: Vec<Retrier>,
    /// `Catch` (Task, Parallel, Map).
    pub catch: Vec<Catcher>,
}

/// Input and output processing fields.
#[derive(Debug, Clone, Default)]
pub struct Io {
    /// `InputPath`.
    pub input_path: PathField,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata).
    pub parameters: Option<Template>,
    /// `ResultSelector`.
    pub result_selector: Option<Template>,
    /// `ResultPath`.
    pub result_path: PathField,
    /// `OutputPath`.
    pub output_path: PathField,
    /// `Output` (JSONata).
    pub output: Option<Template>,
}

/// The kinds of state, each with its own fields.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // Built once per definition; boxing would only add indirection.
pub enum StateKind {
    /// `{"Type": "Pass", "Result": …}`.
    Pass {
        /// `Result` (JSONPath).
        result: Option<Value>,
    },
    /// `{"Type": "Task", "Resource": "arn:…"}`.
    Task(Task),
    /// `{"Type": "Choice", "Choices": […], "Default": "X"}`.
    Choice(Choice),
    /// `{"Type": "Wait", "Seconds": 10}`.
    Wait(Wait),
    /// `{"Type": "Succeed"}`.
    Succeed,
    /// `{"Type": "Fail", "Error": "E", "Cause": "C"}`.
    Fail(Fail),
    /// `{"Type": "Parallel", "Branches": […]}`.
    Parallel(Parallel),
    /// `{"Type": "Map", "ItemProcessor": {…}}`.
    Map(Box<MapState>),
}

impl StateKind {
    /// The `Type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// A Task state.
#[derive(Debug, Clone)]
pub struct Task {
    /// `Resource`, as written, shared with every attempt's request.
    pub resource: Arc<str>,
    /// What `resource` names, classified once by the parser.
    pub kind: ResourceKind,
    /// How the task ends, from the resource's suffix.
    pub pattern: crate::integrations::Pattern,
    /// `TimeoutSeconds` / `TimeoutSecondsPath`.
    pub timeout_seconds: Option<NumberField>,
    /// `HeartbeatSeconds` / `HeartbeatSecondsPath`.
    pub heartbeat_seconds: Option<NumberField>,
    /// `Credentials`.
    pub credentials: Option<Template>,
}

/// What a Task's `Resource` names: how its attempts show up in history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    /// A Lambda function's ARN (`arn:aws:lambda:…`): `LambdaFunction…` events.
    Lambda,
    /// An activity's ARN (`arn:PARTITION:states:REGION:ACCOUNT:activity:NAME`): `Activity…` events;
    /// the task waits for a worker.
    Activity,
    /// Everything else, as `Task…` events name it: an integration
    /// (`arn:aws:states:::sqs:sendMessage.waitForTaskToken`, or Legion's own
    /// `arn:legion:states:::openfaas:invoke.sync`) by its service and its action with the pattern
    /// (`sqs`, `sendMessage.waitForTaskToken`); another ARN by `activity` or `custom` and the ARN.
    Service {
        /// The service: `resourceType` in history.
        resource_type: Arc<str>,
        /// The action and its pattern, or the whole ARN: `resource` in history.
        resource: Arc<str>,
    },
}

impl ResourceKind {
    /// Classifies a Task's `Resource`.
    pub fn of(resource: &str) -> ResourceKind {
        let service = |resource_type: &str, resource: &str| ResourceKind::Service {
            resource_type: resource_type.into(),
            resource: resource.into(),
        };
        if resource.starts_with("arn:aws:lambda:") {
            return ResourceKind::Lambda;
        }
        // Legion's own integrations (OpenFaaS…) use the `legion` partition, which AWS never accepts.
        let integration =
            resource.strip_prefix("arn:aws:states:::").or_else(|| resource.strip_prefix("arn:legion:states:::"));
        if let Some((name, action)) = integration.and_then(|rest| rest.split_once(':')) {
            return service(name, action);
        }
        if crate::integrations::is_activity_arn(resource) {
            return ResourceKind::Activity;
        }
        if resource.contains(":activity:") {
            return service("activity", resource);
        }
        service("custom", resource)
    }
}

impl MapState {
    /// The item processor as a state machine of its own, in the Map state's `query_language`: what
    /// a Distributed Map's children run.
    pub fn processor_machine(&self, query_language: QueryLanguage) -> StateMachine {
        StateMachine {
            comment: None,
            query_language,
            timeout_seconds: None,
            program: self.processor.clone(),
            reads_context: self.processor_reads_context,
            source: None,
        }
    }
}

/// A Choice state.
#[derive(Debug, Clone)]
pub struct Choice {
    /// `Choices`, in order.
    pub rules: Vec<ChoiceRule>,
    /// `Default`.
    pub default: Option<StateId>,
}

/// One top-level Choice rule.
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    /// The test.
    pub condition: ChoiceCondition,
    /// `Next`.
    pub next: StateId,
    /// `Assign` of the rule.
    pub assign: Option<Template>,
    /// `Output` of the rule (JSONata).
    pub output: Option<Template>,
}

/// A Choice rule's test in either language.
#[derive(Debug, Clone)]
pub enum ChoiceCondition {
    /// Variable + operator, And/Or/Not.
    JsonPath(Condition),
    /// `Condition` (a boolean literal or an expression).
    Jsonata(Template),
}

/// A Wait state's delay.
#[derive(Debug, Clone)]
pub enum Wait {
    /// `Seconds` (literal or JSONata).
    Seconds(NumberField),
    /// `SecondsPath`.
    SecondsPath(Path),
    /// `Timestamp` literal.
    Timestamp(String),
    /// `Timestamp` JSONata expression.
    TimestampExpr(Template),
    /// `TimestampPath`.
    TimestampPath(Path),
}

/// A Fail state.
#[derive(Debug, Clone, Default)]
pub struct Fail {
    /// `Error` / `ErrorPath`.
    pub error: Option<StringField>,
    /// `Cause` / `CausePath`.
    pub cause: Option<StringField>,
}

/// A Parallel state.
#[derive(Debug, Clone)]
pub struct Parallel {
    /// `Branches`.
    pub branches: Vec<Program>,
}

/// How a Map runs its iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    /// In the parent execution.
    Inline,
    /// As child executions of a map run.
    Distributed {
        /// `ExecutionType` of the children.
        execution_type: StateMachineType,
    },
}

/// A Map state.
#[derive(Debug, Clone)]
pub struct MapState {
    /// `ItemProcessor` / `Iterator`.
    pub processor: Program,
    /// Whether the processor mentions `$$` or `$states` (a Distributed Map's children build their
    /// context object only then, whatever the parent reads).
    pub processor_reads_context: bool,
    /// The processor's query language (inherited from the machine, not from the Map).
    pub mode: MapMode,
    /// `ItemsPath`.
    pub items_path: Option<Path>,
    /// `Items` (JSONata).
    pub items: Option<Template>,
    /// `ItemSelector` / `Parameters`.
    pub item_selector: Option<Template>,
    /// `MaxConcurrency` / `MaxConcurrencyPath`.
    pub max_concurrency: Option<NumberField>,
    /// `ToleratedFailureCount` / `…Path`.
    pub tolerated_failure_count: Option<NumberField>,
    /// `ToleratedFailurePercentage` / `…Path`.
    pub tolerated_failure_percentage: Option<NumberField>,
    /// `ItemReader`, kept as JSON for the engine's item sources.
    pub item_reader: Option<Value>,
    /// `ItemBatcher`, kept as JSON.
    pub item_batcher: Option<Value>,
    /// `ResultWriter`, kept as JSON.
    pub result_writer: Option<Value>,
    /// `Label`.
    pub label: Option<String>,
}

/// One `Retry` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: f64,
    /// `MaxAttempts` (default 3).
    pub max_attempts: u64,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<f64>,
    /// `JitterStrategy: FULL`.
    pub full_jitter: bool,
}

impl Retrier {
    /// The delay in seconds before retry number `attempt` (1-based), before jitter:
    /// `min(IntervalSeconds × BackoffRate^(attempt−1), MaxDelaySeconds)`.
    pub fn delay_seconds(&self, attempt: u64) -> f64 {
        let exp = attempt.saturating_sub(1).min(i32::MAX as u64) as i32;
        let raw = self.interval_seconds * self.backoff_rate.powi(exp);
        match self.max_delay_seconds {
            Some(max) => raw.min(max),
            None => raw,
        }
    }
}

/// One `Catch` entry.
#[derive(Debug, Clone)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `Next`.
    pub next: StateId,
    /// `ResultPath`.
    pub result_path: PathField,
    /// `Output` (JSONata).
    pub output: Option<Template>,
    /// `Assign`.
    pub assign: Option<Template>,
}

/// Whether an error name is matched by an `ErrorEquals` list.
///
/// `States.ALL` matches everything but `States.Runtime`; `States.TaskFailed` matches everything but
/// `States.Timeout` and `States.Runtime`.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|e| match e.as_str() {
        crate::error::names::ALL => error != crate::error::names::RUNTIME,
        crate::error::names::TASK_FAILED => {
            error != crate::error::names::TIMEOUT && error != crate::error::names::RUNTIME
        }
        other => other == error,
    })
}
