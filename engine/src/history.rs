//! Execution history: the events GetExecutionHistory returns, with AWS's types and detail shapes.

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// The type of a history event, named as AWS names it (`PassStateEntered`, `TaskSucceeded`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // Each variant is the AWS event type of the same name.
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionAborted,
    ExecutionTimedOut,
    ExecutionRedriven,
    StateEntered(StateType),
    StateExited(StateType),
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskStateAborted,
    ActivityScheduled,
    ActivityStarted,
    ActivitySucceeded,
    ActivityFailed,
    ActivityTimedOut,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    MapRunAborted,
    MapRunRedriven,
    WaitStateAborted,
    EvaluationFailed,
}

/// The state types, for `…StateEntered` / `…StateExited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // One variant per ASL state type.
pub enum StateType {
    Pass,
    Task,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    /// The type for a state kind name (`"Pass"` …).
    pub fn from_name(name: &str) -> StateType {
        match name {
            "Task" => StateType::Task,
            "Choice" => StateType::Choice,
            "Wait" => StateType::Wait,
            "Succeed" => StateType::Succeed,
            "Fail" => StateType::Fail,
            "Parallel" => StateType::Parallel,
            "Map" => StateType::Map,
            _ => StateType::Pass,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StateType::Pass => "Pass",
            StateType::Task => "Task",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }
}

impl EventType {
    /// The AWS name of the event type.
    pub fn name(self) -> String {
        match self {
            EventType::StateEntered(t) => format!("{}StateEntered", t.name()),
            EventType::StateExited(t) => format!("{}StateExited", t.name()),
            other => format!("{other:?}"),
        }
    }

    /// The member that holds this event's details (`passStateEnteredEventDetails` is
    /// `stateEnteredEventDetails` for every state type).
    pub fn details_key(self) -> String {
        match self {
            EventType::StateEntered(_) => "stateEnteredEventDetails".to_owned(),
            EventType::StateExited(_) => "stateExitedEventDetails".to_owned(),
            other => {
                let name = other.name();
                let mut chars = name.chars();
                let first = chars.next().map(|c| c.to_ascii_lowercase()).unwrap_or_default();
                format!("{first}{}EventDetails", chars.as_str())
            }
        }
    }
}

/// An event's details, kept compact while the execution runs and shaped as AWS's JSON when read.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    /// Details already in their JSON shape.
    Json(Value),
    /// A JSON payload member (`input` or `output`) kept as compact text, with `…Details` added when
    /// rendered, plus other members.
    Payload {
        /// `input` or `output`.
        key: &'static str,
        /// The payload as compact JSON text.
        text: String,
        /// Other members, in order, before the payload.
        others: Vec<(&'static str, Value)>,
    },
}

impl Details {
    /// The details as GetExecutionHistory shows them.
    pub fn to_value(&self) -> Value {
        match self {
            Details::Json(v) => v.clone(),
            Details::Payload { key, text, others } => {
                let mut out = Map::new();
                for (name, val) in others {
                    out.insert((*name).to_owned(), val.clone());
                }
                out.insert((*key).to_owned(), Value::String(text.clone()));
                out.insert(format!("{key}Details"), json!({"truncated": false}));
                Value::Object(out)
            }
        }
    }
}

impl From<Value> for Details {
    fn from(v: Value) -> Details {
        Details::Json(v)
    }
}

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// 1-based, in recording order.
    pub id: u64,
    /// The event this one follows in its branch of the execution (0 for none).
    pub previous_event_id: u64,
    /// When it happened.
    pub timestamp: OffsetDateTime,
    /// What happened.
    pub event_type: EventType,
    /// The details, if the type has any.
    pub details: Option<Details>,
}

impl HistoryEvent {
    /// The details object as AWS shapes it (JSON payloads as strings), if the type has one.
    pub fn details_json(&self) -> Option<Value> {
        self.details.as_ref().map(Details::to_value)
    }

    /// The event as GetExecutionHistory returns it (timestamps as epoch seconds).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("timestamp".into(), json!(self.timestamp.unix_timestamp_nanos() as f64 / 1e9));
        out.insert("type".into(), json!(self.event_type.name()));
        out.insert("id".into(), json!(self.id));
        out.insert("previousEventId".into(), json!(self.previous_event_id));
        if let Some(d) = &self.details {
            out.insert(self.event_type.details_key(), d.to_value());
        }
        Value::Object(out)
    }
}

/// An append-only history shared by every branch of one execution.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: Arc<Mutex<Vec<HistoryEvent>>>,
}

impl History {
    /// Appends an event and returns its id.
    pub fn record(&self, previous_event_id: u64, event_type: EventType, details: Option<Details>) -> u64 {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let id = events.len() as u64 + 1;
        events.push(HistoryEvent { id, previous_event_id, timestamp: OffsetDateTime::now_utc(), event_type, details });
        id
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many events there are.
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cursor into the history for one thread of control (the execution, a branch, an iteration):
/// it remembers the last event it recorded so the next one can point back to it.
#[derive(Debug, Clone)]
pub struct Recorder {
    history: History,
    last: u64,
    enabled: bool,
}

impl Recorder {
    /// A recorder appending to `history`.
    pub fn new(history: History, enabled: bool) -> Recorder {
        Recorder { history, last: 0, enabled }
    }

    /// A recorder for a nested thread that continues from this one's last event.
    pub fn fork(&self) -> Recorder {
        self.clone()
    }

    /// Records an event; returns its id (0 when recording is off).
    pub fn record(&mut self, event_type: EventType, details: Option<Value>) -> u64 {
        self.record_details(event_type, details.map(Details::Json))
    }

    /// Records an event with details in any form; returns its id (0 when recording is off).
    pub fn record_details(&mut self, event_type: EventType, details: Option<Details>) -> u64 {
        if !self.enabled {
            return 0;
        }
        let id = self.history.record(self.last, event_type, details);
        self.last = id;
        id
    }

    /// Records an event only when recording is on, building its details lazily.
    pub fn record_with<D: Into<Details>>(&mut self, event_type: EventType, details: impl FnOnce() -> D) -> u64 {
        if !self.enabled {
            return 0;
        }
        self.record_details(event_type, Some(details().into()))
    }

    /// The id of the last event this cursor recorded.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Moves this cursor to follow the latest event of the whole history (a redrive continues there).
    pub fn follow_latest(&mut self) {
        self.last = self.last.max(self.history.len() as u64);
    }

    /// Moves this cursor to follow `id` (after joining branches).
    pub fn follow(&mut self, id: u64) {
        self.last = self.last.max(id);
    }

    /// Whether events are being recorded.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

/// Compact JSON text (the form history payloads take).
pub use legion_asl::error::compact;

/// Details with one JSON payload member (`input` or `output`) rendered as text, plus others.
pub fn with_payload(key: &'static str, value: &Value, others: Vec<(&'static str, Value)>) -> Details {
    Details::Payload { key, text: compact(value), others }
}
