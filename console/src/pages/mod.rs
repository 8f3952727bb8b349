//! The console's pages, each rendered from API calls.

pub mod execution;
pub mod index;
pub mod map_run;
pub mod state_machine;

use std::fmt::Write;

use serde_json::Value;

use crate::api::ApiFailure;
use crate::colour::StateStatus;
use crate::escape::escape;
use crate::graph::{layout::layout, svg, Graph};

/// A rendered page, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The page's HTML.
    Ok(String),
    /// The resource does not exist or its ARN is malformed: a 404 page with this message.
    NotFound(String),
    /// The API failed otherwise.
    Failed(ApiFailure),
}

impl Page {
    /// The page for an API error about `arn`.
    pub fn from_failure(failure: ApiFailure, arn: &str) -> Page {
        if failure.is_not_found() {
            Page::NotFound(format!("Nothing is known as “{arn}”: {}", failure.message))
        } else {
            Page::Failed(failure)
        }
    }
}

/// The graph (`caption`: text after a group's title) with its legend beside the selected state's details (`details`: one hidden
/// `.state-detail` per state).
pub fn graph_panel(
    definition: &str,
    status: &dyn Fn(&str) -> Option<StateStatus>,
    caption: &dyn Fn(&str) -> Option<String>,
    details: &str,
) -> String {
    let drawing = match Graph::from_text(definition) {
        Ok(graph) => svg::render_with_captions(&layout(&graph), status, caption, false),
        Err(e) => format!(r#"<p class="muted">The definition cannot be drawn: {}</p>"#, escape(&e.to_string())),
    };
    let mut legend = String::from(r#"<div class="legend">"#);
    for st in StateStatus::ALL {
        let _ = write!(legend, r#"<span><i class="{}"></i>{}</span>"#, st.css_class(), st.label());
    }
    legend.push_str("</div>");
    format!(
        r#"<div class="row"><section class="card grow"><h2>Graph</h2>{legend}<div class="graph-wrap" id="graph">{drawing}</div></section><section class="card side"><p id="detail-hint" class="muted">Select a state to see its input, output and errors.</p>{details}</section></div>"#
    )
}

/// The Map state a map run's label names: its `Label`, or its name.
pub(crate) fn find_map_state(scope: &Value, label: &str) -> Option<Value> {
    let states = scope.get("States")?.as_object()?;
    for (name, state) in states {
        if state.get("Type").and_then(Value::as_str) == Some("Map") {
            let state_label = state.get("Label").and_then(Value::as_str).unwrap_or(name);
            if state_label == label {
                return Some(state.clone());
            }
        }
        let nested = state.get("Branches").and_then(Value::as_array).cloned().unwrap_or_default();
        let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator")).cloned();
        for child in nested.iter().chain(processor.iter()) {
            if let Some(found) = find_map_state(child, label) {
                return Some(found);
            }
        }
    }
    None
}
