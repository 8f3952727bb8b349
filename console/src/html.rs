//! The page shell and the small pieces every page uses: links, dates, durations, status badges,
//! JSON blocks. Every value that comes from the API passes through [`escape`].

use std::fmt::Write;

use serde_json::Value;
use time::OffsetDateTime;

use crate::escape::{encode_segment, escape};

const CONSOLE_CSS: &str = include_str!("../assets/console.css");
/// The console's script, served at [`SCRIPT_PATH`] so that pages can forbid inline scripts.
pub const CONSOLE_JS: &str = include_str!("../assets/console.js");
/// Where the console's script is served.
pub const SCRIPT_PATH: &str = "/console/assets/console.js";
const GRAPH_CSS: &str = include_str!("../assets/graph.css");

/// A full page: `crumbs` are (text, link) pairs after "Legion"; `live` makes the page poll itself
/// while the thing it shows runs.
pub fn page(title: &str, crumbs: &[(String, Option<String>)], body: &str, live: bool) -> String {
    let mut nav = String::from(r#"<a href="/console/">Legion</a>"#);
    for (text, link) in crumbs {
        nav.push_str(r#" <span class="sep">›</span> "#);
        match link {
            Some(href) => {
                let _ = write!(nav, r#"<a href="{}">{}</a>"#, escape(href), escape(text));
            }
            None => {
                let _ = write!(nav, "<span>{}</span>", escape(text));
            }
        }
    }
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{} · Legion</title><style>{CONSOLE_CSS}{GRAPH_CSS}</style></head><body><header><nav>{nav}</nav><span id="live-indicator"{}>● live</span></header><main id="live"{}>{body}</main><script src="{SCRIPT_PATH}" defer></script></body></html>"#,
        escape(title),
        if live { "" } else { " hidden" },
        if live { r#" data-live="1""# } else { "" },
    )
}

/// The console link to an execution.
pub fn execution_href(arn: &str) -> String {
    format!("/console/executions/{}", encode_segment(arn))
}

/// The console link to a map run.
pub fn map_run_href(arn: &str) -> String {
    format!("/console/map-runs/{}", encode_segment(arn))
}

/// The console link to a state machine.
pub fn state_machine_href(arn: &str) -> String {
    format!("/console/state-machines/{}", encode_segment(arn))
}

/// `<a href>` with escaped text.
pub fn link(href: &str, text: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, escape(href), escape(text))
}

/// A string member of a JSON object, or "".
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A status badge (`RUNNING`, `FAILED`…).
pub fn badge(status: &str) -> String {
    let class: String = status.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    format!(r#"<span class="badge badge-{}">{}</span>"#, class.to_ascii_lowercase(), escape(status))
}

/// An API timestamp (epoch seconds, fractional) as a date.
pub fn epoch(v: Option<&Value>) -> Option<OffsetDateTime> {
    let seconds = v?.as_f64()?;
    // The API's timestamps carry milliseconds.
    let millis = (seconds * 1e3).round();
    if !millis.is_finite() || millis.abs() > 1e16 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000).ok()
}

/// `2026-12-06 16:45:28.123 UTC`, or "—".
pub fn date(v: Option<&Value>) -> String {
    let Some(d) = epoch(v) else { return "—".into() };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.millisecond()
    )
}

/// Seconds between two API timestamps (to now when `end` is absent).
pub fn elapsed_seconds(start: Option<&Value>, end: Option<&Value>) -> Option<f64> {
    let start = epoch(start)?;
    let end = epoch(end).unwrap_or_else(OffsetDateTime::now_utc);
    Some((end - start).as_seconds_f64().max(0.0))
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if seconds < 3600.0 {
        format!("{} min {:02} s", (seconds / 60.0).floor(), (seconds % 60.0).floor())
    } else {
        format!("{} h {:02} min", (seconds / 3600.0).floor(), ((seconds % 3600.0) / 60.0).floor())
    }
}

/// A JSON payload (given as JSON text, as the API gives inputs and outputs) pretty-printed in a
/// `<pre>`; text that is not JSON is shown as it is.
pub fn json_block(payload: &str) -> String {
    let pretty = serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| payload.to_owned());
    format!(r#"<pre class="json">{}</pre>"#, escape(&pretty))
}

/// A JSON value pretty-printed in a `<pre>`.
pub fn value_block(value: &Value) -> String {
    format!(r#"<pre class="json">{}</pre>"#, escape(&serde_json::to_string_pretty(value).unwrap_or_default()))
}

/// A definition list of (term, already-escaped HTML) rows, skipping empty ones.
pub fn facts(rows: &[(&str, String)]) -> String {
    let mut out = String::from(r#"<dl class="facts">"#);
    for (term, html) in rows.iter().filter(|(_, h)| !h.is_empty()) {
        let _ = write!(out, "<dt>{}</dt><dd>{html}</dd>", escape(term));
    }
    out.push_str("</dl>");
    out
}

/// The 404 page.
pub fn not_found(what: &str, detail: &str) -> String {
    let body = format!(
        r#"<section class="card notfound"><h1>Not found</h1><p>{}</p><p class="muted">{}</p><p><a href="/console/">Back to the console</a></p></section>"#,
        escape(what),
        escape(detail)
    );
    page("Not found", &[("Not found".into(), None)], &body, false)
}

/// The page for an API error that is not a missing resource.
pub fn failure(kind: &str, message: &str) -> String {
    let body = format!(
        r#"<section class="card notfound"><h1>The API answered with an error</h1><p><code>{}</code></p><p>{}</p></section>"#,
        escape(kind),
        escape(message)
    );
    page("Error", &[("Error".into(), None)], &body, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_and_durations_read_well() {
        assert_eq!(date(Some(&json!(1733503528.123))), "2024-12-06 16:45:28.123 UTC");
        assert_eq!(date(Some(&json!("x"))), "—");
        assert_eq!(date(Some(&json!(1e300))), "—");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(elapsed_seconds(Some(&json!(10.0)), Some(&json!(12.5))), Some(2.5));
    }

    #[test]
    fn payloads_are_pretty_and_escaped() {
        assert_eq!(
            json_block(r#"{"a":"<b>"}"#),
            "<pre class=\"json\">{\n  &quot;a&quot;: &quot;&lt;b&gt;&quot;\n}</pre>"
        );
        assert_eq!(json_block("<not json>"), "<pre class=\"json\">&lt;not json&gt;</pre>");
        assert!(badge("FAILED\"><script>").contains("badge-failedscript"));
    }
}
