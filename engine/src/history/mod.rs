//! Execution history: typed events, one variant per AWS event type, recorded as the execution runs.
//!
//! An [`Event`] holds its details as typed fields and its JSON payloads as compact text
//! ([`Payload`]), and serialises (serde) in a compact form of its own, which is what a durable store
//! writes. AWS's JSON shapes (`passStateEnteredEventDetails`, payloads as strings, `…Details`)
//! belong to the server, which makes them only when history is read.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    MapRunAborted,
    MapRunRedriven,
    EvaluationFailed,
}

/// The state types, for `…StateEntered` / `…StateExited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl EventType {
    /// The AWS name of the event type.
    pub fn name(self) -> &'static str {
        use StateType as S;
        match self {
            EventType::StateEntered(t) => match t {
                S::Pass => "PassStateEntered",
                S::Task => "TaskStateEntered",
                S::Choice => "ChoiceStateEntered",
                S::Wait => "WaitStateEntered",
                S::Succeed => "SucceedStateEntered",
                S::Fail => "FailStateEntered",
                S::Parallel => "ParallelStateEntered",
                S::Map => "MapStateEntered",
            },
            EventType::StateExited(t) => match t {
                S::Pass => "PassStateExited",
                S::Task => "TaskStateExited",
                S::Choice => "ChoiceStateExited",
                S::Wait => "WaitStateExited",
                S::Succeed => "SucceedStateExited",
                S::Fail => "FailStateExited",
                S::Parallel => "ParallelStateExited",
                S::Map => "MapStateExited",
            },
            EventType::ExecutionStarted => "ExecutionStarted",
            EventType::ExecutionSucceeded => "ExecutionSucceeded",
            EventType::ExecutionFailed => "ExecutionFailed",
            EventType::ExecutionAborted => "ExecutionAborted",
            EventType::ExecutionTimedOut => "ExecutionTimedOut",
            EventType::ExecutionRedriven => "ExecutionRedriven",
            EventType::TaskScheduled => "TaskScheduled",
            EventType::TaskStarted => "TaskStarted",
            EventType::TaskSubmitted => "TaskSubmitted",
            EventType::TaskSucceeded => "TaskSucceeded",
            EventType::TaskFailed => "TaskFailed",
            EventType::TaskTimedOut => "TaskTimedOut",
            EventType::ActivityScheduled => "ActivityScheduled",
            EventType::ActivityStarted => "ActivityStarted",
            EventType::ActivitySucceeded => "ActivitySucceeded",
            EventType::ActivityFailed => "ActivityFailed",
            EventType::ActivityTimedOut => "ActivityTimedOut",
            EventType::LambdaFunctionScheduled => "LambdaFunctionScheduled",
            EventType::LambdaFunctionStarted => "LambdaFunctionStarted",
            EventType::LambdaFunctionSucceeded => "LambdaFunctionSucceeded",
            EventType::LambdaFunctionFailed => "LambdaFunctionFailed",
            EventType::LambdaFunctionTimedOut => "LambdaFunctionTimedOut",
            EventType::ParallelStateStarted => "ParallelStateStarted",
            EventType::ParallelStateSucceeded => "ParallelStateSucceeded",
            EventType::ParallelStateFailed => "ParallelStateFailed",
            EventType::MapStateStarted => "MapStateStarted",
            EventType::MapStateSucceeded => "MapStateSucceeded",
            EventType::MapStateFailed => "MapStateFailed",
            EventType::MapIterationStarted => "MapIterationStarted",
            EventType::MapIterationSucceeded => "MapIterationSucceeded",
            EventType::MapIterationFailed => "MapIterationFailed",
            EventType::MapIterationAborted => "MapIterationAborted",
            EventType::MapRunStarted => "MapRunStarted",
            EventType::MapRunSucceeded => "MapRunSucceeded",
            EventType::MapRunFailed => "MapRunFailed",
            EventType::MapRunAborted => "MapRunAborted",
            EventType::MapRunRedriven => "MapRunRedriven",
            EventType::EvaluationFailed => "EvaluationFailed",
        }
    }
}

/// A JSON payload (an input, output or parameters), shared, not copied, by the clones of its event:
/// either the data flow's own value (a state's input or output, which the next state reads too) or
/// compact JSON text (what a store reads back). Its text is made only when the history is read or
/// written to a durable store.
#[derive(Debug, Clone)]
pub struct Payload(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Text(Arc<str>),
    Value(Arc<Value>),
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        String::deserialize(deserializer).map(|s| Payload(Repr::Text(s.into())))
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        match (&self.0, &other.0) {
            (Repr::Value(a), Repr::Value(b)) => a == b,
            _ => self.text() == other.text(),
        }
    }
}

impl Eq for Payload {}

impl Payload {
    /// The compact text of `value` (for a value the data flow does not keep).
    pub fn of(value: &Value) -> Payload {
        Payload(Repr::Text(compact(value).into()))
    }

    /// A value the data flow shares with the event: nothing is copied or serialised.
    pub fn shared(value: Arc<Value>) -> Payload {
        Payload(Repr::Value(value))
    }

    /// The compact JSON text.
    pub fn text(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Text(text) => Cow::Borrowed(text),
            Repr::Value(value) => Cow::Owned(compact(value)),
        }
    }

    /// Keeps the payload as its compact text, letting go of the value it shared. `last` is the
    /// value settled before and its text: a state's output is the next state's input, the same
    /// value, so it is written once and its text shared.
    fn settle(&mut self, last: &mut Option<(Arc<Value>, Arc<str>)>) {
        let Repr::Value(value) = &self.0 else {
            return;
        };
        let text = match last {
            Some((settled, text)) if Arc::ptr_eq(settled, value) => text.clone(),
            _ => {
                let text: Arc<str> = compact(value).into();
                *last = Some((value.clone(), text.clone()));
                text
            }
        };
        self.0 = Repr::Text(text);
    }

    /// The payload as a value.
    pub fn to_value(&self) -> Value {
        match &self.0 {
            Repr::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Repr::Value(value) => Value::clone(value),
        }
    }
}

/// An error name and cause, each optional, as failure events carry them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// The error name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl ErrorDetails {
    /// An error with a cause.
    pub fn new(error: impl Into<String>, cause: Option<String>) -> ErrorDetails {
        ErrorDetails { error: Some(error.into()), cause }
    }
}

/// A service integration's resource as its task events name it (`lambda` and `invoke` for
/// `arn:aws:states:::lambda:invoke`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceResource {
    /// The service (`lambda`, `s3`…), shared with the parsed Task.
    pub resource_type: Arc<str>,
    /// The action, with its integration pattern (`invoke`, `startExecution.sync`…).
    pub resource: Arc<str>,
}

/// What happened: one variant per AWS event type, with that type's details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each variant is the AWS event type of the same name; fields are its details.
#[non_exhaustive]
pub enum Event {
    ExecutionStarted {
        input: Payload,
        role_arn: Arc<str>,
    },
    ExecutionSucceeded {
        output: Payload,
    },
    ExecutionFailed(ErrorDetails),
    ExecutionAborted(ErrorDetails),
    ExecutionTimedOut,
    ExecutionRedriven {
        redrive_count: u32,
    },
    StateEntered {
        state_type: StateType,
        name: Arc<str>,
        input: Payload,
    },
    StateExited {
        state_type: StateType,
        name: Arc<str>,
        output: Payload,
        /// `Assign`ed variables, each value as compact JSON text, in assignment order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned: Option<Box<[(String, Payload)]>>,
    },
    TaskScheduled(Box<TaskScheduledDetails>),
    TaskStarted {
        service: ServiceResource,
    },
    TaskSubmitted {
        service: ServiceResource,
        output: Payload,
    },
    TaskSucceeded {
        service: ServiceResource,
        output: Payload,
    },
    TaskFailed {
        service: ServiceResource,
        error: Box<ErrorDetails>,
    },
    TaskTimedOut {
        service: ServiceResource,
        error: Box<ErrorDetails>,
    },
    ActivityScheduled(Box<ActivityScheduledDetails>),
    ActivityStarted {
        worker_name: Option<String>,
    },
    ActivitySucceeded {
        output: Payload,
    },
    ActivityFailed(ErrorDetails),
    ActivityTimedOut(ErrorDetails),
    LambdaFunctionScheduled {
        resource: Arc<str>,
        input: Payload,
        timeout: Option<u64>,
    },
    LambdaFunctionStarted,
    LambdaFunctionSucceeded {
        output: Payload,
    },
    LambdaFunctionFailed(ErrorDetails),
    LambdaFunctionTimedOut(ErrorDetails),
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    MapStateStarted {
        length: usize,
    },
    MapStateSucceeded,
    MapStateFailed,
    MapIterationStarted {
        index: usize,
        name: Arc<str>,
    },
    MapIterationSucceeded {
        index: usize,
        name: Arc<str>,
    },
    MapIterationFailed {
        index: usize,
        name: Arc<str>,
    },
    MapIterationAborted {
        index: usize,
        name: Arc<str>,
    },
    MapRunStarted {
        map_run_arn: String,
    },
    MapRunSucceeded,
    MapRunFailed(ErrorDetails),
    MapRunAborted,
    MapRunRedriven {
        map_run_arn: String,
        redrive_count: u32,
    },
    EvaluationFailed(Box<EvaluationFailedDetails>),
}

// The details of the largest events are boxed so that every event stays small: a kept history
// holds many of them. Their serialised form is the same as a variant with those fields.

/// `TaskScheduled`'s details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScheduledDetails {
    /// The integration.
    pub service: ServiceResource,
    /// The region the task runs in.
    pub region: String,
    /// The effective parameters.
    pub parameters: Payload,
    /// The evaluated `TimeoutSeconds`.
    pub timeout: Option<u64>,
    /// The evaluated `HeartbeatSeconds`.
    pub heartbeat: Option<u64>,
}

/// `ActivityScheduled`'s details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityScheduledDetails {
    /// The activity's ARN.
    pub resource: Arc<str>,
    /// The task's input.
    pub input: Payload,
    /// The evaluated `TimeoutSeconds`.
    pub timeout: Option<u64>,
    /// The evaluated `HeartbeatSeconds`.
    pub heartbeat: Option<u64>,
}

/// `EvaluationFailed`'s details: an expression that could not be evaluated, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationFailedDetails {
    /// The error name (`States.QueryEvaluationError`…).
    pub error: String,
    /// The cause.
    pub cause: String,
    /// The field that failed.
    pub location: String,
    /// The state's name.
    pub state: String,
}

impl Event {
    /// The AWS event type.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::ExecutionStarted { .. } => EventType::ExecutionStarted,
            Event::ExecutionSucceeded { .. } => EventType::ExecutionSucceeded,
            Event::ExecutionFailed(_) => EventType::ExecutionFailed,
            Event::ExecutionAborted(_) => EventType::ExecutionAborted,
            Event::ExecutionTimedOut => EventType::ExecutionTimedOut,
            Event::ExecutionRedriven { .. } => EventType::ExecutionRedriven,
            Event::StateEntered { state_type, .. } => EventType::StateEntered(*state_type),
            Event::StateExited { state_type, .. } => EventType::StateExited(*state_type),
            Event::TaskScheduled(_) => EventType::TaskScheduled,
            Event::TaskStarted { .. } => EventType::TaskStarted,
            Event::TaskSubmitted { .. } => EventType::TaskSubmitted,
            Event::TaskSucceeded { .. } => EventType::TaskSucceeded,
            Event::TaskFailed { .. } => EventType::TaskFailed,
            Event::TaskTimedOut { .. } => EventType::TaskTimedOut,
            Event::ActivityScheduled(_) => EventType::ActivityScheduled,
            Event::ActivityStarted { .. } => EventType::ActivityStarted,
            Event::ActivitySucceeded { .. } => EventType::ActivitySucceeded,
            Event::ActivityFailed(_) => EventType::ActivityFailed,
            Event::ActivityTimedOut(_) => EventType::ActivityTimedOut,
            Event::LambdaFunctionScheduled { .. } => EventType::LambdaFunctionScheduled,
            Event::LambdaFunctionStarted => EventType::LambdaFunctionStarted,
            Event::LambdaFunctionSucceeded { .. } => EventType::LambdaFunctionSucceeded,
            Event::LambdaFunctionFailed(_) => EventType::LambdaFunctionFailed,
            Event::LambdaFunctionTimedOut(_) => EventType::LambdaFunctionTimedOut,
            Event::ParallelStateStarted => EventType::ParallelStateStarted,
            Event::ParallelStateSucceeded => EventType::ParallelStateSucceeded,
            Event::ParallelStateFailed => EventType::ParallelStateFailed,
            Event::MapStateStarted { .. } => EventType::MapStateStarted,
            Event::MapStateSucceeded => EventType::MapStateSucceeded,
            Event::MapStateFailed => EventType::MapStateFailed,
            Event::MapIterationStarted { .. } => EventType::MapIterationStarted,
            Event::MapIterationSucceeded { .. } => EventType::MapIterationSucceeded,
            Event::MapIterationFailed { .. } => EventType::MapIterationFailed,
            Event::MapIterationAborted { .. } => EventType::MapIterationAborted,
            Event::MapRunStarted { .. } => EventType::MapRunStarted,
            Event::MapRunSucceeded => EventType::MapRunSucceeded,
            Event::MapRunFailed(_) => EventType::MapRunFailed,
            Event::MapRunAborted => EventType::MapRunAborted,
            Event::MapRunRedriven { .. } => EventType::MapRunRedriven,
            Event::EvaluationFailed(_) => EventType::EvaluationFailed,
        }
    }
}

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based, in recording order.
    pub id: u64,
    /// The event this one follows in its branch of the execution (0 for none).
    pub previous_event_id: u64,
    /// When it happened.
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    pub timestamp: OffsetDateTime,
    /// What happened.
    pub event: Event,
}

impl HistoryEvent {
    /// The AWS event type.
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }
}

/// An append-only history shared by every branch of one execution.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: Arc<Mutex<Chunks>>,
}

/// How many events a chunk of a history holds at most.
const CHUNK: usize = 1024;

/// How many events the first chunk holds: a short execution (a Pass state records 4 events, a Task
/// state 7) keeps no room it will not use, which thousands of kept map-run children would multiply.
const FIRST_CHUNK: usize = 4;

/// Events in chunks, each as large as the events before it (from [`FIRST_CHUNK`] to [`CHUNK`]): a
/// history grows without moving what it holds (a `Vec` that doubles copies every event it has, and
/// asks the system for ever larger blocks).
#[derive(Debug, Default)]
struct Chunks {
    chunks: Vec<Vec<HistoryEvent>>,
    len: usize,
}

impl Chunks {
    fn push(&mut self, event: HistoryEvent) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < last.capacity() => last.push(event),
            _ => {
                let mut chunk = Vec::with_capacity(self.len.clamp(FIRST_CHUNK, CHUNK));
                chunk.push(event);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// The events after the first `start`, in order.
    fn from(&self, start: usize) -> impl Iterator<Item = &HistoryEvent> {
        let mut skip = start;
        self.chunks.iter().flat_map(move |chunk| {
            let from = skip.min(chunk.len());
            skip -= from;
            &chunk[from..]
        })
    }
}

impl History {
    /// Appends an event and returns its id.
    pub fn record(&self, previous_event_id: u64, event: Event) -> u64 {
        self.record_at(OffsetDateTime::now_utc(), previous_event_id, event)
    }

    /// Appends an event that happened at `timestamp` and returns its id.
    pub fn record_at(&self, timestamp: OffsetDateTime, previous_event_id: u64, event: Event) -> u64 {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let id = events.len as u64 + 1;
        events.push(HistoryEvent { id, previous_event_id, timestamp, event });
        id
    }

    /// A history that continues `events` (read back from a store).
    pub fn from_events(events: Vec<HistoryEvent>) -> History {
        let len = events.len();
        History { events: Arc::new(Mutex::new(Chunks { chunks: vec![events], len })) }
    }

    /// Appends events recorded elsewhere (a map-run child another engine ran), keeping their ids.
    pub(crate) fn append(&self, recorded: Vec<HistoryEvent>) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        for event in recorded {
            events.push(event);
        }
    }

    /// Keeps every payload as compact text, letting go of the values an execution shared with its
    /// events. For a history kept after its execution has ended (a value tree takes several times
    /// the memory of its text); reading and equality are unchanged.
    pub fn settle(&self) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = None;
        for event in events.chunks.iter_mut().flatten() {
            match &mut event.event {
                Event::StateEntered { input: payload, .. } | Event::StateExited { output: payload, .. } => {
                    payload.settle(&mut last)
                }
                _ => {}
            }
        }
    }

    /// A copy of the events after the first `start`.
    pub fn events_from(&self, start: usize) -> Vec<HistoryEvent> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut copy = Vec::with_capacity(events.len.saturating_sub(start));
        copy.extend(events.from(start).cloned());
        copy
    }

    /// A copy of every event so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events_from(0)
    }

    /// How many events there are.
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len
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
    /// A recorder appending to `history`; a disabled one records nothing and builds no event.
    pub fn new(history: History, enabled: bool) -> Recorder {
        Recorder { history, last: 0, enabled }
    }

    /// A recorder for a nested thread that continues from this one's last event.
    pub fn fork(&self) -> Recorder {
        self.clone()
    }

    /// Records an event; returns its id (0 when recording is off).
    pub fn record(&mut self, event: Event) -> u64 {
        self.record_with(|| event)
    }

    /// Records an event built only when recording is on; returns its id (0 when recording is off).
    pub fn record_with(&mut self, event: impl FnOnce() -> Event) -> u64 {
        if !self.enabled {
            return 0;
        }
        self.record_at(OffsetDateTime::now_utc(), event)
    }

    /// [`Recorder::record_with`] for an event that happened at `timestamp` (read by the caller, who
    /// needs it too).
    pub fn record_at(&mut self, timestamp: OffsetDateTime, event: impl FnOnce() -> Event) -> u64 {
        if !self.enabled {
            return 0;
        }
        let id = self.history.record_at(timestamp, self.last, event());
        self.last = id;
        id
    }

    /// True before the whole history's first event.
    pub fn history_is_empty(&self) -> bool {
        self.history.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(events: &[HistoryEvent]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn a_shared_payload_is_written_and_compared_as_its_compact_text() {
        let value = serde_json::json!({"b": [1, "two"], "a": null});
        let shared = Payload::shared(Arc::new(value.clone()));
        let text = Payload::of(&value);
        assert_eq!(shared.text(), r#"{"b":[1,"two"],"a":null}"#);
        assert_eq!(shared, text);
        assert_ne!(shared, Payload::of(&serde_json::json!({"b": [1, "two"]})));
        let written = serde_json::to_string(&shared).unwrap();
        assert_eq!(written, serde_json::to_string(&text).unwrap());
        let read: Payload = serde_json::from_str(&written).unwrap();
        assert_eq!(read, shared);
        assert_eq!(read.to_value(), value);
        assert_eq!(shared.to_value(), value);
    }

    #[test]
    fn event_type_names_are_the_variants_names() {
        use EventType as E;
        let plain = [
            E::ExecutionStarted,
            E::ExecutionSucceeded,
            E::ExecutionFailed,
            E::ExecutionAborted,
            E::ExecutionTimedOut,
            E::ExecutionRedriven,
            E::TaskScheduled,
            E::TaskStarted,
            E::TaskSubmitted,
            E::TaskSucceeded,
            E::TaskFailed,
            E::TaskTimedOut,
            E::ActivityScheduled,
            E::ActivityStarted,
            E::ActivitySucceeded,
            E::ActivityFailed,
            E::ActivityTimedOut,
            E::LambdaFunctionScheduled,
            E::LambdaFunctionStarted,
            E::LambdaFunctionSucceeded,
            E::LambdaFunctionFailed,
            E::LambdaFunctionTimedOut,
            E::ParallelStateStarted,
            E::ParallelStateSucceeded,
            E::ParallelStateFailed,
            E::MapStateStarted,
            E::MapStateSucceeded,
            E::MapStateFailed,
            E::MapIterationStarted,
            E::MapIterationSucceeded,
            E::MapIterationFailed,
            E::MapIterationAborted,
            E::MapRunStarted,
            E::MapRunSucceeded,
            E::MapRunFailed,
            E::MapRunAborted,
            E::MapRunRedriven,
            E::EvaluationFailed,
        ];
        for t in plain {
            assert_eq!(t.name(), format!("{t:?}"));
        }
        use StateType as S;
        for s in [S::Pass, S::Task, S::Choice, S::Wait, S::Succeed, S::Fail, S::Parallel, S::Map] {
            assert_eq!(E::StateEntered(s).name(), format!("{s:?}StateEntered"));
            assert_eq!(E::StateExited(s).name(), format!("{s:?}StateExited"));
        }
    }

    #[test]
    fn events_stay_small() {
        // A kept history holds many events; the largest details are boxed to keep each one small.
        assert!(std::mem::size_of::<Event>() <= 56, "{} bytes", std::mem::size_of::<Event>());
        assert!(std::mem::size_of::<HistoryEvent>() <= 88, "{} bytes", std::mem::size_of::<HistoryEvent>());
    }

    #[test]
    fn boxed_details_are_stored_as_the_fields_they_were() {
        // The form stores wrote when these details were fields of their variants.
        let stored = [
            r#"{"TaskScheduled":{"service":{"resource_type":"lambda","resource":"invoke"},"region":"us-east-1","parameters":"{\"a\":1}","timeout":30,"heartbeat":null}}"#,
            r#"{"ActivityScheduled":{"resource":"arn:aws:states:us-east-1:1:activity:a","input":"{}","timeout":null,"heartbeat":5}}"#,
            r#"{"EvaluationFailed":{"error":"States.QueryEvaluationError","cause":"c","location":"Arguments","state":"S"}}"#,
            r#"{"TaskFailed":{"service":{"resource_type":"http","resource":"invoke"},"error":{"error":"Boom"}}}"#,
            r#"{"StateExited":{"state_type":"Pass","name":"P","output":"1","assigned":[["x","2"]]}}"#,
        ];
        for text in stored {
            let event: Event = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(serde_json::to_string(&event).unwrap_or_default(), text);
        }
    }

    #[test]
    fn a_settled_history_reads_the_same_and_lets_the_shared_values_go() {
        let value = Arc::new(serde_json::json!({"id": "7", "name": "item-7"}));
        let history = History::default();
        let name: Arc<str> = "Echo".into();
        history.record(
            0,
            Event::StateEntered {
                state_type: StateType::Pass,
                name: name.clone(),
                input: Payload::shared(value.clone()),
            },
        );
        history.record(
            1,
            Event::StateExited {
                state_type: StateType::Pass,
                name,
                output: Payload::shared(value.clone()),
                assigned: None,
            },
        );
        let before = history.events();
        assert_eq!(Arc::strong_count(&value), 5);
        history.settle();
        assert_eq!(history.events(), before);
        drop(before);
        assert_eq!(Arc::strong_count(&value), 1, "the history holds text only");
        let events = history.events();
        let (Event::StateEntered { input, .. }, Event::StateExited { output, .. }) =
            (&events[0].event, &events[1].event)
        else {
            panic!("{events:?}");
        };
        let (Repr::Text(a), Repr::Text(b)) = (&input.0, &output.0) else { panic!("settled: {events:?}") };
        assert!(Arc::ptr_eq(a, b), "one value, written once, its text shared");
        let text = serde_json::to_string(&history.events()).unwrap();
        assert!(text.contains(r#"{\"id\":\"7\",\"name\":\"item-7\"}"#), "{text}");
    }

    #[test]
    fn a_short_history_keeps_no_room_it_will_not_use() {
        let history = History::default();
        let capacities = |h: &History| -> Vec<usize> {
            h.events.lock().unwrap().chunks.iter().map(Vec::capacity).collect::<Vec<_>>()
        };
        for n in 1..=FIRST_CHUNK as u64 {
            history.record(n - 1, Event::MapStateSucceeded);
        }
        assert_eq!(capacities(&history), [FIRST_CHUNK]);
        for n in FIRST_CHUNK as u64 + 1..=4 * FIRST_CHUNK as u64 + 1 {
            history.record(n - 1, Event::MapStateSucceeded);
        }
        // Each chunk as large as the events before it.
        assert_eq!(capacities(&history), [FIRST_CHUNK, FIRST_CHUNK, 2 * FIRST_CHUNK, 4 * FIRST_CHUNK]);
        assert_eq!(ids(&history.events()), (1..=4 * FIRST_CHUNK as u64 + 1).collect::<Vec<_>>());
    }

    #[test]
    fn a_history_longer_than_a_chunk_reads_back_in_order_from_anywhere() {
        let read = History::from_events(Vec::new());
        let history = History::from_events(
            (1..=3)
                .map(|id| HistoryEvent {
                    id,
                    previous_event_id: id - 1,
                    timestamp: OffsetDateTime::UNIX_EPOCH,
                    event: Event::ParallelStateStarted,
                })
                .collect(),
        );
        let total = 3 * CHUNK + 10;
        for n in 4..=total as u64 {
            assert_eq!(history.record(n - 1, Event::MapStateSucceeded), n);
        }
        assert_eq!(history.len(), total);
        assert_eq!(ids(&history.events()), (1..=total as u64).collect::<Vec<_>>());
        for start in [0, 2, 3, CHUNK, CHUNK + 3, 2 * CHUNK + 7, total - 1, total, total + 5] {
            let expected: Vec<u64> = (start as u64 + 1..=total as u64).collect();
            assert_eq!(ids(&history.events_from(start)), expected, "from {start}");
        }
        read.append(history.events_from(total - 2));
        assert_eq!(ids(&read.events()), [total as u64 - 1, total as u64]);
        assert!(History::default().is_empty());
    }
}
