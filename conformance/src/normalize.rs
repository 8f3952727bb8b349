//! Rewriting of volatile values in actual results, the way they were rewritten before recording.
//!
//! The rules, applied in this order to every actual value of a case (output, error, cause, TestState
//! response, validation message):
//!
//! 1. The case's own `normalize.test_rules` of kind `regex`, applied to the compact JSON text of the
//!    value (so a pattern may match the escaped quotes of a JSON text nested in a string, as
//!    `\"requestId\":\"…\"` does) with a literal replacement. Patterns the `regex` crate cannot compile
//!    (look-around) are dropped; the placeholders they would have produced are then matched as
//!    wildcards by [`crate::compare`]. The other rule kinds were recorded without their details and
//!    are not applied.
//! 2. A string that starts with a UUID and sits under a key ending in `id` (any case), in the value or
//!    in a JSON text nested in one of its strings, is numbered by first appearance; every occurrence of
//!    it, anywhere, becomes `<uuid:N>`.
//! 3. Under the key `timestamp`, and under any key containing `timestamp` (any case) unless the value
//!    is a valid ISO-8601 date-time (or already `date`), a string or number becomes `timestamp`.
//! 4. In every string: `us-east-1` becomes `<region>`, `arn:aws:` becomes `arn:<partition>:` and every
//!    valid ISO-8601 date-time with a zone becomes `date`.
//!
//! Recorded TestState responses and history events also had their string fields starting with `{`
//! parsed into objects ([`parse_embedded_objects`]); execution outputs did not.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::{NoExpand, Regex};
use serde_json::Value;

use crate::case::{NormalizeSpec, TestRule};

/// A valid ISO-8601 date-time with a zone (calendar-checked, leap years included).
const ISO8601: &str = concat!(
    r"(?:[1-9][0-9]{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)",
    r"|(?:0[13578]|1[02])-31)|(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)-02-29)",
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-][01][0-9]:?(?:[0-5][0-9])?)",
);
const UUID: &str = "[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}";

static ISO_ANYWHERE: LazyLock<Regex> = LazyLock::new(|| compile(ISO8601));
static ISO_WHOLE: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^(?:{ISO8601})$")));
static UUID_PREFIX: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{UUID}")));
static UUID_WHOLE: LazyLock<Regex> = LazyLock::new(|| compile(&format!("^{UUID}$")));
static TOKEN: LazyLock<Regex> = LazyLock::new(|| compile(r"<[A-Za-z_][A-Za-z0-9_.-]*(?::[0-9]+)?>"));

/// Compiles one of the constant patterns above.
fn compile(pattern: &str) -> Regex {
    // The patterns are constants covered by the unit tests: failing here is a programming error.
    Regex::new(pattern).expect("constant pattern compiles")
}

/// The placeholder produced for the region.
pub const REGION_PLACEHOLDER: &str = "<region>";
/// The placeholder produced for the partition.
pub const PARTITION_PLACEHOLDER: &str = "<partition>";

/// Finds the placeholder tokens (`<name>` or `<name:N>`) in a string.
pub fn placeholder_tokens(s: &str) -> impl Iterator<Item = regex::Match<'_>> {
    TOKEN.find_iter(s)
}

/// True when `s` is a UUID (and nothing else).
pub fn is_uuid(s: &str) -> bool {
    UUID_WHOLE.is_match(s)
}

/// True when `s` is exactly a valid ISO-8601 date-time with a zone.
pub fn is_iso8601(s: &str) -> bool {
    ISO_WHOLE.is_match(s)
}

/// The UUIDs seen so far in one case, numbered by first appearance.
#[derive(Debug, Default, Clone)]
pub struct UuidTable {
    seen: Vec<String>,
}

impl UuidTable {
    /// Records `value` (if new) and returns its number, from 1.
    pub fn number(&mut self, value: &str) -> usize {
        match self.seen.iter().position(|s| s == value) {
            Some(i) => i + 1,
            None => {
                self.seen.push(value.to_owned());
                self.seen.len()
            }
        }
    }

    fn replace_all(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (i, uuid) in self.seen.iter().enumerate() {
            if out.contains(uuid.as_str()) {
                out = out.replace(uuid.as_str(), &format!("<uuid:{}>", i + 1));
            }
        }
        out
    }
}

/// The rewriting rules of one case.
#[derive(Debug, Clone)]
pub struct Normalizer {
    rules: Vec<(Regex, String)>,
    literal_tokens: HashSet<String>,
    rejected: Vec<String>,
}

impl Normalizer {
    /// Builds the rules of a case from its `normalize` section.
    pub fn new(spec: &NormalizeSpec) -> Self {
        let mut rules = Vec::new();
        let mut rejected = Vec::new();
        let mut literal_tokens: HashSet<String> =
            [REGION_PLACEHOLDER, PARTITION_PLACEHOLDER].into_iter().map(String::from).collect();
        for rule in &spec.test_rules {
            if let TestRule::Regex { pattern, replacement } = rule {
                match Regex::new(pattern) {
                    Ok(re) => {
                        literal_tokens.extend(placeholder_tokens(replacement).map(|m| m.as_str().to_owned()));
                        rules.push((re, replacement.clone()));
                    }
                    Err(_) => rejected.push(pattern.clone()),
                }
            }
        }
        Self { rules, literal_tokens, rejected }
    }

    /// True when `token` (e.g. `<uuid:1>`, `<request_id>`) is not produced by these rules, so an
    /// expected value holding it must be matched as a wildcard.
    pub fn is_wildcard(&self, token: &str) -> bool {
        !self.literal_tokens.contains(token)
    }

    /// Case rules whose pattern the regex engine does not accept; they are not applied.
    pub fn rejected_patterns(&self) -> &[String] {
        &self.rejected
    }

    /// Rewrites a string as if it were a string value in a recorded document.
    pub fn string(&self, s: &str, uuids: &mut UuidTable) -> String {
        match self.value(&Value::String(s.to_owned()), uuids) {
            Value::String(out) => out,
            other => other.to_string(),
        }
    }

    /// Rewrites a JSON value (see the module documentation for the rules).
    pub fn value(&self, value: &Value, uuids: &mut UuidTable) -> Value {
        let mut out = self.apply_case_rules(value);
        collect_uuids(&out, None, uuids);
        rewrite(&mut out, None, uuids);
        out
    }

    fn apply_case_rules(&self, value: &Value) -> Value {
        if self.rules.is_empty() {
            return value.clone();
        }
        let text = value.to_string();
        let replaced = self.replace_text(&text);
        if replaced == text {
            return value.clone();
        }
        match serde_json::from_str(&replaced) {
            Ok(v) => v,
            // A replacement broke the JSON text: apply the rules to each key and string instead.
            Err(_) => {
                let mut v = value.clone();
                self.replace_strings(&mut v);
                v
            }
        }
    }

    fn replace_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (re, replacement) in &self.rules {
            if re.is_match(&out) {
                out = re.replace_all(&out, NoExpand(replacement)).into_owned();
            }
        }
        out
    }

    fn replace_strings(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.replace_text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.replace_strings(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.replace_strings(&mut v);
                    map.insert(self.replace_text(&k), v);
                }
            }
            _ => {}
        }
    }
}

fn is_id_key(key: &str) -> bool {
    key.len() >= 2 && key.is_char_boundary(key.len() - 2) && key[key.len() - 2..].eq_ignore_ascii_case("id")
}

fn is_timestamp_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("timestamp")
}

/// Numbers the UUIDs found under keys ending in `id`, looking into nested JSON texts too.
fn collect_uuids(value: &Value, key: Option<&str>, uuids: &mut UuidTable) {
    match value {
        Value::String(s) => {
            if key.is_some_and(is_id_key) && UUID_PREFIX.is_match(s) {
                uuids.number(s);
            } else if s.starts_with('{') || s.starts_with('[') {
                if let Ok(inner) = serde_json::from_str::<Value>(s) {
                    collect_uuids(&inner, None, uuids);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_uuids(v, key, uuids)),
        Value::Object(map) => map.iter().for_each(|(k, v)| collect_uuids(v, Some(k), uuids)),
        _ => {}
    }
}

fn rewrite(value: &mut Value, key: Option<&str>, uuids: &UuidTable) {
    match value {
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| rewrite(v, Some(k), uuids)),
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, key, uuids)),
        Value::String(s)
            if key.is_some_and(is_timestamp_key) && (key == Some("timestamp") || !(s == "date" || is_iso8601(s))) =>
        {
            *value = Value::String("timestamp".into());
        }
        Value::Number(_) if key.is_some_and(is_timestamp_key) => *value = Value::String("timestamp".into()),
        Value::String(s) => *s = rewrite_text(s, uuids),
        _ => {}
    }
}

fn rewrite_text(s: &str, uuids: &UuidTable) -> String {
    let mut out = uuids.replace_all(s);
    if out.contains(crate::case::REGION) {
        out = out.replace(crate::case::REGION, REGION_PLACEHOLDER);
    }
    if out.contains("arn:aws:") {
        out = out.replace("arn:aws:", "arn:<partition>:");
    }
    if ISO_ANYWHERE.is_match(&out) {
        out = ISO_ANYWHERE.replace_all(&out, NoExpand("date")).into_owned();
    }
    out
}

/// Parses every string field that starts with `{` and holds a JSON object, as the recordings of
/// TestState responses and history events were. Only fields of objects are parsed (not array items),
/// and a freshly parsed object is not searched further.
pub fn parse_embedded_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                match v {
                    Value::String(s) if s.starts_with('{') => {
                        if let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                            *v = parsed;
                        }
                    }
                    _ => parse_embedded_objects(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().filter(|v| v.is_object()).for_each(parse_embedded_objects),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(pairs: &[(&str, &str)]) -> Normalizer {
        let spec = NormalizeSpec {
            test_rules: pairs
                .iter()
                .map(|(p, r)| TestRule::Regex { pattern: (*p).into(), replacement: (*r).into() })
                .collect(),
        };
        Normalizer::new(&spec)
    }

    fn norm(n: &Normalizer, v: Value) -> Value {
        n.value(&v, &mut UuidTable::default())
    }

    #[test]
    fn region_and_partition() {
        let n = rules(&[]);
        assert_eq!(
            norm(&n, json!({"Arn": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "r": "us-east-1"})),
            json!({"Arn": "arn:<partition>:states:<region>:111111111111:stateMachine:sm", "r": "<region>"})
        );
        assert_eq!(n.string("arn:aws-cn:x us-west-2", &mut UuidTable::default()), "arn:aws-cn:x us-west-2");
    }

    #[test]
    fn iso_dates_become_date() {
        let n = rules(&[]);
        let v = json!({
            "a": "2016-03-05T21:29:29.243167252Z",
            "b": "at 2024-02-29T10:00:00+01:00 sharp",
            "c": "2016-13-05T21:29:29Z",
            "d": "2016-12-05 21:29:29Z",
            "e": "2016-12-05T21:29:29",
            "f": "2023-02-29T10:00:00Z",
        });
        assert_eq!(
            norm(&n, v),
            json!({
                "a": "date",
                "b": "at date sharp",
                "c": "2016-13-05T21:29:29Z",
                "d": "2016-12-05 21:29:29Z",
                "e": "2016-12-05T21:29:29",
                "f": "2023-02-29T10:00:00Z",
            })
        );
    }

    #[test]
    fn timestamp_keys() {
        let n = rules(&[]);
        let v = json!({
            "timestamp": "2024-01-01T00:00:00Z",
            "TimestampValue": "2016-03-14T01:59:00Z",
            "BadTimestamp": "2016-13-05T21:29:29Z",
            "EpochTimestamp": 1_700_000_000.5,
            "nested": [{"timestamp": 12}],
            "other": 12,
        });
        assert_eq!(
            norm(&n, v),
            json!({
                "timestamp": "timestamp",
                "TimestampValue": "date",
                "BadTimestamp": "timestamp",
                "EpochTimestamp": "timestamp",
                "nested": [{"timestamp": "timestamp"}],
                "other": 12,
            })
        );
    }

    #[test]
    fn uuids_under_id_keys_are_numbered_and_replaced_everywhere() {
        let n = rules(&[]);
        let a = "0a1b2c3d-0000-4000-8000-000000000001";
        let b = "0a1b2c3d-0000-4000-8000-000000000002";
        let c = "0a1b2c3d-0000-4000-8000-000000000003";
        let cause = format!(r#"{{"errorMessage":"x","requestId":"{b}"}}"#);
        let v = json!({
            "RequestId": a,
            "Cause": cause,
            "Other": format!("see {a}"),
            "headers": {"x-amzn-RequestId": [a]},
            "ID": b,
            "NotAnIdentifier": c,
        });
        let mut table = UuidTable::default();
        let out = n.value(&v, &mut table);
        assert_eq!(
            out,
            json!({
                "RequestId": "<uuid:1>",
                "Cause": r#"{"errorMessage":"x","requestId":"<uuid:2>"}"#,
                "Other": "see <uuid:1>",
                "headers": {"x-amzn-RequestId": ["<uuid:1>"]},
                "ID": "<uuid:2>",
                "NotAnIdentifier": c,
            })
        );
        // The numbering carries over to the next value of the same case.
        assert_eq!(n.string(&format!("{b} {a}"), &mut table), "<uuid:2> <uuid:1>");
    }

    #[test]
    fn case_rules_apply_to_json_text_before_standard_rules() {
        let n = rules(&[
            ("statemachine_e5b8b4b9", "<ArnPart_0idx>"),
            ("arn:aws:states:us-east-1:111111111111:activity:act-1", "activity_arn"),
            (r#"\\"requestId\\":\\"([a-f0-9\-]+)\\""#, r#"\"requestId\":<request-id>\""#),
        ]);
        let v = json!({
            "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:statemachine_e5b8b4b9",
            "Activity": "arn:aws:states:us-east-1:111111111111:activity:act-1",
            "Cause": r#"{"errorMessage":"x","requestId":"0a1b2c3d-0000-4000-8000-000000000001"}"#,
            "statemachine_e5b8b4b9": 1,
        });
        assert_eq!(
            norm(&n, v),
            json!({
                "Id": "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
                "Activity": "activity_arn",
                "Cause": r#"{"errorMessage":"x","requestId":<request-id>"}"#,
                "<ArnPart_0idx>": 1,
            })
        );
        assert!(!n.is_wildcard("<ArnPart_0idx>"));
        assert!(!n.is_wildcard("<request-id>"));
        assert!(!n.is_wildcard("<region>"));
        assert!(n.is_wildcard("<uuid:1>"));
    }

    #[test]
    fn replacement_is_literal() {
        let n = rules(&[("name-(1)", "$1-<x>")]);
        assert_eq!(n.string("a name-1", &mut UuidTable::default()), "a $1-<x>");
    }

    #[test]
    fn unsupported_patterns_are_dropped_and_their_tokens_become_wildcards() {
        let n = rules(&[(r"(?<=URL: )(https?.*?)(?=/x)", "<cert-domain>"), ("plain", "<plain>")]);
        assert_eq!(n.rejected_patterns().len(), 1);
        assert!(n.is_wildcard("<cert-domain>"));
        assert_eq!(n.string("plain URL: https://a/x", &mut UuidTable::default()), "<plain> URL: https://a/x");
    }

    #[test]
    fn embedded_objects_are_parsed_once() {
        let mut v = json!({
            "output": r#"{"a": "{\"b\": 1}"}"#,
            "list": r#"[{"a": 1}]"#,
            "inspectionData": {"input": r#"{"x": 1}"#, "bad": "{not json"},
            "items": [{"s": r#"{"y": 2}"#}, r#"{"z": 3}"#],
        });
        parse_embedded_objects(&mut v);
        assert_eq!(
            v,
            json!({
                "output": {"a": r#"{"b": 1}"#},
                "list": r#"[{"a": 1}]"#,
                "inspectionData": {"input": {"x": 1}, "bad": "{not json"},
                "items": [{"s": {"y": 2}}, r#"{"z": 3}"#],
            })
        );
    }
}
