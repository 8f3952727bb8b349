//! `/console/state-machines/{stateMachineArn}`: the definition's graph and the latest executions.

use std::fmt::Write;

use super::{graph_panel, Page};
use crate::api::{Arn, Client};
use crate::escape::escape;
use serde_json::Value;

use crate::html::{badge, date, duration, elapsed_seconds, execution_href, facts, link, page, text, value_block};

/// Renders the page of the state machine `arn`.
pub async fn render(client: &Client<'_>, arn: &str) -> Page {
    if Arn::parse(arn).filter(|a| a.resource == "stateMachine").is_none() {
        return Page::NotFound(format!("“{arn}” is not a state machine ARN."));
    }
    let machine = match client.describe_state_machine(arn).await {
        Ok(m) => m,
        Err(e) => return Page::from_failure(e, arn),
    };
    let executions = client.executions("stateMachineArn", arn, None, 100).await.unwrap_or_default();
    let name = text(&machine, "name");
    let mut body = format!(
        r#"<section class="card"><h1>{}</h1>{}</section>"#,
        escape(name),
        facts(&[
            ("Type", escape(text(&machine, "type"))),
            ("ARN", format!("<code>{}</code>", escape(arn))),
            ("Created", escape(&date(machine.get("creationDate")))),
            ("Revision", escape(text(&machine, "revisionId"))),
        ])
    );
    let definition = text(&machine, "definition");
    body.push_str(&graph_panel(definition, &|_| None, &|_| None, &state_definitions(definition)));
    body.push_str(r#"<section class="card"><h2>Executions</h2><table id="executions"><tr><th>Execution</th><th>Status</th><th>Started</th><th>Duration</th></tr>"#);
    for e in &executions {
        let took = elapsed_seconds(e.get("startDate"), e.get("stopDate")).map(duration).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            link(&execution_href(text(e, "executionArn")), text(e, "name")),
            badge(text(e, "status")),
            escape(&date(e.get("startDate"))),
            escape(&took)
        );
    }
    body.push_str("</table></section>");
    let running = executions.iter().any(|e| text(e, "status") == "RUNNING");
    Page::Ok(page(&format!("State machine {name}"), &[(name.to_owned(), None)], &body, running))
}

/// The hidden panel of each state: its definition, shown when the state is selected on the graph.
fn state_definitions(definition: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(definition) else { return String::new() };
    let mut found = Vec::new();
    collect_states(&value, &mut found);
    found
        .iter()
        .map(|(name, state)| {
            format!(
                r#"<div class="state-detail" data-state="{}" hidden><h2>{}</h2>{}</div>"#,
                escape(name),
                escape(name),
                value_block(state)
            )
        })
        .collect()
}

fn collect_states(scope: &Value, out: &mut Vec<(String, Value)>) {
    let Some(states) = scope.get("States").and_then(Value::as_object) else { return };
    for (name, state) in states {
        out.push((name.clone(), state.clone()));
        for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
            collect_states(branch, out);
        }
        if let Some(processor) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) {
            collect_states(processor, out);
        }
    }
}
