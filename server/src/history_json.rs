//! History events in AWS's JSON shapes, as GetExecutionHistory returns them: the details under
//! `<type>EventDetails`, payloads as strings beside `…Details: {"truncated": false}`.
//!
//! The engine records typed events ([`HistoryEvent`]); they take this shape only here, when a
//! client, `legion run --history` or the conformance harness reads them.

use legion_engine::history::{ErrorDetails, Event, EventType, HistoryEvent, Payload, ServiceResource};
use serde_json::{json, Map, Value};

/// The event as GetExecutionHistory returns it (timestamps as epoch seconds).
pub fn event(e: &HistoryEvent) -> Value {
    let mut out = Map::new();
    out.insert("timestamp".into(), json!(e.timestamp.unix_timestamp_nanos() as f64 / 1e9));
    out.insert("type".into(), json!(e.event_type().name()));
    out.insert("id".into(), json!(e.id));
    out.insert("previousEventId".into(), json!(e.previous_event_id));
    if let Some(d) = details(&e.event) {
        out.insert(details_key(e.event_type()), d);
    }
    Value::Object(out)
}

/// The event's details object as AWS shapes it, if its type has one.
pub fn details(event: &Event) -> Option<Value> {
    members(event).map(|d| Value::Object(d.0))
}

/// The member that holds an event's details (`passStateEnteredEventDetails` is
/// `stateEnteredEventDetails` for every state type).
fn details_key(t: EventType) -> String {
    match t {
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

/// A details object under construction, members in AWS's order.
#[derive(Default)]
struct Details(Map<String, Value>);

impl Details {
    fn with(mut self, key: &str, value: impl Into<Value>) -> Details {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    fn with_opt(self, key: &str, value: Option<impl Into<Value>>) -> Details {
        match value {
            Some(v) => self.with(key, v),
            None => self,
        }
    }

    /// A payload member and its `…Details` beside it.
    fn payload(self, key: &str, payload: &Payload) -> Details {
        self.with(key, payload.text()).with(&format!("{key}Details"), json!({"truncated": false}))
    }

    fn error(self, e: &ErrorDetails) -> Details {
        self.with_opt("error", e.error.clone()).with_opt("cause", e.cause.clone())
    }

    fn service(self, s: &ServiceResource) -> Details {
        self.with("resourceType", &*s.resource_type).with("resource", &*s.resource)
    }
}

fn members(event: &Event) -> Option<Details> {
    let d = Details::default();
    Some(match event {
        Event::ExecutionStarted { input, role_arn } => d.with("roleArn", &**role_arn).payload("input", input),
        Event::ExecutionSucceeded { output }
        | Event::ActivitySucceeded { output }
        | Event::LambdaFunctionSucceeded { output } => d.payload("output", output),
        Event::ExecutionFailed(e)
        | Event::ExecutionAborted(e)
        | Event::ActivityFailed(e)
        | Event::ActivityTimedOut(e)
        | Event::LambdaFunctionFailed(e)
        | Event::LambdaFunctionTimedOut(e) => d.error(e),
        Event::MapRunFailed(e) => {
            d.with("error", e.error.clone().unwrap_or_default()).with_opt("cause", e.cause.clone())
        }
        Event::ExecutionTimedOut => d,
        Event::ExecutionRedriven { redrive_count } => d.with("redriveCount", *redrive_count),
        Event::StateEntered { name, input, .. } => d.with("name", &**name).payload("input", input),
        Event::StateExited { name, output, assigned, .. } => {
            let mut d = d.with("name", &**name);
            if let Some(assigned) = assigned {
                let vars: Map<String, Value> =
                    assigned.iter().map(|(k, v)| (k.clone(), Value::String(v.text().into_owned()))).collect();
                d = d.with("assignedVariables", vars).with("assignedVariablesDetails", json!({"truncated": false}));
            }
            d.payload("output", output)
        }
        Event::TaskScheduled(t) => d
            .service(&t.service)
            .with("region", t.region.as_str())
            .with("parameters", t.parameters.text())
            .with_opt("timeoutInSeconds", t.timeout)
            .with_opt("heartbeatInSeconds", t.heartbeat),
        Event::TaskStarted { service } => d.service(service),
        Event::TaskSubmitted { service, output } | Event::TaskSucceeded { service, output } => {
            d.service(service).payload("output", output)
        }
        Event::TaskFailed { service, error } | Event::TaskTimedOut { service, error } => {
            d.error(error).service(service)
        }
        Event::ActivityScheduled(a) => d
            .with("resource", &*a.resource)
            .with_opt("timeoutInSeconds", a.timeout)
            .with_opt("heartbeatInSeconds", a.heartbeat)
            .payload("input", &a.input),
        Event::ActivityStarted { worker_name } => d.with_opt("workerName", worker_name.clone()),
        Event::LambdaFunctionScheduled { resource, input, timeout } => {
            d.with("resource", &**resource).with_opt("timeoutInSeconds", *timeout).payload("input", input)
        }
        Event::MapStateStarted { length } => d.with("length", *length),
        Event::MapIterationStarted { index, name }
        | Event::MapIterationSucceeded { index, name }
        | Event::MapIterationFailed { index, name }
        | Event::MapIterationAborted { index, name } => d.with("index", *index).with("name", &**name),
        Event::MapRunStarted { map_run_arn } => d.with("mapRunArn", map_run_arn.as_str()),
        Event::MapRunRedriven { map_run_arn, redrive_count } => {
            d.with("mapRunArn", map_run_arn.as_str()).with("redriveCount", *redrive_count)
        }
        Event::EvaluationFailed(e) => d
            .with("error", e.error.as_str())
            .with("cause", e.cause.as_str())
            .with("location", e.location.as_str())
            .with("state", e.state.as_str()),
        Event::LambdaFunctionStarted
        | Event::ParallelStateStarted
        | Event::ParallelStateSucceeded
        | Event::ParallelStateFailed
        | Event::MapStateSucceeded
        | Event::MapStateFailed
        | Event::MapRunSucceeded
        | Event::MapRunAborted => return None,
        // `Event` may grow; an event type the server does not know yet shows without details.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use legion_engine::history::StateType;

    fn recorded(event: Event) -> HistoryEvent {
        HistoryEvent { id: 2, previous_event_id: 1, timestamp: time::OffsetDateTime::UNIX_EPOCH, event }
    }

    #[test]
    fn payloads_are_strings_beside_their_details() {
        let e = recorded(Event::StateEntered {
            state_type: StateType::Pass,
            name: "P".into(),
            input: Payload::of(&json!({"a": [1, 2]})),
        });
        assert_eq!(
            event(&e),
            json!({"timestamp": 0.0, "type": "PassStateEntered", "id": 2, "previousEventId": 1,
                "stateEnteredEventDetails": {"name": "P", "input": "{\"a\":[1,2]}", "inputDetails": {"truncated": false}}})
        );
    }

    #[test]
    fn task_failures_put_the_error_before_the_resource() {
        let service = ServiceResource { resource_type: "lambda".into(), resource: "invoke".into() };
        let e = recorded(Event::TaskFailed { service, error: Box::new(ErrorDetails::new("Boom", None)) });
        let text = serde_json::to_string(&details(&e.event)).unwrap_or_default();
        assert_eq!(text, r#"{"error":"Boom","resourceType":"lambda","resource":"invoke"}"#);
    }

    #[test]
    fn events_round_trip_through_their_own_serialisation() {
        let e = recorded(Event::StateExited {
            state_type: StateType::Task,
            name: "T".into(),
            output: Payload::of(&json!(1)),
            assigned: Some(Box::new([("x".into(), Payload::of(&json!("y")))])),
        });
        let text = serde_json::to_string(&e).unwrap_or_default();
        let back: HistoryEvent = serde_json::from_str(&text).expect("it parses");
        assert_eq!(back, e);
        assert_eq!(event(&back), event(&e));
    }
}
