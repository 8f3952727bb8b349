//! `/console/state-machines/{stateMachineArn}`: the definition's graph and the latest executions.

use std::fmt::Write;

use super::{graph_panel, Page};
use crate::api::{Arn, Client};
use crate::escape::escape;
use crate::html::{badge, date, duration, elapsed_seconds, execution_href, facts, link, page, text};

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
    body.push_str(&graph_panel(text(&machine, "definition"), &|_| None, ""));
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
