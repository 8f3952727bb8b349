//! Where deployed definitions come from: JSON or YAML documents, CloudFormation and SAM templates
//! and their substitutions, for `legion validate`.

pub mod resolve;
pub mod template;
pub mod yaml;

use serde_json::Value;

pub use template::{is_template, state_machines, TemplateMachine};

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// JSON text that does not parse.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// YAML text that does not parse.
    #[error("{0}")]
    Yaml(#[from] yaml::YamlError),
}

/// Reads a JSON or YAML document: text whose first character is `{` or `[` is JSON, anything else
/// is YAML (CloudFormation's short-form tags included).
pub fn read_document(text: &str) -> Result<Value, DocumentError> {
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with(['{', '[']) {
        Ok(serde_json::from_str(body)?)
    } else {
        Ok(yaml::parse(body)?)
    }
}

/// Replaces every `${KEY}` in `text` by its value, as `DefinitionSubstitutions` and `--subst` do.
pub fn substitute(text: &str, substitutions: &[(String, String)]) -> String {
    let mut text = text.to_owned();
    for (key, value) in substitutions {
        text = text.replace(&format!("${{{key}}}"), value);
    }
    text
}

/// Parses a `KEY=VALUE` command-line substitution.
pub fn parse_substitution(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got '{arg}'")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_json_and_yaml() {
        assert_eq!(read_document("{\"a\": 1}").unwrap(), json!({"a": 1}));
        assert_eq!(read_document("a: 1\n").unwrap(), json!({"a": 1}));
        assert!(read_document("{\"a\": ").is_err());
    }

    #[test]
    fn substitutes_keys() {
        let subst = vec![("A".to_owned(), "1".to_owned()), ("B".to_owned(), "x".to_owned())];
        assert_eq!(substitute("${A}-${B}-${C}", &subst), "1-x-${C}");
        assert_eq!(parse_substitution("K=v=w"), Ok(("K".to_owned(), "v=w".to_owned())));
        assert!(parse_substitution("=v").is_err());
        assert!(parse_substitution("v").is_err());
    }
}
