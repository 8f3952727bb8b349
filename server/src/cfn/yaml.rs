//! YAML documents read as JSON values, CloudFormation's short-form tags included: `!Ref X` becomes
//! `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, and every other `!Name v`
//! becomes `{"Fn::Name": v}` (`!Sub`, `!Join`, `!If`…), as CloudFormation reads them.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};

/// The deepest nesting read; deeper documents are refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// Why a YAML document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The text is not YAML.
    #[error("{0}")]
    Syntax(#[from] ScanError),
    /// The stream holds no document.
    #[error("the file holds no YAML document")]
    Empty,
    /// Anchors and aliases, which CloudFormation does not accept either.
    #[error("YAML aliases are not supported")]
    Alias,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("the YAML document is nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    /// A mapping key that is a mapping or a sequence.
    #[error("a YAML mapping key must be a scalar")]
    ComplexKey,
}

/// Reads the first document of a YAML stream.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let mut reader = Reader { parser: Parser::new_from_str(text) };
    loop {
        match reader.next()? {
            Event::StreamEnd => return Err(YamlError::Empty),
            Event::DocumentStart(_) => break,
            _ => {}
        }
    }
    let first = reader.next()?;
    reader.node(first, 0)
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<Event<'a>, YamlError> {
        match self.parser.next() {
            Some(Ok((event, _))) => Ok(event),
            Some(Err(e)) => Err(e.into()),
            None => Ok(Event::StreamEnd),
        }
    }

    /// The node that starts with `event`.
    fn node(&mut self, event: Event<'a>, depth: usize) -> Result<Value, YamlError> {
        if depth > MAX_DEPTH {
            return Err(YamlError::TooDeep);
        }
        match event {
            Event::Scalar(text, style, _, tag) => Ok(tagged(tag.as_deref(), scalar(&text, style, tag.as_deref()))),
            Event::SequenceStart(_, tag) => {
                let mut items = Vec::new();
                loop {
                    match self.next()? {
                        Event::SequenceEnd => break,
                        e => items.push(self.node(e, depth + 1)?),
                    }
                }
                Ok(tagged(tag.as_deref(), Value::Array(items)))
            }
            Event::MappingStart(_, tag) => {
                let mut map = Map::new();
                loop {
                    let key = match self.next()? {
                        Event::MappingEnd => break,
                        Event::Scalar(text, _, _, _) => text.into_owned(),
                        Event::Alias(_) => return Err(YamlError::Alias),
                        _ => return Err(YamlError::ComplexKey),
                    };
                    let first = self.next()?;
                    let value = self.node(first, depth + 1)?;
                    map.insert(key, value);
                }
                Ok(tagged(tag.as_deref(), Value::Object(map)))
            }
            Event::Alias(_) => Err(YamlError::Alias),
            // An empty document.
            _ => Ok(Value::Null),
        }
    }
}

/// A scalar under the YAML 1.2 core schema: plain `null`/`~`/empty, booleans and numbers are typed,
/// everything quoted, block-styled or tagged `!!str` is a string.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        return match tag.suffix.as_str() {
            "str" => Value::String(text.to_owned()),
            "null" => Value::Null,
            "bool" => Value::Bool(text.eq_ignore_ascii_case("true")),
            _ => plain(text),
        };
    }
    if style == ScalarStyle::Plain {
        plain(text)
    } else {
        Value::String(text.to_owned())
    }
}

fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return Value::Number(n.into());
    }
    let numeric = text.trim_start_matches(['-', '+']).starts_with(|c: char| c.is_ascii_digit() || c == '.');
    match text.parse::<f64>().ok().filter(|f| numeric && f.is_finite()).and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_owned()),
    }
}

/// Applies a CloudFormation short-form tag (`!Ref`, `!Sub`…); other tags leave the value as it is.
fn tagged(tag: Option<&Tag>, value: Value) -> Value {
    let Some(tag) = tag.filter(|t| t.handle == "!") else { return value };
    let value = match (tag.suffix.as_str(), value) {
        ("GetAtt", Value::String(s)) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(s),
        },
        (_, v) => v,
    };
    let key = match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix.clone(),
        name => format!("Fn::{name}"),
    };
    let mut map = Map::new();
    map.insert(key, value);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_plain_yaml() {
        let v = parse("a: 1\nb: [true, null, 2.5, x]\nc: '7'\nd: |\n  text\n").unwrap();
        assert_eq!(v, json!({"a": 1, "b": [true, null, 2.5, "x"], "c": "7", "d": "text\n"}));
    }

    #[test]
    fn reads_cloudformation_short_forms() {
        let text = "A: !Ref Bucket\nB: !GetAtt Fn.Arn\nC: !Sub '${AWS::Region}-x'\nD: !Join ['-', [a, !Ref P]]\nE: !Sub\n  - '${X}'\n  - X: 1\n";
        assert_eq!(
            parse(text).unwrap(),
            json!({
                "A": {"Ref": "Bucket"},
                "B": {"Fn::GetAtt": ["Fn", "Arn"]},
                "C": {"Fn::Sub": "${AWS::Region}-x"},
                "D": {"Fn::Join": ["-", ["a", {"Ref": "P"}]]},
                "E": {"Fn::Sub": ["${X}", {"X": 1}]},
            })
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(matches!(parse("a: &x 1\nb: *x\n"), Err(YamlError::Alias)));
        assert!(matches!(parse("a: [1, 2"), Err(YamlError::Syntax(_))));
        assert!(matches!(parse(&"[".repeat(1000)), Err(YamlError::TooDeep | YamlError::Syntax(_))));
        assert!(matches!(parse("? [a]\n: 1\n"), Err(YamlError::ComplexKey)));
    }
}
