//! Shape-driven conversion between Step Functions' values and the wire: Step Functions parameters
//! (PascalCase keys, ISO-8601 timestamps) into an AWS JSON body or Query form pairs, and AWS JSON or
//! Query XML answers back into PascalCase results.

use serde_json::{Map, Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::model::{Member, ServiceModel, Shape, ShapeType};
use super::names::pascal;
use super::xml::Element;

/// A parameter that does not fit the operation's input shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

fn shape<'m>(model: &'m ServiceModel, member: &Member) -> Result<&'m Shape, ShapeError> {
    model.shape(&member.shape).ok_or_else(|| ShapeError(format!("the model has no shape '{}'", member.shape)))
}

/// The member a Step Functions key names: the member itself, or its PascalCase spelling.
pub(crate) fn member_for<'s>(s: &'s Shape, key: &str) -> Option<(&'s String, &'s Member)> {
    s.members.get_key_value(key).or_else(|| s.members.iter().find(|(name, _)| pascal(name) == key))
}

/// An ISO-8601 timestamp (or epoch seconds) as epoch seconds.
fn epoch_seconds(value: &Value, path: &str) -> Result<Value, ShapeError> {
    match value {
        Value::Number(_) => Ok(value.clone()),
        Value::String(s) => {
            let t = OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|_| ShapeError(format!("{path}: '{s}' is not an ISO-8601 timestamp")))?;
            let seconds = t.unix_timestamp_nanos() as f64 / 1e9;
            Ok(Number::from_f64(seconds).map(Value::Number).unwrap_or(Value::Null))
        }
        other => Err(ShapeError(format!("{path}: expected a timestamp, got {other}"))),
    }
}

/// Epoch seconds (or a date string) as Step Functions renders a timestamp: ISO-8601 in UTC.
pub(crate) fn iso_timestamp(value: &Value) -> Value {
    let Some(seconds) = value.as_f64() else { return value.clone() };
    let nanos = (seconds * 1e9).round() as i128;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos).ok().and_then(|t| t.format(&Rfc3339).ok()) {
        Some(s) => Value::String(s),
        None => value.clone(),
    }
}

/// Step Functions parameters as the AWS JSON body of `input`.
pub fn json_request(model: &ServiceModel, input_shape: &str, params: &Value) -> Result<Value, ShapeError> {
    let member = Member { shape: input_shape.to_owned(), location_name: None, location: None, flattened: false };
    to_json(model, &member, params, "")
}

pub(crate) fn to_json(model: &ServiceModel, member: &Member, value: &Value, path: &str) -> Result<Value, ShapeError> {
    let s = shape(model, member)?;
    match (s.kind, value) {
        (ShapeType::Structure, Value::Object(fields)) => {
            let mut out = Map::new();
            for (key, v) in fields {
                if v.is_null() {
                    continue;
                }
                let Some((name, m)) = member_for(s, key) else {
                    return Err(ShapeError(format!("The field '{key}' is not supported at '{path}/{key}'")));
                };
                out.insert(name.clone(), to_json(model, m, v, &format!("{path}/{key}"))?);
            }
            Ok(Value::Object(out))
        }
        (ShapeType::List, Value::Array(items)) => {
            let m = s.member.as_ref().ok_or_else(|| ShapeError("a list without a member".into()))?;
            items.iter().enumerate().map(|(i, v)| to_json(model, m, v, &format!("{path}[{i}]"))).collect()
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let m = s.value.as_ref().ok_or_else(|| ShapeError("a map without a value".into()))?;
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), to_json(model, m, v, &format!("{path}/{k}"))?);
            }
            Ok(Value::Object(out))
        }
        (ShapeType::Timestamp, v) => epoch_seconds(v, path),
        (ShapeType::String | ShapeType::Blob, Value::String(_)) => Ok(value.clone()),
        (ShapeType::Integer | ShapeType::Long | ShapeType::Double | ShapeType::Float, Value::Number(_)) => {
            Ok(value.clone())
        }
        (ShapeType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (ShapeType::Other, _) => Ok(value.clone()),
        (kind, v) => Err(ShapeError(format!("{}: expected {}, got {v}", display(path), kind_name(kind)))),
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "the parameters"
    } else {
        path
    }
}

fn kind_name(kind: ShapeType) -> &'static str {
    match kind {
        ShapeType::Structure => "an object",
        ShapeType::List => "an array",
        ShapeType::Map => "an object",
        ShapeType::String => "a string",
        ShapeType::Blob => "a base64 string",
        ShapeType::Integer | ShapeType::Long => "an integer",
        ShapeType::Double | ShapeType::Float => "a number",
        ShapeType::Boolean => "a boolean",
        ShapeType::Timestamp => "a timestamp",
        ShapeType::Other => "a value",
    }
}

/// An AWS JSON answer as a Step Functions result: PascalCase keys, ISO-8601 timestamps.
pub fn json_result(model: &ServiceModel, output_shape: Option<&str>, body: &Value) -> Value {
    match output_shape {
        Some(name) => {
            let member = Member { shape: name.to_owned(), location_name: None, location: None, flattened: false };
            from_json(model, &member, body)
        }
        None => Value::Object(Map::new()),
    }
}

pub(crate) fn from_json(model: &ServiceModel, member: &Member, value: &Value) -> Value {
    let Some(s) = model.shape(&member.shape) else { return value.clone() };
    match (s.kind, value) {
        (ShapeType::Structure, Value::Object(fields)) => {
            let mut out = Map::new();
            // A member sent as null is absent, as the SDKs read it.
            for (key, v) in fields.iter().filter(|(_, v)| !v.is_null()) {
                match s.members.get(key) {
                    Some(m) => out.insert(pascal(key), from_json(model, m, v)),
                    None => out.insert(pascal(key), v.clone()),
                };
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => match &s.member {
            Some(m) => Value::Array(items.iter().map(|v| from_json(model, m, v)).collect()),
            None => value.clone(),
        },
        (ShapeType::Map, Value::Object(entries)) => match &s.value {
            Some(m) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), from_json(model, m, v))).collect()),
            None => value.clone(),
        },
        (ShapeType::Timestamp, v) => iso_timestamp(v),
        _ => value.clone(),
    }
}

/// Step Functions parameters as AWS Query form pairs (without `Action` and `Version`).
pub fn query_request(
    model: &ServiceModel,
    input_shape: &str,
    params: &Value,
) -> Result<Vec<(String, String)>, ShapeError> {
    let member = Member { shape: input_shape.to_owned(), location_name: None, location: None, flattened: false };
    let mut out = Vec::new();
    to_query(model, &member, params, "", &mut out)?;
    Ok(out)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn to_query(
    model: &ServiceModel,
    member: &Member,
    value: &Value,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), ShapeError> {
    let s = shape(model, member)?;
    match (s.kind, value) {
        (_, Value::Null) => {}
        (ShapeType::Structure, Value::Object(fields)) => {
            for (key, v) in fields {
                let Some((name, m)) = member_for(s, key) else {
                    return Err(ShapeError(format!("The field '{key}' is not supported at '{prefix}/{key}'")));
                };
                let wire = m.location_name.as_deref().unwrap_or(name);
                to_query(model, m, v, &join(prefix, wire), out)?;
            }
        }
        (ShapeType::List, Value::Array(items)) => {
            let m = s.member.as_ref().ok_or_else(|| ShapeError("a list without a member".into()))?;
            if items.is_empty() {
                out.push((prefix.to_owned(), String::new()));
            }
            for (i, v) in items.iter().enumerate() {
                let item = if s.flattened || member.flattened {
                    format!("{prefix}.{}", i + 1)
                } else {
                    format!("{}.{}", join(prefix, m.location_name.as_deref().unwrap_or("member")), i + 1)
                };
                to_query(model, m, v, &item, out)?;
            }
        }
        (ShapeType::Map, Value::Object(entries)) => {
            let (k, v) = match (&s.key, &s.value) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(ShapeError("a map without a key or value".into())),
            };
            let key_name = k.location_name.as_deref().unwrap_or("key");
            let value_name = v.location_name.as_deref().unwrap_or("value");
            for (i, (key, val)) in entries.iter().enumerate() {
                let entry =
                    if s.flattened { format!("{prefix}.{}", i + 1) } else { format!("{prefix}.entry.{}", i + 1) };
                out.push((format!("{entry}.{key_name}"), key.clone()));
                to_query(model, v, val, &format!("{entry}.{value_name}"), out)?;
            }
        }
        (ShapeType::Timestamp, Value::String(s)) => out.push((prefix.to_owned(), s.clone())),
        (ShapeType::String | ShapeType::Blob, Value::String(s)) => out.push((prefix.to_owned(), s.clone())),
        (ShapeType::Integer | ShapeType::Long | ShapeType::Double | ShapeType::Float, Value::Number(n)) => {
            out.push((prefix.to_owned(), n.to_string()))
        }
        (ShapeType::Boolean, Value::Bool(b)) => out.push((prefix.to_owned(), b.to_string())),
        (kind, v) => return Err(ShapeError(format!("{}: expected {}, got {v}", display(prefix), kind_name(kind)))),
    }
    Ok(())
}

/// An AWS Query XML answer (the element inside `<…Result>`) as a Step Functions result.
pub fn xml_result(model: &ServiceModel, output_shape: Option<&str>, result: Option<&Element>) -> Value {
    match (output_shape, result) {
        (Some(name), Some(e)) => {
            let member = Member { shape: name.to_owned(), location_name: None, location: None, flattened: false };
            from_xml(model, &member, e)
        }
        _ => Value::Object(Map::new()),
    }
}

fn from_xml(model: &ServiceModel, member: &Member, e: &Element) -> Value {
    let Some(s) = model.shape(&member.shape) else { return Value::String(e.text.clone()) };
    match s.kind {
        ShapeType::Structure => {
            let mut out = Map::new();
            for (name, m) in &s.members {
                let wire = m.location_name.as_deref().unwrap_or(name);
                let flattened_list = m.flattened
                    || model
                        .shape(&m.shape)
                        .is_some_and(|x| x.flattened && matches!(x.kind, ShapeType::List | ShapeType::Map));
                if flattened_list {
                    let items: Vec<&Element> = e.children.iter().filter(|c| c.name == wire).collect();
                    if !items.is_empty() {
                        out.insert(pascal(name), flattened(model, m, &items));
                    }
                } else if let Some(child) = e.child(wire) {
                    out.insert(pascal(name), from_xml(model, m, child));
                }
            }
            Value::Object(out)
        }
        ShapeType::List => {
            let Some(m) = &s.member else { return Value::Array(Vec::new()) };
            let name = m.location_name.as_deref().unwrap_or("member");
            Value::Array(e.children.iter().filter(|c| c.name == name).map(|c| from_xml(model, m, c)).collect())
        }
        ShapeType::Map => map_entries(model, s, e.children.iter().filter(|c| c.name == "entry")),
        _ => scalar(s.kind, &e.text),
    }
}

/// The items of a flattened list or map, which repeat the member's element.
fn flattened(model: &ServiceModel, m: &Member, items: &[&Element]) -> Value {
    match model.shape(&m.shape) {
        Some(s) if s.kind == ShapeType::Map => map_entries(model, s, items.iter().copied()),
        Some(s) if s.kind == ShapeType::List => match &s.member {
            Some(item) => Value::Array(items.iter().map(|c| from_xml(model, item, c)).collect()),
            None => Value::Array(Vec::new()),
        },
        _ => Value::Array(items.iter().map(|c| from_xml(model, m, c)).collect()),
    }
}

fn map_entries<'e>(model: &ServiceModel, s: &Shape, entries: impl Iterator<Item = &'e Element>) -> Value {
    let (Some(k), Some(v)) = (&s.key, &s.value) else { return Value::Object(Map::new()) };
    let key_name = k.location_name.as_deref().unwrap_or("key");
    let value_name = v.location_name.as_deref().unwrap_or("value");
    let mut out = Map::new();
    for entry in entries {
        let key = entry.child(key_name).map(|c| c.text.clone()).unwrap_or_default();
        let value = entry.child(value_name).map(|c| from_xml(model, v, c)).unwrap_or(Value::Null);
        out.insert(key, value);
    }
    Value::Object(out)
}

fn scalar(kind: ShapeType, text: &str) -> Value {
    match kind {
        ShapeType::Integer | ShapeType::Long => {
            text.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        ShapeType::Double | ShapeType::Float => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_owned())),
        ShapeType::Boolean => Value::Bool(text.trim() == "true"),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws::model::model;

    #[test]
    fn json_parameters_keep_their_names_and_timestamps_become_epoch_seconds() {
        let sqs = model("sqs").unwrap();
        let body = json_request(
            sqs,
            "SendMessageRequest",
            &json!({"QueueUrl": "u", "MessageBody": "b", "DelaySeconds": 1, "MessageGroupId": null}),
        )
        .unwrap();
        assert_eq!(body, json!({"QueueUrl": "u", "MessageBody": "b", "DelaySeconds": 1}));
        let err = json_request(sqs, "SendMessageRequest", &json!({"QueueUrl": "u", "Nope": 1})).unwrap_err();
        assert!(err.0.contains("'Nope'"), "{err}");
        let err = json_request(sqs, "SendMessageRequest", &json!({"QueueUrl": 5})).unwrap_err();
        assert!(err.0.contains("expected a string"), "{err}");
    }

    #[test]
    fn query_lists_and_maps_are_numbered() {
        let sns = model("sns").unwrap();
        let pairs = query_request(
            sns,
            "PublishInput",
            &json!({"TopicArn": "t", "Message": "m", "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}}),
        )
        .unwrap();
        assert!(pairs.contains(&("MessageAttributes.entry.1.Name".to_owned(), "a".to_owned())), "{pairs:?}");
        assert!(pairs.contains(&("MessageAttributes.entry.1.Value.DataType".to_owned(), "String".to_owned())));
    }

    #[test]
    fn xml_answers_follow_the_output_shape() {
        let sns = model("sns").unwrap();
        let doc = crate::aws::xml::parse(
            "<ListTopicsResponse><ListTopicsResult><Topics><member><TopicArn>a</TopicArn></member>\
             <member><TopicArn>b</TopicArn></member></Topics></ListTopicsResult></ListTopicsResponse>",
        )
        .unwrap();
        let result = doc.child("ListTopicsResult");
        assert_eq!(
            xml_result(sns, Some("ListTopicsResponse"), result),
            json!({"Topics": [{"TopicArn": "a"}, {"TopicArn": "b"}]})
        );
    }

    #[test]
    fn json_timestamps_render_as_iso_8601() {
        let sm = model("secretsmanager").unwrap();
        let out = json_result(
            sm,
            Some("ListSecretsResponse"),
            &json!({"SecretList": [{"Name": "n", "CreatedDate": 1700000000.5}]}),
        );
        assert_eq!(out, json!({"SecretList": [{"Name": "n", "CreatedDate": "2023-11-14T22:13:20.5Z"}]}));
    }
}
