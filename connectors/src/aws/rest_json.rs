//! The REST-JSON protocol (Lambda, API Gateway…): the operation's HTTP method and path, members
//! bound to the path (`{FunctionName}`), the query string and headers, the other members as a JSON
//! body, or one `payload` member as the whole body; answers read back the same way.
//!
//! A blob payload is the body itself: a Step Functions string is sent as its text, any other value as
//! its JSON text, and an answer's blob payload comes back as text, as Step Functions' `aws-sdk`
//! integrations return Lambda's `Payload` ("escaped JSON", per AWS's documentation of the Lambda
//! integration). Header timestamps travel as HTTP dates.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::OffsetDateTime;

use super::codec::{self, ShapeError};
use super::model::{Member, Operation, ServiceModel, Shape, ShapeType};
use super::names::pascal;

/// Everything but RFC 3986's unreserved characters is escaped in a path label or query value.
const LABEL: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// A greedy label (`{Key+}`) keeps its slashes.
const GREEDY: &AsciiSet = &LABEL.remove(b'/');

/// A REST request: method, path with query, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRequest {
    /// The HTTP method.
    pub method: String,
    /// The path and query, to append to the endpoint.
    pub path_and_query: String,
    /// The headers the members bind (and the body's content type).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

fn shape<'m>(model: &'m ServiceModel, name: &str) -> Result<&'m Shape, ShapeError> {
    model.shape(name).ok_or_else(|| ShapeError(format!("the model has no shape '{name}'")))
}

/// Step Functions parameters as the REST request of `op`.
pub fn request(model: &ServiceModel, op: &Operation, params: &Value) -> Result<RestRequest, ShapeError> {
    let http = op.http.as_ref().ok_or_else(|| ShapeError("the operation has no HTTP binding".into()))?;
    let mut out = RestRequest {
        method: http.method.clone(),
        path_and_query: http.request_uri.clone(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let Some(input) = &op.input else { return Ok(out) };
    let input_shape = shape(model, &input.shape)?;
    let fields = match params {
        Value::Object(fields) => fields.clone(),
        Value::Null => Map::new(),
        other => return Err(ShapeError(format!("the parameters: expected an object, got {other}"))),
    };
    let mut query = Vec::new();
    let mut body = Map::new();
    for (key, value) in fields.iter().filter(|(_, v)| !v.is_null()) {
        let Some((name, member)) = codec::member_for(input_shape, key) else {
            return Err(ShapeError(format!("The field '{key}' is not supported at '/{key}'")));
        };
        let wire = member.location_name.clone().unwrap_or_else(|| name.clone());
        let kind = shape(model, &member.shape)?.kind;
        match member.location.as_deref() {
            Some("uri") => bind_label(&mut out.path_and_query, &wire, &scalar_text(kind, value, key)?),
            Some("querystring") => query.extend(query_pairs(model, member, &wire, value, key)?),
            Some("header") => out.headers.push((wire, header_text(kind, value, key)?)),
            Some("headers") => {
                let Value::Object(entries) = value else {
                    return Err(ShapeError(format!("/{key}: expected an object, got {value}")));
                };
                for (k, v) in entries {
                    out.headers.push((format!("{wire}{k}"), scalar_text(ShapeType::String, v, key)?));
                }
            }
            _ if input_shape.payload.as_deref() == Some(name.as_str()) => {
                let (content_type, bytes) = payload_body(model, member, value, key)?;
                out.headers.push(("Content-Type".into(), content_type.into()));
                out.body = bytes;
            }
            _ => {
                body.insert(name.clone(), value.clone());
            }
        }
    }
    if !body.is_empty() {
        let json = codec::json_request(model, &input.shape, &Value::Object(body))?;
        out.headers.push(("Content-Type".into(), "application/json".into()));
        out.body = serde_json::to_vec(&json).map_err(|e| ShapeError(e.to_string()))?;
    }
    if !query.is_empty() {
        let joined: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, LABEL), utf8_percent_encode(v, LABEL)))
            .collect();
        let separator = if out.path_and_query.contains('?') { '&' } else { '?' };
        out.path_and_query = format!("{}{separator}{}", out.path_and_query, joined.join("&"));
    }
    Ok(out)
}

/// Puts `value` in the path where `{wire}` or `{wire+}` stands.
fn bind_label(path: &mut String, wire: &str, value: &str) {
    let greedy = format!("{{{wire}+}}");
    if path.contains(&greedy) {
        *path = path.replace(&greedy, &utf8_percent_encode(value, GREEDY).to_string());
    } else {
        *path = path.replace(&format!("{{{wire}}}"), &utf8_percent_encode(value, LABEL).to_string());
    }
}

/// A scalar as text: strings as they are, numbers and booleans written out, timestamps ISO-8601.
fn scalar_text(kind: ShapeType, value: &Value, key: &str) -> Result<String, ShapeError> {
    match (kind, value) {
        (ShapeType::Timestamp, Value::Number(n)) => codec::iso_timestamp(&Value::Number(n.clone()))
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ShapeError(format!("/{key}: {n} is not a timestamp"))),
        (_, Value::String(s)) => Ok(s.clone()),
        (_, Value::Number(n)) => Ok(n.to_string()),
        (_, Value::Bool(b)) => Ok(b.to_string()),
        (_, other) => Err(ShapeError(format!("/{key}: expected a string, a number or a boolean, got {other}"))),
    }
}

/// A header value: as [`scalar_text`], but timestamps as HTTP dates.
fn header_text(kind: ShapeType, value: &Value, key: &str) -> Result<String, ShapeError> {
    if kind == ShapeType::Timestamp {
        let iso = scalar_text(kind, value, key)?;
        let t = OffsetDateTime::parse(&iso, &Rfc3339)
            .map_err(|_| ShapeError(format!("/{key}: '{iso}' is not an ISO-8601 timestamp")))?;
        return t.format(&Rfc2822).map_err(|e| ShapeError(format!("/{key}: {e}")));
    }
    scalar_text(kind, value, key)
}

/// The query pairs of one member: a list repeats its name, a map gives one pair per entry.
fn query_pairs(
    model: &ServiceModel,
    member: &Member,
    wire: &str,
    value: &Value,
    key: &str,
) -> Result<Vec<(String, String)>, ShapeError> {
    let s = shape(model, &member.shape)?;
    match (s.kind, value) {
        (ShapeType::List, Value::Array(items)) => {
            let kind = match &s.member {
                Some(m) => shape(model, &m.shape)?.kind,
                None => ShapeType::String,
            };
            items.iter().map(|v| Ok((wire.to_owned(), scalar_text(kind, v, key)?))).collect()
        }
        (ShapeType::Map, Value::Object(entries)) => {
            entries.iter().map(|(k, v)| Ok((k.clone(), scalar_text(ShapeType::String, v, key)?))).collect()
        }
        (kind, v) => Ok(vec![(wire.to_owned(), scalar_text(kind, v, key)?)]),
    }
}

/// The body of a payload member: its content type and bytes.
fn payload_body(
    model: &ServiceModel,
    member: &Member,
    value: &Value,
    key: &str,
) -> Result<(&'static str, Vec<u8>), ShapeError> {
    match shape(model, &member.shape)?.kind {
        ShapeType::Blob | ShapeType::String => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Ok(("application/octet-stream", text.into_bytes()))
        }
        _ => {
            let json = codec::to_json(model, member, value, &format!("/{key}"))?;
            Ok(("application/json", serde_json::to_vec(&json).map_err(|e| ShapeError(e.to_string()))?))
        }
    }
}

/// An answer as a Step Functions result: the body's members (or the payload member), the members
/// bound to headers, and the status code member.
pub fn result(
    model: &ServiceModel,
    op: &Operation,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Value, String> {
    let Some(output) = &op.output else { return Ok(Value::Object(Map::new())) };
    let s = model.shape(&output.shape).ok_or_else(|| format!("the model has no shape '{}'", output.shape))?;
    let mut out = match s.payload.as_deref().and_then(|p| s.members.get_key_value(p)) {
        Some((name, member)) => payload_result(model, name, member, body)?,
        None if body.iter().all(u8::is_ascii_whitespace) => Map::new(),
        None => {
            let json: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
            match codec::json_result(model, Some(&output.shape), &json) {
                Value::Object(m) => m,
                other => return Err(format!("the answer is not a JSON object: {other}")),
            }
        }
    };
    for (name, member) in &s.members {
        let wire = member.location_name.as_deref().unwrap_or(name);
        let value = match member.location.as_deref() {
            Some("statusCode") => Some(Value::from(status)),
            Some("header") => {
                headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(wire)).map(|(_, v)| header_value(model, member, v))
            }
            Some("headers") => {
                let prefix = wire.to_ascii_lowercase();
                let found: Map<String, Value> = headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let rest = k.to_ascii_lowercase().strip_prefix(&prefix).map(str::to_owned)?;
                        Some((rest, Value::String(v.clone())))
                    })
                    .collect();
                (!found.is_empty()).then_some(Value::Object(found))
            }
            _ => None,
        };
        if let Some(v) = value {
            out.insert(pascal(name), v);
        }
    }
    Ok(Value::Object(out))
}

fn payload_result(
    model: &ServiceModel,
    name: &str,
    member: &Member,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let kind = model.shape(&member.shape).map(|s| s.kind).unwrap_or(ShapeType::Blob);
    let value = match kind {
        ShapeType::Blob | ShapeType::String => Value::String(String::from_utf8_lossy(body).into_owned()),
        _ if body.is_empty() => return Ok(out),
        _ => {
            let json: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
            codec::from_json(model, member, &json)
        }
    };
    out.insert(pascal(name), value);
    Ok(out)
}

/// A header's text as the member's kind.
fn header_value(model: &ServiceModel, member: &Member, text: &str) -> Value {
    let kind = model.shape(&member.shape).map(|s| s.kind).unwrap_or(ShapeType::String);
    match kind {
        ShapeType::Integer | ShapeType::Long => text.trim().parse::<i64>().map(Value::from).unwrap_or(Value::Null),
        ShapeType::Double | ShapeType::Float => text.trim().parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        ShapeType::Boolean => Value::Bool(text.trim().eq_ignore_ascii_case("true")),
        ShapeType::Timestamp => OffsetDateTime::parse(text.trim(), &Rfc2822)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .map(Value::String)
            .unwrap_or_else(|| Value::String(text.to_owned())),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::model;
    use serde_json::json;

    fn lambda() -> &'static ServiceModel {
        model::model("lambda").expect("the lambda model")
    }

    #[test]
    fn members_go_to_the_path_query_headers_and_payload() {
        let op = &lambda().operations["Invoke"];
        let params = json!({
            "FunctionName": "arn:aws:lambda:us-east-1:1:function:f", "Qualifier": "prod",
            "InvocationType": "Event", "Payload": {"a": 1}
        });
        let r = request(lambda(), op, &params).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.path_and_query,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations?Qualifier=prod"
        );
        assert!(r.headers.contains(&("X-Amz-Invocation-Type".into(), "Event".into())));
        assert_eq!(r.body, br#"{"a":1}"#);
        let text = request(lambda(), op, &json!({"FunctionName": "f", "Payload": "{\"b\":2}"})).unwrap();
        assert_eq!(text.body, br#"{"b":2}"#);
    }

    #[test]
    fn a_get_has_no_body_and_unknown_fields_are_refused() {
        let op = &lambda().operations["ListFunctions"];
        let r = request(lambda(), op, &json!({"MaxItems": 5})).unwrap();
        assert_eq!((r.method.as_str(), r.path_and_query.as_str()), ("GET", "/2015-03-31/functions?MaxItems=5"));
        assert!(r.body.is_empty());
        assert!(request(lambda(), op, &json!({"Nope": 1})).is_err());
        assert!(request(lambda(), &lambda().operations["GetFunction"], &json!({"FunctionName": {"x": 1}})).is_err());
    }

    #[test]
    fn answers_take_headers_status_and_the_payload_as_text() {
        let op = &lambda().operations["Invoke"];
        let headers = vec![("x-amz-executed-version".to_owned(), "$LATEST".to_owned())];
        let r = result(lambda(), op, 200, &headers, br#"{"ok":true}"#).unwrap();
        assert_eq!(r, json!({"ExecutedVersion": "$LATEST", "Payload": "{\"ok\":true}", "StatusCode": 200}));
        let list = &lambda().operations["ListFunctions"];
        let r = result(lambda(), list, 200, &[], br#"{"Functions":[{"FunctionName":"f"}]}"#).unwrap();
        assert_eq!(r, json!({"Functions": [{"FunctionName": "f"}]}));
    }
}
