//! `/console/`: the state machines with their latest executions, and recent executions across
//! machines, filterable by status (`?status=FAILED`).

use std::fmt::Write;

use serde_json::Value;

use super::Page;
use crate::api::Client;
use crate::escape::escape;
use crate::html::{
    badge, date, duration, elapsed_seconds, epoch, execution_href, link, page, state_machine_href, text,
};

/// The statuses ListExecutions filters by.
pub const STATUSES: [&str; 6] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];
/// Executions shown in the recent list.
const RECENT: usize = 50;
/// Latest executions shown per state machine.
const LATEST: usize = 5;

/// Renders the home page; `status` (one of [`STATUSES`]) filters the recent executions.
pub async fn render(client: &Client<'_>, status: Option<&str>) -> Page {
    let status = status.filter(|s| STATUSES.contains(s));
    let machines = match client.state_machines().await {
        Ok(m) => m,
        Err(e) => return Page::Failed(e),
    };
    let mut machine_rows = String::new();
    let mut recent: Vec<Value> = Vec::new();
    for machine in &machines {
        let arn = text(machine, "stateMachineArn");
        let all = client.executions("stateMachineArn", arn, None, RECENT as u32).await.unwrap_or_default();
        let latest = &all[..all.len().min(LATEST)];
        let badges: String = latest
            .iter()
            .map(|e| {
                format!(
                    r#"<a href="{}" title="{}">{}</a> "#,
                    escape(&execution_href(text(e, "executionArn"))),
                    escape(text(e, "name")),
                    badge(text(e, "status"))
                )
            })
            .collect();
        let _ = write!(
            machine_rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            link(&state_machine_href(arn), text(machine, "name")),
            escape(text(machine, "type")),
            escape(&date(machine.get("creationDate"))),
            if badges.is_empty() { r#"<span class="muted">none yet</span>"#.to_owned() } else { badges }
        );
        let more = match status {
            None => all.clone(),
            Some(_) => client.executions("stateMachineArn", arn, status, RECENT as u32).await.unwrap_or_default(),
        };
        recent.extend(more.into_iter().map(|mut e| {
            e["stateMachineName"] = Value::String(text(machine, "name").to_owned());
            e
        }));
    }
    recent.sort_by(|a, b| {
        let key = |v: &Value| epoch(v.get("startDate")).map(|d| d.unix_timestamp_nanos()).unwrap_or(0);
        key(b).cmp(&key(a))
    });
    recent.truncate(RECENT);

    let mut body = format!(
        r#"<section class="card"><h1>State machines <span class="muted">({})</span></h1><table id="machines"><tr><th>Name</th><th>Type</th><th>Created</th><th>Latest executions</th></tr>{machine_rows}</table>{}</section>"#,
        machines.len(),
        if machines.is_empty() {
            r#"<p class="muted">No state machine yet: create one with CreateStateMachine (the aws CLI, boto3 or an AWS SDK pointed at this server).</p>"#
        } else {
            ""
        }
    );
    let mut filters = String::from(r#"<p class="filters">"#);
    let _ = write!(filters, r#"<a href="/console/"{}>All</a>"#, if status.is_none() { r#" class="on""# } else { "" });
    for s in STATUSES {
        let on = if status == Some(s) { r#" class="on""# } else { "" };
        let _ = write!(filters, r#"<a href="/console/?status={s}"{on}>{s}</a>"#);
    }
    filters.push_str("</p>");
    let _ = write!(
        body,
        r#"<section class="card"><h2>Recent executions</h2>{filters}<table id="recent"><tr><th>Execution</th><th>State machine</th><th>Status</th><th>Started</th><th>Duration</th></tr>"#
    );
    for e in &recent {
        let took = elapsed_seconds(e.get("startDate"), e.get("stopDate")).map(duration).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            link(&execution_href(text(e, "executionArn")), text(e, "name")),
            escape(text(e, "stateMachineName")),
            badge(text(e, "status")),
            escape(&date(e.get("startDate"))),
            escape(&took)
        );
    }
    body.push_str("</table></section>");
    let running = recent.iter().any(|e| text(e, "status") == "RUNNING");
    Page::Ok(page("Console", &[], &body, running))
}
