//! `/console/map-runs/{mapRunArn}`: item and child-execution counts with a progress bar and rate,
//! the configuration, the failed children with their error and cause, and every child.

use std::fmt::Write;

use serde_json::Value;

use super::{find_map_state, Page};
use crate::api::{Arn, Client};
use crate::escape::escape;
use crate::html::{badge, date, duration, elapsed_seconds, execution_href, facts, link, page, text, value_block};

/// Most failed children described (one DescribeExecution each).
const FAILED_SHOWN: usize = 50;
/// Most children listed.
const CHILDREN_SHOWN: u32 = 200;

const COUNT_COLUMNS: [(&str, &str); 7] = [
    ("pending", "Pending"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("timedOut", "Timed out"),
    ("aborted", "Aborted"),
    ("total", "Total"),
];

/// Renders the page of the map run `arn`.
pub async fn render(client: &Client<'_>, arn: &str) -> Page {
    let Some(parsed) = Arn::parse(arn).filter(|a| a.resource == "mapRun") else {
        return Page::NotFound(format!("“{arn}” is not a map run ARN."));
    };
    let run = match client.describe_map_run(arn).await {
        Ok(r) => r,
        Err(e) => return Page::from_failure(e, arn),
    };
    let label = parsed.map_run_label().unwrap_or("map run");
    let status = text(&run, "status");
    let parent = text(&run, "executionArn");
    let definition = client.machine_for_execution(parent).await.ok();
    let map_state = definition
        .as_ref()
        .and_then(|m| serde_json::from_str::<Value>(text(m, "definition")).ok())
        .and_then(|d| find_map_state(&d, label));
    let failed = client.executions("mapRunArn", arn, Some("FAILED"), 100).await.unwrap_or_default();
    let children = client.executions("mapRunArn", arn, None, CHILDREN_SHOWN).await.unwrap_or_default();

    let mut body = String::new();
    body.push_str(&summary(&run, label, parsed.name()));
    body.push_str(&counts(&run));
    body.push_str(&failed_children(client, &failed).await);
    body.push_str(&configuration(&run, map_state.as_ref()));
    body.push_str(&child_table(&children));

    let parent_name = Arn::parse(parent).map(|a| a.name()).unwrap_or(parent);
    let crumbs =
        [(format!("Execution {parent_name}"), Some(execution_href(parent))), (format!("Map run {label}"), None)];
    Page::Ok(page(&format!("Map run {label}"), &crumbs, &body, status == "RUNNING"))
}

fn summary(run: &Value, label: &str, id: &str) -> String {
    let status = text(run, "status");
    let (start, stop) = (run.get("startDate"), run.get("stopDate"));
    let took = elapsed_seconds(start, stop).map(duration).unwrap_or_default();
    let parent = text(run, "executionArn");
    format!(
        r#"<section class="card"><h1>Map run {} {}</h1>{}</section>"#,
        escape(label),
        badge(status),
        facts(&[
            ("Status", badge(status)),
            ("Parent execution", link(&execution_href(parent), parent)),
            ("Map run ARN", format!("<code>{}</code>", escape(text(run, "mapRunArn")))),
            ("Id", escape(id)),
            ("Started", escape(&date(start))),
            ("Stopped", if stop.is_some() { escape(&date(stop)) } else { String::new() }),
            ("Duration", escape(&if stop.is_some() { took } else { format!("{took} so far") })),
        ])
    )
}

fn count(counts: &Value, key: &str) -> u64 {
    counts.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn counts(run: &Value) -> String {
    let items = run.get("itemCounts").cloned().unwrap_or(Value::Null);
    let executions = run.get("executionCounts").cloned().unwrap_or(Value::Null);
    let total = count(&items, "total");
    let done =
        count(&items, "succeeded") + count(&items, "failed") + count(&items, "timedOut") + count(&items, "aborted");
    let seconds = elapsed_seconds(run.get("startDate"), run.get("stopDate")).unwrap_or(0.0);
    let rate = if seconds > 0.0 { done as f64 / seconds } else { 0.0 };
    let mut bar = String::from(r#"<div class="progress" id="progress" role="img""#);
    let _ = write!(bar, r#" aria-label="{done} of {total} items processed">"#);
    for (key, class) in [
        ("succeeded", "p-succeeded"),
        ("failed", "p-failed"),
        ("timedOut", "p-timedout"),
        ("aborted", "p-aborted"),
        ("running", "p-running"),
    ] {
        let n = count(&items, key);
        if total > 0 && n > 0 {
            let _ = write!(
                bar,
                r#"<div class="{class}" style="width:{:.3}%" title="{n} {key}"></div>"#,
                n as f64 * 100.0 / total as f64
            );
        }
    }
    bar.push_str("</div>");
    let mut table = String::from(r#"<table id="counts"><tr><th></th>"#);
    for (_, title) in COUNT_COLUMNS {
        let _ = write!(table, r#"<th class="num">{title}</th>"#);
    }
    table.push_str("</tr>");
    for (title, counts, id) in [("Items", &items, "item-counts"), ("Child executions", &executions, "execution-counts")]
    {
        let _ = write!(table, r#"<tr id="{id}"><th>{title}</th>"#);
        for (key, _) in COUNT_COLUMNS {
            let _ = write!(table, r#"<td class="num" data-count="{key}">{}</td>"#, count(counts, key));
        }
        table.push_str("</tr>");
    }
    table.push_str("</table>");
    format!(
        r#"<section class="card"><h2>Progress</h2><p><strong>{done} of {total}</strong> items processed · <span id="rate">{rate:.1} items/s</span> · {} written to results</p>{bar}{table}</section>"#,
        count(&items, "resultsWritten")
    )
}

fn configuration(run: &Value, map_state: Option<&Value>) -> String {
    let mut rows = vec![
        (
            "MaxConcurrency",
            run.get("maxConcurrency")
                .map(|v| if v.as_u64() == Some(0) { "0 (no limit set)".to_owned() } else { v.to_string() })
                .unwrap_or_default(),
        ),
        ("ToleratedFailurePercentage", run.get("toleratedFailurePercentage").map(Value::to_string).unwrap_or_default()),
        ("ToleratedFailureCount", run.get("toleratedFailureCount").map(Value::to_string).unwrap_or_default()),
    ];
    let mut blocks = String::new();
    if let Some(state) = map_state {
        for key in ["ItemReader", "ItemBatcher", "ResultWriter", "ItemSelector", "ItemsPath", "Items"] {
            if let Some(v) = state.get(key) {
                let _ = write!(blocks, "<h3>{key}</h3>{}", value_block(v));
            }
        }
        if let Some(mode) = state.pointer("/ItemProcessor/ProcessorConfig/ExecutionType").and_then(Value::as_str) {
            rows.push(("ExecutionType", escape(mode)));
        }
    } else {
        blocks.push_str(r#"<p class="muted">The Map state could not be found in the parent's definition.</p>"#);
    }
    format!(r#"<section class="card" id="configuration"><h2>Configuration</h2>{}{blocks}</section>"#, facts(&rows))
}

async fn failed_children(client: &Client<'_>, failed: &[Value]) -> String {
    if failed.is_empty() {
        return String::new();
    }
    let mut out = format!(
        r#"<section class="card" id="failed-children"><h2>Failed child executions <span class="muted">({}{})</span></h2><table><tr><th>Execution</th><th>Error</th><th>Cause</th><th>Stopped</th></tr>"#,
        failed.len(),
        if failed.len() >= 100 { "+" } else { "" }
    );
    for child in failed.iter().take(FAILED_SHOWN) {
        let arn = text(child, "executionArn");
        let described = client.describe_execution(arn).await.unwrap_or(Value::Null);
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="t-failed">{}</td><td><pre class="cause">{}</pre></td><td>{}</td></tr>"#,
            link(&execution_href(arn), text(child, "name")),
            escape(text(&described, "error")),
            escape(text(&described, "cause")),
            escape(&date(child.get("stopDate")))
        );
    }
    out.push_str("</table></section>");
    out
}

fn child_table(children: &[Value]) -> String {
    let mut out = format!(
        r#"<section class="card" id="children"><h2>Child executions <span class="muted">(latest {})</span></h2><table><tr><th>Execution</th><th>Status</th><th>Started</th><th>Stopped</th></tr>"#,
        children.len()
    );
    for child in children {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            link(&execution_href(text(child, "executionArn")), text(child, "name")),
            badge(text(child, "status")),
            escape(&date(child.get("startDate"))),
            escape(&date(child.get("stopDate")))
        );
    }
    out.push_str("</table></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_map_state_is_found_by_label_or_name_at_any_depth() {
        let d = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "Each", "End": true, "MaxConcurrency": 3,
              "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}
        ]}}});
        assert_eq!(find_map_state(&d, "Each").unwrap()["MaxConcurrency"], 3);
        assert!(find_map_state(&d, "M").is_none());
    }

    #[test]
    fn configuration_shows_the_reader_and_writer_escaped() {
        let run = json!({"maxConcurrency": 0, "toleratedFailurePercentage": 5.0, "toleratedFailureCount": 2});
        let state = json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "<b>", "Prefix": "in/"}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}}});
        let html = configuration(&run, Some(&state));
        assert!(html.contains("<dt>MaxConcurrency</dt><dd>0 (no limit set)</dd>"), "{html}");
        assert!(html.contains("<dt>ToleratedFailureCount</dt><dd>2</dd>"));
        assert!(html.contains("<h3>ItemReader</h3>") && html.contains("s3:listObjectsV2"));
        assert!(html.contains("<h3>ResultWriter</h3>"));
        assert!(html.contains("&quot;&lt;b&gt;&quot;") && !html.contains("<b>"));
        assert!(configuration(&run, None).contains("could not be found"));
    }

    #[test]
    fn counts_show_a_bar_and_a_table() {
        let run = json!({"startDate": 100.0, "stopDate": 110.0,
            "itemCounts": {"pending": 0, "running": 0, "succeeded": 7, "failed": 3, "timedOut": 0, "aborted": 0, "total": 10, "resultsWritten": 10},
            "executionCounts": {"succeeded": 7, "failed": 3, "total": 10}});
        let html = counts(&run);
        assert!(html.contains("<strong>10 of 10</strong>"));
        assert!(html.contains("1.0 items/s"));
        assert!(html.contains(r#"<div class="p-succeeded" style="width:70.000%""#));
        assert!(html.contains(r#"<td class="num" data-count="failed">3</td>"#));
    }
}
