//! `/console/executions/{executionArn}`: the execution's graph coloured by its history, its
//! summary, its map runs and the history table; the page polls itself while the execution runs.

use std::collections::HashMap;
use std::fmt::Write;

use serde_json::Value;

use super::{find_map_state, graph_panel, Page};
use crate::api::{Arn, Client};
use crate::colour::{read_history, StateRun, StateStatus};
use crate::escape::escape;
use crate::html::{
    badge, date, duration, elapsed_seconds, execution_href, facts, json_block, link, map_run_href, page,
    state_machine_href, text, value_block,
};

/// Most rows of the history table (the latest events; the colours use every event).
const HISTORY_ROWS: usize = 1000;

/// Renders the page of the execution `arn`.
pub async fn render(client: &Client<'_>, arn: &str) -> Page {
    let Some(parsed) = Arn::parse(arn).filter(|a| matches!(a.resource, "execution" | "express")) else {
        return Page::NotFound(format!("“{arn}” is not an execution ARN."));
    };
    let execution = match client.describe_execution(arn).await {
        Ok(e) => e,
        Err(e) => return Page::from_failure(e, arn),
    };
    let events = client.history(arn).await.unwrap_or_default();
    let definition = definition_for(client, &execution).await;
    let map_runs = client.map_runs(arn).await.unwrap_or_default();
    let status = text(&execution, "status");
    let reading = read_history(&events);
    let runs = &reading.runs;
    let name = text(&execution, "name");
    let machine_arn = text(&execution, "stateMachineArn");
    let machine_name = machine_arn.rsplit(':').next().unwrap_or(machine_arn);

    let parent = match execution.get("mapRunArn").and_then(Value::as_str) {
        Some(map_run) => client.describe_map_run(map_run).await.ok().map(|r| text(&r, "executionArn").to_owned()),
        None => None,
    };
    let mut body = String::new();
    body.push_str(&summary(&execution, parsed.name(), parent.as_deref()));
    let details = state_details(&definition, runs, status);
    let in_children: Vec<String> = crate::graph::Graph::from_text(&definition)
        .map(|g| g.child_execution_states().into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let colour = |n: &str| {
        if in_children.iter().any(|c| c == n) {
            return None;
        }
        Some(runs.get(n).map(|r| r.status(status)).unwrap_or(StateStatus::NotReached))
    };
    let captions = map_run_captions(client, &definition, &map_runs).await;
    let caption = |n: &str| captions.get(n).cloned();
    body.push_str(&graph_panel(&definition, &colour, &caption, &details));
    if !map_runs.is_empty() {
        body.push_str(&map_run_table(&map_runs));
    }
    body.push_str(&child_executions(&events));
    body.push_str(&io_panel(&execution));
    body.push_str(&history_table(&events, &reading.steps));

    let mut crumbs = vec![(machine_name.to_owned(), Some(state_machine_href(machine_arn)))];
    if let Some(map_run) = execution.get("mapRunArn").and_then(Value::as_str) {
        let label = Arn::parse(map_run).and_then(|a| a.map_run_label()).unwrap_or("map run");
        crumbs = vec![(format!("Map run {label}"), Some(map_run_href(map_run)))];
    }
    crumbs.push((name.to_owned(), None));
    Page::Ok(page(&format!("Execution {name}"), &crumbs, &body, status == "RUNNING"))
}

/// The definition the execution ran. A Distributed Map's child runs the Map state's item
/// processor: when DescribeStateMachineForExecution does not give it, it is read from the parent's
/// definition, by the map run's label.
async fn definition_for(client: &Client<'_>, execution: &Value) -> String {
    let arn = text(execution, "executionArn");
    if let Ok(machine) = client.machine_for_execution(arn).await {
        return text(&machine, "definition").to_owned();
    }
    let Some(map_run) = execution.get("mapRunArn").and_then(Value::as_str) else { return String::new() };
    let Some(label) = Arn::parse(map_run).and_then(|a| a.map_run_label()) else { return String::new() };
    let Ok(run) = client.describe_map_run(map_run).await else { return String::new() };
    let Ok(parent) = client.machine_for_execution(text(&run, "executionArn")).await else { return String::new() };
    serde_json::from_str::<Value>(text(&parent, "definition"))
        .ok()
        .and_then(|d| find_map_state(&d, label))
        .and_then(|state| state.get("ItemProcessor").or_else(|| state.get("Iterator")).cloned())
        .map(|processor| processor.to_string())
        .unwrap_or_default()
}

fn summary(execution: &Value, name: &str, parent: Option<&str>) -> String {
    let status = text(execution, "status");
    let start = execution.get("startDate");
    let stop = execution.get("stopDate");
    let took = elapsed_seconds(start, stop).map(duration).unwrap_or_default();
    let machine_arn = text(execution, "stateMachineArn");
    let mut rows = vec![
        ("Status", badge(status)),
        ("State machine", link(&state_machine_href(machine_arn), machine_arn)),
        ("Execution ARN", format!("<code>{}</code>", escape(text(execution, "executionArn")))),
        ("Started", escape(&date(start))),
        ("Stopped", if stop.is_some() { escape(&date(stop)) } else { String::new() }),
        ("Duration", escape(&if stop.is_some() { took } else { format!("{took} so far") })),
    ];
    if let Some(map_run) = execution.get("mapRunArn").and_then(Value::as_str) {
        rows.push(("Map run", link(&map_run_href(map_run), map_run)));
    }
    if let Some(parent) = parent.filter(|p| !p.is_empty()) {
        rows.push(("Parent execution", link(&execution_href(parent), parent)));
    }
    if let Some(starter) = started_by(execution) {
        rows.push(("Started by", link(&execution_href(&starter), &starter)));
    }
    if let Some(n) = execution.get("redriveCount").and_then(Value::as_u64).filter(|n| *n > 0) {
        rows.push(("Redriven", format!("{n} times")));
    }
    let mut out = format!(r#"<section class="card"><h1>{} {}</h1>{}"#, escape(name), badge(status), facts(&rows));
    let (error, cause) = (text(execution, "error"), text(execution, "cause"));
    if !error.is_empty() || !cause.is_empty() {
        let _ = write!(
            out,
            r#"<div class="error-box" id="execution-error"><div class="error-name">{}</div><pre class="cause">{}</pre></div>"#,
            escape(error),
            escape(cause)
        );
    }
    out.push_str("</section>");
    out
}

/// The hidden panel of each state, shown when the state is selected on the graph.
fn state_details(definition: &str, runs: &HashMap<String, StateRun>, status: &str) -> String {
    let names = crate::graph::Graph::from_text(definition)
        .map(|g| g.state_names().iter().map(|n| n.to_string()).collect())
        .unwrap_or_else(|_| Vec::<String>::new());
    let mut out = String::new();
    for name in &names {
        let run = runs.get(name).cloned().unwrap_or_default();
        let st = run.status(status);
        let _ = write!(
            out,
            r#"<div class="state-detail" data-state="{}" hidden><h2>{}</h2>{}"#,
            escape(name),
            escape(name),
            facts(&[
                (
                    "Status",
                    format!(
                        r#"<span class="legend"><span><i class="{}"></i>{}</span></span>"#,
                        st.css_class(),
                        st.label()
                    )
                ),
                ("Entered", run.entered.to_string()),
                ("Retries", if run.retries > 0 { run.retries.to_string() } else { String::new() }),
            ])
        );
        if let Some((error, cause)) = &run.error {
            let _ = write!(
                out,
                r#"<div class="error-box"><div class="error-name">{}</div><pre class="cause">{}</pre></div>"#,
                escape(error),
                escape(cause)
            );
        }
        match &run.input {
            Some(input) => {
                let _ = write!(out, "<h3>Input</h3>{}", json_block(input));
            }
            None => out.push_str(r#"<p class="muted">Not entered in this execution.</p>"#),
        }
        if let Some(output) = &run.output {
            let _ = write!(out, "<h3>Output</h3>{}", json_block(output));
        }
        out.push_str("</div>");
    }
    out
}

/// Per Map state name, its latest map run's item counts: `15 succeeded · 5 failed of 20 items`.
async fn map_run_captions(client: &Client<'_>, definition: &str, map_runs: &[Value]) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = HashMap::new();
    if let Ok(d) = serde_json::from_str::<Value>(definition) {
        map_labels(&d, &mut labels);
    }
    let mut out = HashMap::new();
    for run in map_runs {
        let arn = text(run, "mapRunArn");
        let Some(name) = Arn::parse(arn).and_then(|a| a.map_run_label()).and_then(|l| labels.get(l)) else { continue };
        let Ok(described) = client.describe_map_run(arn).await else { continue };
        let count = |k: &str| described.pointer(&format!("/itemCounts/{k}")).and_then(Value::as_u64).unwrap_or(0);
        let failed = count("failed") + count("timedOut") + count("aborted");
        out.insert(
            name.clone(),
            format!("{} succeeded · {failed} failed of {} items", count("succeeded"), count("total")),
        );
    }
    out
}

/// Map states by the label their map runs carry (`Label`, or the state's name).
fn map_labels(scope: &Value, out: &mut HashMap<String, String>) {
    let Some(states) = scope.get("States").and_then(Value::as_object) else { return };
    for (name, state) in states {
        if state.get("Type").and_then(Value::as_str) == Some("Map") {
            let label = state.get("Label").and_then(Value::as_str).unwrap_or(name);
            out.insert(label.to_owned(), name.clone());
        }
        for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
            map_labels(branch, out);
        }
        if let Some(processor) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            map_labels(processor, out);
        }
    }
}

/// The execution that started this one through the `states:startExecution` integration, which
/// passes its ARN as `AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID` in the input (AWS's convention
/// for nested workflows).
fn started_by(execution: &Value) -> Option<String> {
    let input: Value = serde_json::from_str(execution.get("input")?.as_str()?).ok()?;
    let arn = input.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")?.as_str()?;
    Arn::parse(arn).filter(|a| a.resource == "execution").map(|_| arn.to_owned())
}

/// Executions this one started through `states:startExecution` tasks: the `ExecutionArn` of a
/// task's output (StartExecution's answer, or DescribeExecution's for `.sync`).
fn child_executions(events: &[Value]) -> String {
    let mut children: Vec<String> = Vec::new();
    for event in events.iter().filter(|e| text(e, "type").starts_with("Task")) {
        let output = event
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v))
            .and_then(|d| d.get("output"))
            .and_then(Value::as_str)
            .and_then(|o| serde_json::from_str::<Value>(o).ok());
        let arn = output.as_ref().and_then(|o| o.get("ExecutionArn")).and_then(Value::as_str);
        if let Some(arn) = arn.filter(|a| Arn::parse(a).is_some_and(|p| p.resource == "execution")) {
            if !children.iter().any(|c| c == arn) {
                children.push(arn.to_owned());
            }
        }
    }
    if children.is_empty() {
        return String::new();
    }
    let rows: String = children.iter().map(|arn| format!("<li>{}</li>", link(&execution_href(arn), arn))).collect();
    format!(r#"<section class="card" id="child-executions"><h2>Child executions</h2><ul>{rows}</ul></section>"#)
}

fn map_run_table(map_runs: &[Value]) -> String {
    let mut out = String::from(
        r#"<section class="card" id="map-runs"><h2>Map runs</h2><table><tr><th>Map run</th><th>Started</th><th>Stopped</th></tr>"#,
    );
    for run in map_runs {
        let arn = text(run, "mapRunArn");
        let label = Arn::parse(arn).and_then(|a| a.map_run_label()).unwrap_or(arn);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            link(&map_run_href(arn), &format!("{label} ({})", Arn::parse(arn).map(|a| a.name()).unwrap_or(""))),
            escape(&date(run.get("startDate"))),
            escape(&date(run.get("stopDate")))
        );
    }
    out.push_str("</table></section>");
    out
}

fn io_panel(execution: &Value) -> String {
    let mut out = String::from(r#"<div class="row">"#);
    for (title, key) in [("Execution input", "input"), ("Execution output", "output")] {
        if let Some(payload) = execution.get(key).and_then(Value::as_str) {
            let _ = write!(out, r#"<section class="card grow"><h2>{title}</h2>{}</section>"#, json_block(payload));
        }
    }
    out.push_str("</div>");
    out
}

fn history_table(events: &[Value], steps: &[Option<String>]) -> String {
    let start = events.first().and_then(|e| crate::html::epoch(e.get("timestamp")));
    let skipped = events.len().saturating_sub(HISTORY_ROWS);
    let shown = if skipped > 0 {
        format!("the latest {HISTORY_ROWS} of {} events", events.len())
    } else {
        format!("{} events", events.len())
    };
    let mut out = format!(
        r#"<section class="card"><h2>Event history <span class="muted">({shown})</span></h2><table class="history"><tr><th>ID</th><th>Type</th><th>Step</th><th>Elapsed</th><th>Details</th></tr>"#
    );
    for (i, event) in events.iter().enumerate().skip(skipped) {
        let kind = text(event, "type");
        let class = if kind.ends_with("Failed") || kind.ends_with("TimedOut") || kind.ends_with("Aborted") {
            "t-failed"
        } else if kind.ends_with("Succeeded") {
            "t-succeeded"
        } else {
            ""
        };
        let elapsed = match (start, crate::html::epoch(event.get("timestamp"))) {
            (Some(s), Some(t)) => format!("{} ms", (t - s).whole_milliseconds()),
            _ => String::new(),
        };
        let details =
            event.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, v)| v));
        let details_html = match details {
            Some(d) => format!(
                r#"<details id="event-{}"><summary>{}</summary>{}</details>"#,
                event.get("id").and_then(Value::as_u64).unwrap_or(0),
                escape(&summary_line(d)),
                value_block(&expand_payloads(d))
            ),
            None => String::new(),
        };
        let step = steps.get(i).cloned().flatten().unwrap_or_default();
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="{class}">{}</td><td>{}</td><td class="num">{}</td><td>{details_html}</td></tr>"#,
            event.get("id").and_then(Value::as_u64).unwrap_or(0),
            escape(kind),
            escape(&step),
            escape(&elapsed),
        );
    }
    out.push_str("</table></section>");
    out
}

/// The first line of an event's details: its error, its resource, or its members' names.
fn summary_line(details: &Value) -> String {
    let s = |k: &str| details.get(k).and_then(Value::as_str).unwrap_or("");
    if !s("error").is_empty() {
        let cause: String = s("cause").chars().take(100).collect();
        return format!("{}: {cause}", s("error"));
    }
    for key in ["resource", "name", "mapRunArn", "executionArn"] {
        if !s(key).is_empty() {
            return s(key).to_owned();
        }
    }
    details.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

/// Details with `input`/`output` members (JSON text) shown as the JSON they hold.
fn expand_payloads(details: &Value) -> Value {
    let mut out = details.clone();
    if let Some(obj) = out.as_object_mut() {
        for (key, value) in obj.iter_mut() {
            if matches!(key.as_str(), "input" | "output" | "parameters") {
                if let Some(parsed) = value.as_str().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
                    *value = parsed;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_executions_link_both_ways() {
        let child = "arn:aws:states:us-east-1:123456789012:execution:child:run-1";
        let events = vec![
            json!({"id": 1, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": format!(r#"{{"ExecutionArn":"{child}","StartDate":"x"}}"#)}}),
            json!({"id": 2, "type": "TaskSucceeded", "taskSucceededEventDetails": {"output": r#"{"ExecutionArn":"<b>"}"#}}),
        ];
        let html = child_executions(&events);
        assert!(html.contains(&execution_href(child)), "{html}");
        assert!(!html.contains("&lt;b&gt;") && !html.contains("<b>"));
        let started = json!({"input": format!(r#"{{"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "{child}"}}"#)});
        assert_eq!(started_by(&started).as_deref(), Some(child));
        assert_eq!(started_by(&json!({"input": "[]"})), None);
    }
}
