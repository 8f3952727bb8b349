//! Comparison of what a runner did with what a case expects.
//!
//! Actual values are first rewritten by the case's [`Normalizer`]. Expected values are then matched
//! structurally ([`Matcher`]):
//!
//! - objects match when they have the same keys and matching values (key order does not matter);
//!   arrays item by item; numbers by JSON value (`1` and `1.0` differ, as they do in AWS's output);
//! - a placeholder token in an expected string (`<uuid:1>`, `<request_id>`, `<resource:2>`, ...) that
//!   the normalizer does not itself produce is a wildcard: `<uuid:N>` matches a `<uuid:M>` or a raw
//!   UUID, any other token matches any non-empty text. One token stands for the same text throughout a
//!   case;
//! - an expected string equal to its key (`"RequestId": "RequestId"`, `"Date": "date"`,
//!   `"StartDate": "start-date"`) was replaced by name when recorded and matches any value, as do a
//!   few fixed replacements (`"RoleArn": "snf_role_arn"`);
//! - two strings that both hold JSON objects or arrays match when their parsed values do (recorded JSON
//!   texts were re-serialised with other spacing).
//!
//! An execution case passes when status, output, error and cause match (only the status when the case
//! depends on the wall clock); a TestState case when the response matches `expected_response` (a
//! top-level null counts as absent) or the API error has the expected code and message; a validation
//! case when the message equals `expected.message` exactly. The sequence of history event types is
//! checked separately ([`check_history`]) and does not decide pass or fail.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::case::{Case, ExecutionSpec, Spec, TestRule, TestStateSpec, ValidationSpec};
use crate::normalize::{self, Normalizer, UuidTable};
use crate::runner::Actual;

/// The longest value shown in a reason, in characters.
const SHOWN_CHARS: usize = 100;

/// The result of comparing one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything compared matches.
    Pass,
    /// Something differs; the reason is one line.
    Fail(String),
    /// The runner skipped the case for the given reason.
    Skip(String),
}

/// How the history event types of an execution compare with the recorded history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryCheck {
    /// The case has no recorded history.
    NotRecorded,
    /// The case has a recorded history but no execution result to compare (skipped, timed out, ...).
    NotCompared,
    /// The event types match, in order (or as a multiset for cases whose branches interleave freely).
    Match,
    /// The event types differ: where and how.
    Mismatch(String),
}

/// A difference between an expected and an actual value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where, e.g. `output.items[2].name`.
    pub path: String,
    /// The expected value, shortened.
    pub expected: String,
    /// The actual value, shortened.
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, got {}", self.path, self.expected, self.actual)
    }
}

/// Matches expected values against normalized actual values, keeping wildcard bindings for one case.
#[derive(Debug)]
pub struct Matcher<'n> {
    norm: &'n Normalizer,
    bindings: HashMap<String, String>,
    patterns: HashMap<String, Option<Vec<Segment>>>,
}

impl<'n> Matcher<'n> {
    /// A matcher for the case whose rules `norm` holds.
    pub fn new(norm: &'n Normalizer) -> Self {
        Self { norm, bindings: HashMap::new(), patterns: HashMap::new() }
    }

    /// Matches `expected` against `actual`; `root` names the compared value in the mismatch path.
    pub fn value_at(&mut self, root: &str, expected: &Value, actual: &Value) -> Result<(), Mismatch> {
        let mut path = root.to_owned();
        self.value(expected, actual, &mut path, None)
    }

    /// True when the expected string matches the actual one (see the module documentation).
    pub fn string(&mut self, expected: &str, actual: &str) -> bool {
        // Equal text still goes through the pattern, so that its placeholders are bound.
        match self.wildcard_match(expected, actual) {
            Some(true) => return true,
            Some(false) => {}
            None if expected == actual => return true,
            None => {}
        }
        if looks_like_json(expected) && looks_like_json(actual) {
            if let (Ok(e), Ok(a)) = (serde_json::from_str::<Value>(expected), serde_json::from_str::<Value>(actual)) {
                let saved = self.bindings.clone();
                if self.value(&e, &a, &mut String::new(), None).is_ok() {
                    return true;
                }
                self.bindings = saved;
            }
        }
        false
    }

    fn value(&mut self, exp: &Value, act: &Value, path: &mut String, key: Option<&str>) -> Result<(), Mismatch> {
        let differ = |path: &str| Mismatch { path: path.to_owned(), expected: short(exp), actual: short(act) };
        match (exp, act) {
            (Value::String(e), _) if key.is_some_and(|k| is_key_sentinel(k, e)) => Ok(()),
            (Value::String(e), Value::String(a)) => {
                if self.string(e, a) {
                    Ok(())
                } else {
                    Err(differ(path))
                }
            }
            (Value::String(e), _) if self.is_whole_wildcard(e) => {
                if self.bind(e, &act.to_string()) {
                    Ok(())
                } else {
                    Err(differ(path))
                }
            }
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    match a.get(k) {
                        Some(av) => self.value(ev, av, path, Some(k))?,
                        None => {
                            return Err(Mismatch { path: path.clone(), expected: short(ev), actual: "nothing".into() })
                        }
                    }
                    path.truncate(len);
                }
                match a.iter().find(|(k, _)| !e.contains_key(*k)) {
                    Some((k, av)) => {
                        Err(Mismatch { path: format!("{path}.{k}"), expected: "nothing".into(), actual: short(av) })
                    }
                    None => Ok(()),
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.value(ev, av, path, key)?;
                    path.truncate(len);
                }
                if e.len() == a.len() {
                    Ok(())
                } else {
                    Err(Mismatch {
                        path: path.clone(),
                        expected: format!("{} items {}", e.len(), short(exp)),
                        actual: format!("{} items {}", a.len(), short(act)),
                    })
                }
            }
            _ if exp == act => Ok(()),
            _ => Err(differ(path)),
        }
    }

    /// True when `expected` is a single wildcard token (other than a UUID one), so it may stand for a
    /// value of any type.
    fn is_whole_wildcard(&self, expected: &str) -> bool {
        expected.starts_with('<')
            && !expected.starts_with("<uuid:")
            && normalize::placeholder_tokens(expected).next().is_some_and(|m| m.as_str().len() == expected.len())
            && self.norm.is_wildcard(expected)
    }

    /// Matches `actual` against `expected` read as a pattern; `None` when `expected` holds no
    /// wildcard token. On success the tokens' new bindings are kept.
    fn wildcard_match(&mut self, expected: &str, actual: &str) -> Option<bool> {
        if !self.patterns.contains_key(expected) {
            let pattern = self.compile(expected);
            self.patterns.insert(expected.to_owned(), pattern);
        }
        let segments = self.patterns.get(expected)?.as_ref()?;
        let mut new = Vec::new();
        let mut budget = MATCH_BUDGET;
        if !match_segments(segments, actual, 0, &self.bindings, &mut new, &mut budget) {
            return Some(false);
        }
        self.bindings.extend(new);
        Some(true)
    }

    fn bind(&mut self, token: &str, text: &str) -> bool {
        // The recordings put one token in place of every date: two dates need not be the same one
        // (objects listed a second apart, say).
        if UNBOUND_TOKENS.contains(&token) {
            return true;
        }
        match self.bindings.get(token) {
            Some(v) => v == text,
            None => {
                self.bindings.insert(token.to_owned(), text.to_owned());
                true
            }
        }
    }

    /// Splits an expected string into literal text and wildcard tokens; `None` without wildcards.
    fn compile(&self, expected: &str) -> Option<Vec<Segment>> {
        let mut segments = Vec::new();
        let mut last = 0;
        for m in normalize::placeholder_tokens(expected) {
            if !self.norm.is_wildcard(m.as_str()) {
                continue;
            }
            if m.start() > last {
                segments.push(Segment::Text(expected[last..m.start()].to_owned()));
            }
            segments.push(Segment::Token(m.as_str().to_owned()));
            last = m.end();
        }
        if segments.is_empty() {
            return None;
        }
        if last < expected.len() {
            segments.push(Segment::Text(expected[last..].to_owned()));
        }
        Some(segments)
    }
}

/// Part of an expected string holding wildcards.
#[derive(Debug)]
enum Segment {
    /// Text that must appear as is.
    Text(String),
    /// A wildcard token.
    Token(String),
}

/// True when `text` may stand for `token`: a `<uuid:N>` only stands for a UUID or a UUID placeholder.
fn fits(token: &str, text: &str) -> bool {
    !text.is_empty()
        && (!token.starts_with("<uuid:")
            || normalize::is_uuid(text)
            || (text.starts_with("<uuid:")
                && normalize::placeholder_tokens(text).next().is_some_and(|m| m.len() == text.len())))
}

/// How many steps one wildcard match may take before it gives up (and counts as no match).
const MATCH_BUDGET: usize = 1_000_000;

/// Matches `actual[pos..]` against `segments`, respecting `bound` and the bindings made so far in
/// `new`. Candidate texts for a token that are a whole placeholder themselves are tried first, then
/// the shortest ones, so that `<a>:<b>` splits `<x:1>:<y:2>` at the right colon. Gives up when
/// `budget` steps are used.
fn match_segments(
    segments: &[Segment],
    actual: &str,
    pos: usize,
    bound: &HashMap<String, String>,
    new: &mut Vec<(String, String)>,
    budget: &mut usize,
) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let Some((first, rest)) = segments.split_first() else {
        return pos == actual.len();
    };
    let tail = &actual[pos..];
    match first {
        Segment::Text(text) => {
            tail.starts_with(text.as_str()) && match_segments(rest, actual, pos + text.len(), bound, new, budget)
        }
        Segment::Token(token) => {
            let known = bound.get(token).or_else(|| new.iter().find(|(t, _)| t == token).map(|(_, v)| v)).cloned();
            if let Some(value) = known {
                return tail.starts_with(value.as_str())
                    && match_segments(rest, actual, pos + value.len(), bound, new, budget);
            }
            // Scanning the candidates costs a step per position.
            *budget = budget.saturating_sub(actual.len() - pos);
            if *budget == 0 {
                return false;
            }
            let next_text = match rest.first() {
                Some(Segment::Text(text)) => Some(text.as_str()),
                _ => None,
            };
            let mut ends: Vec<usize> = (pos + 1..=actual.len())
                .filter(|&end| actual.is_char_boundary(end))
                .filter(|&end| match next_text {
                    Some(text) => actual[end..].starts_with(text),
                    None => !rest.is_empty() || end == actual.len(),
                })
                .collect();
            let whole_token = |end: &usize| {
                let text = &actual[pos..*end];
                text.starts_with('<')
                    && text.ends_with('>')
                    && normalize::placeholder_tokens(text).next().is_some_and(|m| m.len() == text.len())
            };
            ends.sort_by_key(|end| (!whole_token(end), *end));
            for end in ends {
                let text = &actual[pos..end];
                if !fits(token, text) {
                    continue;
                }
                new.push((token.clone(), text.to_owned()));
                if match_segments(rest, actual, end, bound, new, budget) {
                    return true;
                }
                new.pop();
            }
            false
        }
    }
}

/// Tokens that stand for any value of a kind rather than for one recorded value.
const UNBOUND_TOKENS: &[&str] = &["<date>", "<timestamp>"];

/// Values the recordings put in place of volatile fields regardless of their key (the context
/// object's role ARN and times).
const RECORDED_SENTINELS: &[&str] =
    &["snf_role_arn", "sfn_role_arn", "start-time", "entered-time", "start-date", "stop-date"];

/// True when the expected string stands for whatever value was recorded under `key`: the key's own
/// name (as recorded for values replaced by name) or one of [`RECORDED_SENTINELS`].
fn is_key_sentinel(key: &str, expected: &str) -> bool {
    !expected.is_empty()
        && (expected.eq_ignore_ascii_case(key) || expected == hyphenated(key) || RECORDED_SENTINELS.contains(&expected))
}

/// `StartDate` → `start-date`.
fn hyphenated(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

/// A value as compact JSON, cut to a readable length.
pub fn short(value: &Value) -> String {
    shorten(&value.to_string())
}

/// Text cut to a readable length.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn quoted(s: &str) -> String {
    short(&Value::String(s.to_owned()))
}

/// Compares what the runner did with what the case expects.
///
/// A runner may skip only a case that needs an external service: skipping one that needs nothing is
/// a failure.
pub fn check(case: &Case, actual: &Actual) -> Verdict {
    if let Actual::Skipped(reason) = actual {
        return if case.needs_nothing() {
            Verdict::Fail(format!("skipped, but the case needs no external service ({reason})"))
        } else {
            Verdict::Skip(reason.clone())
        };
    }
    let norm = Normalizer::new(&case.normalize);
    let result = match &case.spec {
        Spec::Execution(spec) => check_execution(spec, actual, &norm),
        Spec::TestState(spec) => check_test_state(spec, actual, &norm),
        Spec::Validation(spec) => check_validation(spec, actual, &norm),
    };
    match result {
        Ok(()) => Verdict::Pass,
        Err(reason) => Verdict::Fail(reason),
    }
}

fn describe(actual: &Actual) -> String {
    match actual {
        Actual::Execution { status, .. } => format!("an execution ({status})"),
        Actual::Validation(Ok(())) => "an accepted definition".into(),
        Actual::Validation(Err(msg)) => format!("a rejected definition ({})", shorten(msg)),
        Actual::TestState(Ok(_)) => "a TestState response".into(),
        Actual::TestState(Err(e)) => format!("a TestState API error ({})", shorten(&e.to_string())),
        Actual::Skipped(reason) => format!("a skip ({reason})"),
    }
}

fn check_execution(spec: &ExecutionSpec, actual: &Actual, norm: &Normalizer) -> Result<(), String> {
    let (status, output, error, cause) = match actual {
        Actual::Execution { status, output, error, cause, .. } => (status, output, error, cause),
        Actual::Validation(Err(msg)) => return Err(format!("state machine rejected: {}", shorten(msg))),
        other => return Err(format!("expected an execution, got {}", describe(other))),
    };
    let exp = &spec.expected;
    if status.as_str() != exp.status {
        let mut reason = format!("status: expected {}, got {status}", exp.status);
        if error.is_some() || cause.is_some() {
            let error = error.as_deref().unwrap_or("no error");
            reason.push_str(&format!(" ({error}: {})", shorten(cause.as_deref().unwrap_or("no cause"))));
        }
        return Err(reason);
    }
    if spec.depends_on_wall_clock {
        return Ok(());
    }

    let mut m = Matcher::new(norm);
    let mut uuids = UuidTable::default();
    let mut problems = Vec::new();

    if !exp.output_unparsed {
        let actual_output = output.as_ref().map(|o| norm.value(o, &mut uuids));
        match (&exp.output, actual_output) {
            (Value::Null, None) | (Value::Null, Some(Value::Null)) => {}
            (e, None) => problems.push(format!("output: expected {}, got no output", short(e))),
            (e, Some(a)) => {
                if let Err(mismatch) = m.value_at("output", e, &a) {
                    problems.push(mismatch.to_string());
                }
            }
        }
    }

    match (&exp.error, error) {
        (None, None) => {}
        (Some(e), Some(a)) => {
            let a = norm.string(a, &mut uuids);
            if !m.string(e, &a) {
                problems.push(format!("error: expected {}, got {}", quoted(e), quoted(&a)));
            }
        }
        (Some(e), None) => problems.push(format!("error: expected {}, got none", quoted(e))),
        (None, Some(a)) => problems.push(format!("error: expected none, got {}", quoted(a))),
    }

    match (&exp.cause, cause) {
        (None, None) => {}
        (Some(e), Some(a)) if exp.cause_is_json => match serde_json::from_str::<Value>(a) {
            Ok(parsed) => {
                let parsed = norm.value(&parsed, &mut uuids);
                if let Err(mismatch) = m.value_at("cause", e, &parsed) {
                    problems.push(mismatch.to_string());
                }
            }
            Err(_) => problems.push(format!("cause: expected JSON {}, got {}", short(e), quoted(a))),
        },
        (Some(e), Some(a)) => {
            let a = norm.string(a, &mut uuids);
            let matched = match e {
                Value::String(e) => m.string(e, &a),
                other => m.value_at("cause", other, &Value::String(a.clone())).is_ok(),
            };
            if !matched {
                problems.push(format!("cause: expected {}, got {}", short(e), quoted(&a)));
            }
        }
        (Some(e), None) => problems.push(format!("cause: expected {}, got none", short(e))),
        (None, Some(a)) => problems.push(format!("cause: expected none, got {}", quoted(a))),
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn without_null_fields(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

fn check_test_state(spec: &TestStateSpec, actual: &Actual, norm: &Normalizer) -> Result<(), String> {
    let expected = without_null_fields(&spec.expected_response);
    let expected_status = expected.get("status").and_then(Value::as_str).unwrap_or(spec.expected.status.as_str());
    let expected_api = expected
        .get("api_error")
        .and_then(|e| Some((e.get("code")?.as_str()?.to_owned(), e.get("message")?.as_str()?.to_owned())))
        .or_else(|| spec.expected.api_error.as_ref().map(|e| (e.code.clone(), e.message.clone())));
    let mut m = Matcher::new(norm);
    let mut uuids = UuidTable::default();

    match actual {
        Actual::TestState(Err(api)) => {
            let Some((code, message)) = expected_api else {
                return Err(format!("status: expected {expected_status}, got API error {}", shorten(&api.to_string())));
            };
            let actual_message = norm.string(&api.message, &mut uuids);
            if api.error_type != code {
                Err(format!("API error: expected {code}, got {}", shorten(&api.to_string())))
            } else if !m.string(&message, &actual_message) {
                Err(format!("API error message: expected {}, got {}", quoted(&message), quoted(&actual_message)))
            } else {
                Ok(())
            }
        }
        Actual::TestState(Ok(response)) => {
            let mut response = response.clone();
            normalize::parse_embedded_objects(&mut response);
            let response = without_null_fields(&norm.value(&response, &mut uuids));
            let actual_status = response.get("status").and_then(Value::as_str).unwrap_or("none");
            if let Some((code, message)) = expected_api {
                return Err(format!(
                    "expected API error {code} ({}), got a response with status {actual_status}",
                    shorten(&message)
                ));
            }
            if actual_status != expected_status {
                let mut reason = format!("status: expected {expected_status}, got {actual_status}");
                if let Some(error) = response.get("error").and_then(Value::as_str) {
                    let cause = response.get("cause").and_then(Value::as_str).unwrap_or("no cause");
                    reason.push_str(&format!(" ({error}: {})", shorten(cause)));
                }
                return Err(reason);
            }
            m.value_at("response", &expected, &response).map_err(|mismatch| mismatch.to_string())
        }
        other => Err(format!("expected a TestState result, got {}", describe(other))),
    }
}

fn check_validation(spec: &ValidationSpec, actual: &Actual, norm: &Normalizer) -> Result<(), String> {
    let exp = &spec.expected;
    let code = exp.error_code.as_deref().unwrap_or("InvalidDefinition");
    match actual {
        Actual::Validation(Err(message)) => {
            let message = norm.string(message, &mut UuidTable::default());
            if message == exp.message {
                Ok(())
            } else {
                Err(format!("message: expected {}, got {}", quoted(&exp.message), quoted(&message)))
            }
        }
        Actual::Validation(Ok(())) | Actual::Execution { .. } => {
            Err(format!("definition accepted; expected {code}: {}", shorten(&exp.message)))
        }
        other => Err(format!("expected a validation result, got {}", describe(other))),
    }
}

fn event_type(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("?")
}

/// Compares the sequence of history event types with the recorded one.
///
/// Cases recorded with a custom reordering rule (parallel branches, map iterations) match when the
/// event types are the same as a multiset.
pub fn check_history(case: &Case, actual: &Actual) -> HistoryCheck {
    let Spec::Execution(spec) = &case.spec else {
        return HistoryCheck::NotRecorded;
    };
    let Some(recorded) = &spec.expected_history else {
        return HistoryCheck::NotRecorded;
    };
    let Actual::Execution { history, .. } = actual else {
        return HistoryCheck::NotCompared;
    };
    let expected: Vec<&str> = recorded.iter().map(event_type).collect();
    let got: Vec<&str> = history.iter().map(event_type).collect();
    if expected == got {
        return HistoryCheck::Match;
    }
    if case.normalize.test_rules.iter().any(|r| matches!(r, TestRule::Other { .. })) {
        let (mut e, mut g) = (expected.clone(), got.clone());
        e.sort_unstable();
        g.sort_unstable();
        if e == g {
            return HistoryCheck::Match;
        }
    }
    let i = expected.iter().zip(&got).take_while(|(e, g)| e == g).count();
    HistoryCheck::Mismatch(format!(
        "event {}: expected {}, got {} ({} events expected, {} recorded)",
        i + 1,
        expected.get(i).copied().unwrap_or("end of history"),
        got.get(i).copied().unwrap_or("end of history"),
        expected.len(),
        got.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::NormalizeSpec;
    use serde_json::json;

    fn normalizer(rules: &[(&str, &str)]) -> Normalizer {
        Normalizer::new(&NormalizeSpec {
            test_rules: rules
                .iter()
                .map(|(p, r)| TestRule::Regex { pattern: (*p).into(), replacement: (*r).into() })
                .collect(),
        })
    }

    #[test]
    fn structural_equality_ignores_key_order_but_not_values() {
        let n = normalizer(&[]);
        let mut m = Matcher::new(&n);
        assert!(m.value_at("output", &json!({"a": 1, "b": [1, 2]}), &json!({"b": [1, 2], "a": 1})).is_ok());
        let err = m.value_at("output", &json!({"a": {"b": [1, 2]}}), &json!({"a": {"b": [1, 3]}})).unwrap_err();
        assert_eq!(err.to_string(), "output.a.b[1]: expected 2, got 3");
        let err = m.value_at("output", &json!({"a": 1}), &json!({"a": 1, "z": true})).unwrap_err();
        assert_eq!(err.to_string(), "output.z: expected nothing, got true");
        let err = m.value_at("output", &json!({"a": 1}), &json!({})).unwrap_err();
        assert_eq!(err.to_string(), "output.a: expected 1, got nothing");
        let err = m.value_at("output", &json!([1]), &json!([1, 2])).unwrap_err();
        assert_eq!(err.to_string(), "output: expected 1 items [1], got 2 items [1,2]");
    }

    #[test]
    fn integers_and_floats_differ() {
        let n = normalizer(&[]);
        let mut m = Matcher::new(&n);
        assert!(m.value_at("output", &json!(1.0), &json!(1)).is_err());
        assert!(m.value_at("output", &json!(1.5), &json!(1.5)).is_ok());
    }

    #[test]
    fn uuid_wildcards_bind_consistently() {
        let n = normalizer(&[]);
        let mut m = Matcher::new(&n);
        let exp = json!({"a": "<uuid:3>", "b": "x <uuid:3> y", "c": "<uuid:4>"});
        assert!(m.value_at("o", &exp, &json!({"a": "<uuid:1>", "b": "x <uuid:1> y", "c": "<uuid:2>"})).is_ok());
        let mut m = Matcher::new(&n);
        assert!(m.value_at("o", &exp, &json!({"a": "<uuid:1>", "b": "x <uuid:2> y", "c": "<uuid:2>"})).is_err());
        let mut m = Matcher::new(&n);
        assert!(m.value_at("o", &json!("<uuid:1>"), &json!("not a uuid")).is_err());
        assert!(m.value_at("o", &json!("<uuid:1>"), &json!("0a1b2c3d-0000-4000-8000-000000000001")).is_ok());
    }

    #[test]
    fn other_placeholders_are_wildcards_but_rule_products_are_literal() {
        let n = normalizer(&[("sm_1234", "<ArnPart_0idx>")]);
        let mut m = Matcher::new(&n);
        assert!(m.string("input '<json-input:1>' here", "input '{\"a\":1}' here"));
        assert!(!m.string("input '<json-input:1>' here", "input '' here"));
        assert!(m.string(
            "arn:<partition>:states:<region>:1:stateMachine:<ArnPart_0idx>",
            "arn:<partition>:states:<region>:1:stateMachine:<ArnPart_0idx>"
        ));
        assert!(!m.string(
            "arn:<partition>:states:<region>:1:stateMachine:<ArnPart_0idx>",
            "arn:<partition>:states:<region>:1:stateMachine:other"
        ));
        assert!(!m.string("<region>", "us-west-2"));
        // A whole-value wildcard stands for a value of any type.
        assert!(m.value_at("o", &json!({"LastModified": "<date>"}), &json!({"LastModified": 17})).is_ok());
        // Every date is recorded as the same token, so two different dates both match it.
        let listed = json!([{"LastModified": "<date>"}, {"LastModified": "<date>"}]);
        assert!(m.value_at("o", &listed, &json!([{"LastModified": 17}, {"LastModified": 18}])).is_ok());
    }

    #[test]
    fn values_replaced_by_key_name_match_anything() {
        let n = normalizer(&[]);
        let mut m = Matcher::new(&n);
        let exp = json!({"Date": "date", "RequestId": "RequestId", "StartDate": "start-date", "Name": "x"});
        let act = json!({"Date": ["Mon, 01 Jan 2024 00:00:00 GMT"], "RequestId": "abc", "StartDate": 1.5, "Name": "x"});
        assert!(m.value_at("o", &exp, &act).is_ok());
        assert!(m.value_at("o", &json!({"Name": "name"}), &json!({"Name": "other", "x": 1})).is_err());
    }

    #[test]
    fn json_texts_compare_parsed() {
        let n = normalizer(&[]);
        let mut m = Matcher::new(&n);
        assert!(m.string(r#"{"a": 1, "b": "<uuid:1>"}"#, r#"{"b":"<uuid:7>","a":1}"#));
        assert!(!m.string(r#"{"a": 1}"#, r#"{"a":2}"#));
        assert!(!m.string("[1, 2]", "[1,2,3]"));
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        let shown = short(&json!(long));
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn wildcards_split_at_the_right_place() {
        let n = normalizer(&[]);
        let mut m = Matcher::new(&n);
        let id = "arn:<partition>:states:<region>:1:express:<resource:3>:<resource:1>";
        assert!(m.string(id, "arn:<partition>:states:<region>:1:express:<res:7>:<res:8>"));
        assert!(m.string("<resource:1>", "<res:8>"));
        assert!(m.string("<resource:3>", "<res:7>"));
        let mut m = Matcher::new(&n);
        assert!(m.string(id, "arn:<partition>:states:<region>:1:express:sm:exec:with:colons"));
        assert!(m.string("<resource:1>", "exec:with:colons"));
        assert!(!m.string("<resource:3>", "exec"));
        // Backtracking honours bindings made earlier in the same string.
        let mut m = Matcher::new(&n);
        assert!(m.string("<a>-<b>-<a>", "x-y-z-x-y"));
        assert!(m.string("<b>", "z"));
        assert!(!m.string("<a>.<a>", "x.y"));
        // Pathological inputs give up instead of taking forever.
        let mut m = Matcher::new(&n);
        let long = "a".repeat(20_000);
        assert!(!m.string("<x>a<y>a<z>b", &long));
    }

    #[test]
    fn hyphenation() {
        assert_eq!(hyphenated("StateMachineArn"), "state-machine-arn");
        assert!(is_key_sentinel("x-amzn-RequestId", "x-amzn-RequestId"));
        assert!(!is_key_sentinel("Name", ""));
    }
}
