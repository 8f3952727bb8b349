//! The state machines of a CloudFormation or SAM template: every `AWS::StepFunctions::StateMachine`
//! (`Definition`, `DefinitionString`) and `AWS::Serverless::StateMachine` (`Definition`, a local
//! `DefinitionUri`), with `DefinitionSubstitutions` applied as CloudFormation applies them, to the
//! definition's JSON text.

use std::path::Path;

use legion_asl::model::StateMachineType;
use serde_json::{Map, Value};

use super::resolve::{Resolver, Unresolved};
use super::{read_document, substitute, DocumentError};

/// One state machine of a template.
#[derive(Debug)]
pub struct TemplateMachine {
    /// The resource's logical id.
    pub logical_id: String,
    /// `STANDARD` unless the resource says `EXPRESS`.
    pub machine_type: StateMachineType,
    /// The definition text, or why it could not be had.
    pub definition: Result<String, MachineError>,
    /// `${…}` placeholders left in the definition after every substitution.
    pub unresolved: Vec<String>,
}

/// Why a state machine's definition could not be had from the template.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// No definition property.
    #[error("the resource has no Definition, DefinitionString or DefinitionUri")]
    NoDefinition,
    /// The definition lives in S3.
    #[error("the definition is in S3 ({0}), which a template read on its own cannot reach")]
    InS3(String),
    /// An intrinsic that cannot be resolved.
    #[error(transparent)]
    Unresolved(#[from] Unresolved),
    /// A `DefinitionUri` file that cannot be read.
    #[error("DefinitionUri {uri}: {source}")]
    Uri {
        /// The file named.
        uri: String,
        /// Why it could not be read.
        source: DocumentError,
    },
}

const STEP_FUNCTIONS: &str = "AWS::StepFunctions::StateMachine";
const SERVERLESS: &str = "AWS::Serverless::StateMachine";

/// Whether a document is a template rather than a definition: it has `Resources` and no `States`.
pub fn is_template(document: &Value) -> bool {
    document.get("Resources").is_some_and(Value::is_object) && document.get("States").is_none()
}

/// Every state machine of `template`, in the order the template lists them. `base` is the folder
/// `DefinitionUri` paths are relative to; `extra` are substitutions applied after the template's own.
pub fn state_machines(template: &Value, base: &Path, extra: &[(String, String)]) -> Vec<TemplateMachine> {
    let resolver = Resolver::new(template);
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else { return Vec::new() };
    resources
        .iter()
        .filter_map(|(logical_id, resource)| {
            let ty = resource.get("Type").and_then(Value::as_str)?;
            if ty != STEP_FUNCTIONS && ty != SERVERLESS {
                return None;
            }
            let empty = Map::new();
            let properties = resource.get("Properties").and_then(Value::as_object).unwrap_or(&empty);
            Some(machine(&resolver, logical_id, ty, properties, base, extra))
        })
        .collect()
}

fn machine(
    resolver: &Resolver<'_>,
    logical_id: &str,
    ty: &str,
    properties: &Map<String, Value>,
    base: &Path,
    extra: &[(String, String)],
) -> TemplateMachine {
    let type_key = if ty == SERVERLESS { "Type" } else { "StateMachineType" };
    let machine_type = match properties.get(type_key).and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("EXPRESS") => StateMachineType::Express,
        _ => StateMachineType::Standard,
    };
    let definition = definition_text(resolver, ty, properties, base).and_then(|text| {
        let substitutions = substitutions(resolver, properties.get("DefinitionSubstitutions"))?;
        let text = substitute(&text, &substitutions);
        Ok(substitute(&text, extra))
    });
    let unresolved = definition.as_deref().map(placeholders).unwrap_or_default();
    TemplateMachine { logical_id: logical_id.to_owned(), machine_type, definition, unresolved }
}

/// The definition's JSON text, before `DefinitionSubstitutions`.
fn definition_text(
    resolver: &Resolver<'_>,
    ty: &str,
    properties: &Map<String, Value>,
    base: &Path,
) -> Result<String, MachineError> {
    if let Some(definition) = properties.get("Definition").or_else(|| properties.get("DefinitionBody")) {
        let mut definition = definition.clone();
        resolver.resolve_within(&mut definition)?;
        return Ok(definition.to_string());
    }
    if let Some(string) = properties.get("DefinitionString").filter(|_| ty == STEP_FUNCTIONS) {
        return Ok(resolver.text(string)?);
    }
    if let Some(location) = properties.get("DefinitionS3Location") {
        return Err(MachineError::InS3(location.to_string()));
    }
    match properties.get("DefinitionUri").filter(|_| ty == SERVERLESS) {
        Some(Value::String(uri)) if uri.starts_with("s3://") => Err(MachineError::InS3(uri.clone())),
        Some(Value::String(uri)) => {
            let text = std::fs::read_to_string(base.join(uri))
                .map_err(|e| MachineError::Uri { uri: uri.clone(), source: DocumentError::Io(e) })?;
            let document = read_document(&text).map_err(|source| MachineError::Uri { uri: uri.clone(), source })?;
            Ok(document.to_string())
        }
        Some(other) => Err(MachineError::InS3(other.to_string())),
        None => Err(MachineError::NoDefinition),
    }
}

/// `DefinitionSubstitutions` as `(key, text)` pairs.
fn substitutions(resolver: &Resolver<'_>, value: Option<&Value>) -> Result<Vec<(String, String)>, MachineError> {
    let Some(map) = value.and_then(Value::as_object) else { return Ok(Vec::new()) };
    map.iter().map(|(k, v)| Ok((k.clone(), resolver.text(v)?))).collect()
}

/// The `${…}` placeholders in `text`, each once.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !found.iter().any(|f| f == name) {
            found.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_both_resource_types() {
        let template = json!({
            "Resources": {
                "Fn": {"Type": "AWS::Lambda::Function"},
                "A": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                    "StateMachineType": "EXPRESS",
                    "DefinitionString": {"Fn::Sub": "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"${Fn.Arn}\",\"TimeoutSeconds\":${Timeout},\"End\":true}}}"},
                    "DefinitionSubstitutions": {"Timeout": 30}
                }},
                "B": {"Type": "AWS::Serverless::StateMachine", "Properties": {
                    "Definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${Greeting}", "End": true}}}
                }},
                "C": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionS3Location": {"Bucket": "b", "Key": "k"}}},
            }
        });
        assert!(is_template(&template));
        let extra = vec![("Greeting".to_owned(), "hi".to_owned())];
        let machines = state_machines(&template, Path::new("."), &extra);
        assert_eq!(machines.len(), 3);
        assert_eq!(machines[0].logical_id, "A");
        assert_eq!(machines[0].machine_type, StateMachineType::Express);
        let a: Value = serde_json::from_str(machines[0].definition.as_ref().unwrap()).unwrap();
        assert_eq!(a["States"]["T"]["Resource"], json!("arn:aws:lambda:us-east-1:123456789012:function:Fn"));
        assert_eq!(a["States"]["T"]["TimeoutSeconds"], json!(30));
        let b: Value = serde_json::from_str(machines[1].definition.as_ref().unwrap()).unwrap();
        assert_eq!(b["States"]["P"]["Result"], json!("hi"));
        assert!(matches!(machines[2].definition, Err(MachineError::InS3(_))));
    }

    #[test]
    fn intrinsics_inside_a_definition_object_are_resolved() {
        let template = json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function"},
            "M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"Definition": {
                "StartAt": "T",
                "States": {"T": {"Type": "Task", "Resource": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "Parameters": {"Region": {"Ref": "AWS::Region"}, "Keep": {"Key": "v"}}, "End": true}}
            }}},
            "Bad": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"Definition": {
                "StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Fn::ImportValue": "x"}, "End": true}}
            }}},
        }});
        let machines = state_machines(&template, Path::new("."), &[]);
        let m: Value = serde_json::from_str(machines[0].definition.as_ref().unwrap()).unwrap();
        assert_eq!(m["States"]["T"]["Resource"], json!("arn:aws:lambda:us-east-1:123456789012:function:Fn"));
        assert_eq!(m["States"]["T"]["Parameters"], json!({"Region": "us-east-1", "Keep": {"Key": "v"}}));
        assert_eq!(machines[1].definition.as_ref().unwrap_err().to_string(), "cannot resolve Fn::ImportValue");
    }

    #[test]
    fn lists_placeholders_left() {
        assert_eq!(placeholders("${A} ${B} ${A} ${"), vec!["A".to_owned(), "B".to_owned()]);
    }
}
