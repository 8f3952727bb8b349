//! What happened to each state of an execution, read from its history as GetExecutionHistory
//! returns it (AWS event types: `TaskStateEntered`, `TaskFailed`, `MapStateExited`…).
//!
//! Events are attributed to states through `previousEventId`: an event belongs to the innermost
//! state open just before it, so the interleaved events of Parallel branches and Map iterations
//! land on the right states.

use std::collections::HashMap;

use serde_json::Value;

/// A state's colour in an execution's graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateStatus {
    /// Never entered.
    NotReached,
    /// Entered and not yet left while the execution runs.
    Running,
    /// Left normally, without a failure.
    Succeeded,
    /// Left normally after at least one failed attempt that Retry retried.
    Retried,
    /// Failed and a Catcher took over.
    Caught,
    /// Failed (a Fail state, or a failure that ended the execution).
    Failed,
    /// Still open when the execution was stopped or timed out.
    Aborted,
}

impl StateStatus {
    /// The CSS class of a state with this status.
    pub fn css_class(self) -> &'static str {
        match self {
            StateStatus::NotReached => "st-not-reached",
            StateStatus::Running => "st-running",
            StateStatus::Succeeded => "st-succeeded",
            StateStatus::Retried => "st-retried",
            StateStatus::Caught => "st-caught",
            StateStatus::Failed => "st-failed",
            StateStatus::Aborted => "st-aborted",
        }
    }

    /// The words shown for it.
    pub fn label(self) -> &'static str {
        match self {
            StateStatus::NotReached => "Not reached",
            StateStatus::Running => "Running",
            StateStatus::Succeeded => "Succeeded",
            StateStatus::Retried => "Succeeded after retry",
            StateStatus::Caught => "Caught",
            StateStatus::Failed => "Failed",
            StateStatus::Aborted => "Stopped",
        }
    }

    /// Every status, in legend order.
    pub const ALL: [StateStatus; 7] = [
        StateStatus::Succeeded,
        StateStatus::Retried,
        StateStatus::Caught,
        StateStatus::Failed,
        StateStatus::Running,
        StateStatus::Aborted,
        StateStatus::NotReached,
    ];
}

/// What the history says about one state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateRun {
    /// `…StateEntered` events.
    pub entered: u32,
    /// `…StateExited` events.
    pub exited: u32,
    /// Failure events (`TaskFailed`, `LambdaFunctionTimedOut`, `MapRunFailed`…).
    pub failures: u32,
    /// Failures followed by another attempt in the same visit.
    pub retries: u32,
    /// Visits left after a failure that no later attempt undid (a Catcher took over).
    pub caught: u32,
    /// A `FailStateEntered`.
    pub fail_state: bool,
    /// The input of the latest visit (`stateEnteredEventDetails.input`).
    pub input: Option<String>,
    /// The output of the latest visit (`stateExitedEventDetails.output`).
    pub output: Option<String>,
    /// The error and cause of the latest failure.
    pub error: Option<(String, String)>,
    /// Whether the latest failure has not been followed by another attempt.
    unresolved_failure: bool,
}

impl StateRun {
    /// The colour, given the execution's status (`RUNNING`, `SUCCEEDED`, `FAILED`…).
    pub fn status(&self, execution_status: &str) -> StateStatus {
        if self.entered == 0 {
            return StateStatus::NotReached;
        }
        if self.fail_state {
            return StateStatus::Failed;
        }
        if self.entered > self.exited {
            return match execution_status {
                "RUNNING" => StateStatus::Running,
                "ABORTED" | "TIMED_OUT" if self.failures == 0 => StateStatus::Aborted,
                _ => StateStatus::Failed,
            };
        }
        if self.caught > 0 {
            StateStatus::Caught
        } else if self.retries > 0 {
            StateStatus::Retried
        } else {
            StateStatus::Succeeded
        }
    }
}

/// Per state name, what its events say. State names are unique within a definition, nested
/// scopes included, so a name identifies a state.
pub fn state_runs(events: &[Value]) -> HashMap<String, StateRun> {
    read_history(events).runs
}

/// What a history says, per state and per event.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// Per state name.
    pub runs: HashMap<String, StateRun>,
    /// Per event, in order: the state it belongs to (the history table's "step").
    pub steps: Vec<Option<String>>,
}

/// Reads a history (GetExecutionHistory's `events`, oldest first).
pub fn read_history(events: &[Value]) -> Reading {
    let mut runs: HashMap<String, StateRun> = HashMap::new();
    let mut steps = Vec::with_capacity(events.len());
    // For each event id: the name of the innermost state open right after it, and the entered-event
    // id of that state's parent.
    let mut open_after: HashMap<u64, Option<String>> = HashMap::new();
    let mut parent_of: HashMap<String, Vec<Option<String>>> = HashMap::new();
    let mut kinds: HashMap<String, String> = HashMap::new();
    for event in events {
        let id = event.get("id").and_then(Value::as_u64).unwrap_or(0);
        let previous = event.get("previousEventId").and_then(Value::as_u64).unwrap_or(0);
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        let before = open_after.get(&previous).cloned().flatten();
        let after = if kind.ends_with("StateEntered") {
            let name = state_name(event, "stateEnteredEventDetails");
            steps.push(name.clone());
            if let Some(name) = &name {
                parent_of.entry(name.clone()).or_default().push(before.clone());
                kinds.insert(name.clone(), kind.trim_end_matches("StateEntered").to_owned());
                let run = runs.entry(name.clone()).or_default();
                run.entered += 1;
                run.unresolved_failure = false;
                run.fail_state |= kind == "FailStateEntered";
                run.input = payload(event, "stateEnteredEventDetails", "input").or(run.input.take());
            }
            name
        } else if kind.ends_with("StateExited") {
            let name = state_name(event, "stateExitedEventDetails").or(before);
            steps.push(name.clone());
            if let Some(name) = &name {
                let run = runs.entry(name.clone()).or_default();
                run.exited += 1;
                if std::mem::take(&mut run.unresolved_failure) {
                    run.caught += 1;
                }
                run.output = payload(event, "stateExitedEventDetails", "output").or(run.output.take());
            }
            name.and_then(|n| parent_of.get_mut(&n).and_then(Vec::pop)).flatten()
        } else {
            let owner = owner(kind, before, &kinds, &parent_of);
            steps.push(owner.clone());
            if let Some(run) = owner.as_ref().and_then(|name| runs.get_mut(name)) {
                note_event(run, kind, event);
            }
            owner
        };
        open_after.insert(id, after);
    }
    Reading { runs, steps }
}

/// The state an event other than entered/exited belongs to: the innermost open state, or for a
/// `Parallel…`/`Map…` event the innermost open Parallel or Map state around it.
fn owner(
    kind: &str,
    innermost: Option<String>,
    kinds: &HashMap<String, String>,
    parent_of: &HashMap<String, Vec<Option<String>>>,
) -> Option<String> {
    let wanted = ["Parallel", "Map"].into_iter().find(|prefix| kind.starts_with(prefix));
    let Some(wanted) = wanted else { return innermost };
    let mut current = innermost;
    for _ in 0..256 {
        let name = current?;
        if kinds.get(&name).map(String::as_str) == Some(wanted) {
            return Some(name);
        }
        current = parent_of.get(&name).and_then(|stack| stack.last().cloned()).flatten();
    }
    None
}

fn note_event(run: &mut StateRun, kind: &str, event: &Value) {
    let is_failure = !kind.starts_with("Execution")
        && !kind.starts_with("MapIteration")
        && (kind.ends_with("Failed") || kind.ends_with("TimedOut"));
    let is_attempt = kind.ends_with("Scheduled") || kind.ends_with("Started") && !kind.starts_with("Map");
    if is_failure {
        run.failures += 1;
        run.unresolved_failure = true;
        let (error, cause) = error_and_cause(event);
        if !error.is_empty() || run.error.is_none() {
            run.error = Some((error, cause));
        }
    } else if is_attempt && run.unresolved_failure {
        run.retries += 1;
        run.unresolved_failure = false;
    }
}

fn state_name(event: &Value, details: &str) -> Option<String> {
    event.get(details)?.get("name")?.as_str().map(str::to_owned)
}

fn payload(event: &Value, details: &str, member: &str) -> Option<String> {
    event.get(details)?.get(member)?.as_str().map(str::to_owned)
}

/// The `error` and `cause` of whichever `…EventDetails` member the event has.
pub fn error_and_cause(event: &Value) -> (String, String) {
    let details = event.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v));
    let text = |key: &str| details.and_then(|d| d.get(key)).and_then(Value::as_str).unwrap_or("").to_owned();
    (text("error"), text("cause"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Events with ids from 1, each following the one given (0: the previous event).
    fn history(events: &[(&str, u64, Value)]) -> Vec<Value> {
        events
            .iter()
            .enumerate()
            .map(|(i, (kind, prev, details))| {
                let id = i as u64 + 1;
                let previous = if *prev == 0 { id - 1 } else { *prev };
                let mut e = json!({"id": id, "previousEventId": previous, "type": kind, "timestamp": 0});
                if let Some(obj) = details.as_object() {
                    for (k, v) in obj {
                        e[k] = v.clone();
                    }
                }
                e
            })
            .collect()
    }

    fn entered(name: &str) -> Value {
        json!({"stateEnteredEventDetails": {"name": name, "input": "{}"}})
    }

    fn exited(name: &str) -> Value {
        json!({"stateExitedEventDetails": {"name": name, "output": format!("\"{name} out\"")}})
    }

    fn none() -> Value {
        json!({})
    }

    #[test]
    fn success_retry_catch_and_fail_are_told_apart() {
        let failed = json!({"taskFailedEventDetails": {"error": "Boom", "cause": "it broke"}});
        let events = history(&[
            ("ExecutionStarted", 0, none()),
            ("TaskStateEntered", 0, entered("Fetch")),
            ("TaskScheduled", 0, none()),
            ("TaskFailed", 0, failed.clone()),
            ("TaskScheduled", 0, none()),
            ("TaskSucceeded", 0, none()),
            ("TaskStateExited", 0, exited("Fetch")),
            ("TaskStateEntered", 0, entered("Store")),
            ("TaskScheduled", 0, none()),
            ("TaskFailed", 0, failed),
            ("TaskStateExited", 0, exited("Store")),
            ("PassStateEntered", 0, entered("Recover")),
            ("PassStateExited", 0, exited("Recover")),
            ("FailStateEntered", 0, entered("Give up")),
            ("ExecutionFailed", 0, none()),
        ]);
        let runs = state_runs(&events);
        let status = |n: &str| runs.get(n).cloned().unwrap_or_default().status("FAILED");
        assert_eq!(status("Fetch"), StateStatus::Retried);
        assert_eq!(status("Store"), StateStatus::Caught);
        assert_eq!(status("Recover"), StateStatus::Succeeded);
        assert_eq!(status("Give up"), StateStatus::Failed);
        assert_eq!(status("Never"), StateStatus::NotReached);
        assert_eq!(runs["Store"].error, Some(("Boom".into(), "it broke".into())));
        assert_eq!(runs["Recover"].output.as_deref(), Some("\"Recover out\""));
    }

    #[test]
    fn an_open_state_runs_fails_or_stops_with_the_execution() {
        let events = history(&[("ExecutionStarted", 0, none()), ("WaitStateEntered", 0, entered("Pause"))]);
        let run = &state_runs(&events)["Pause"];
        assert_eq!(run.status("RUNNING"), StateStatus::Running);
        assert_eq!(run.status("ABORTED"), StateStatus::Aborted);
        assert_eq!(run.status("FAILED"), StateStatus::Failed);
    }

    #[test]
    fn interleaved_parallel_branches_are_attributed_through_previous_event_ids() {
        let failed = json!({"taskFailedEventDetails": {"error": "E", "cause": "c"}});
        // 2 Parallel entered, 3 started; branch A: 4 entered (prev 3); branch B: 5 entered (prev 3);
        // 6 TaskScheduled in A (prev 4); 7 TaskScheduled in B (prev 5); 8 TaskFailed in B (prev 7);
        // 9 A exits (prev 6); 10 ParallelStateFailed (prev 8); 11 Parallel exits (caught).
        let events = history(&[
            ("ExecutionStarted", 0, none()),
            ("ParallelStateEntered", 1, entered("Both")),
            ("ParallelStateStarted", 2, none()),
            ("TaskStateEntered", 3, entered("A")),
            ("TaskStateEntered", 3, entered("B")),
            ("TaskScheduled", 4, none()),
            ("TaskScheduled", 5, none()),
            ("TaskFailed", 7, failed.clone()),
            ("TaskStateExited", 6, exited("A")),
            ("ParallelStateFailed", 8, failed),
            ("ParallelStateExited", 10, exited("Both")),
            ("PassStateEntered", 11, entered("Handler")),
        ]);
        let runs = state_runs(&events);
        assert_eq!(runs["A"].status("RUNNING"), StateStatus::Succeeded);
        assert_eq!(runs["A"].failures, 0);
        assert_eq!(runs["B"].status("RUNNING"), StateStatus::Running, "B never exited");
        assert_eq!(runs["B"].status("FAILED"), StateStatus::Failed);
        assert_eq!(runs["Both"].status("RUNNING"), StateStatus::Caught);
        assert_eq!(runs["Handler"].status("RUNNING"), StateStatus::Running);
    }

    #[test]
    fn map_iterations_do_not_count_as_failures_of_the_map_but_a_map_run_failure_does() {
        let events = history(&[
            ("ExecutionStarted", 0, none()),
            ("MapStateEntered", 0, entered("Each")),
            ("MapStateStarted", 0, none()),
            ("MapRunStarted", 0, none()),
            (
                "MapRunFailed",
                0,
                json!({"mapRunFailedEventDetails": {"error": "States.ExceedToleratedFailureThreshold", "cause": "too many"}}),
            ),
            ("MapStateFailed", 0, none()),
            ("ExecutionFailed", 0, none()),
        ]);
        let run = &state_runs(&events)["Each"];
        assert_eq!(run.status("FAILED"), StateStatus::Failed);
        assert_eq!(run.error.as_ref().unwrap().0, "States.ExceedToleratedFailureThreshold");
        let ok = history(&[
            ("MapStateEntered", 0, entered("Each")),
            ("MapStateStarted", 0, none()),
            ("MapIterationStarted", 0, none()),
            ("MapIterationFailed", 0, none()),
            ("MapStateSucceeded", 0, none()),
            ("MapStateExited", 0, exited("Each")),
        ]);
        assert_eq!(state_runs(&ok)["Each"].status("SUCCEEDED"), StateStatus::Succeeded);
    }
}
