//! How a Python 3 Lambda runtime renders values: `json.dumps` (the runtime's serialiser) and `repr`
//! (what an f-string shows), so the stand-in's bytes match what AWS recorded.

use serde_json::Value;

/// `json.dumps(value)`: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`.
pub fn json_dumps(value: &Value) -> String {
    let mut out = String::new();
    dumps_into(value, &mut out);
    out
}

fn dumps_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&python_number(n)),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dumps_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_string(k, out);
                out.push_str(": ");
                dumps_into(v, out);
            }
            out.push('}');
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Python prints it: floats keep their `.0`, exponents carry a sign.
fn python_number(n: &serde_json::Number) -> String {
    let s = n.to_string();
    if n.is_f64() {
        if let Some((mantissa, exp)) = s.split_once('e') {
            let exp = if exp.starts_with('-') || exp.starts_with('+') { exp.to_owned() } else { format!("+{exp}") };
            return format!("{mantissa}e{exp}");
        }
    }
    s
}

/// `repr(value)` for the value `json.loads` made: dicts, lists, `'strings'`, `True`, `None`.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    repr_into(value, &mut out);
    out
}

fn repr_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Number(n) => out.push_str(&python_number(n)),
        Value::String(s) => repr_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_string(k, out);
                out.push_str(": ");
                repr_into(v, out);
            }
            out.push('}');
        }
    }
}

fn repr_string(s: &str, out: &mut String) {
    // Python quotes with ' unless the text holds a ' and no ".
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dumps_like_python() {
        assert_eq!(json_dumps(&json!({"status": "completed"})), r#"{"status": "completed"}"#);
        assert_eq!(json_dumps(&json!({"status": "completed"})).len(), 23);
        assert_eq!(json_dumps(&json!([1, 2.5, null, true])), "[1, 2.5, null, true]");
        assert_eq!(json_dumps(&json!("é")), r#""\u00e9""#);
        assert_eq!(json_dumps(&json!(1e100)), "1e+100");
        assert_eq!(json_dumps(&json!(0.0)), "0.0");
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(repr(&json!(["string-literal"])), "['string-literal']");
        assert_eq!(repr(&json!({"a": null, "b": true, "c": "it's"})), r#"{'a': None, 'b': True, 'c': "it's"}"#);
    }
}
