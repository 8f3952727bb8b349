//! The CloudFormation intrinsics a state machine definition is built with (`Fn::Sub`, `Fn::Join`,
//! `Ref`, `Fn::GetAtt`), resolved as far as a template read on its own allows: pseudo parameters get
//! the values of a local account, parameters their defaults, and references to resources a name or
//! an ARN of the resource's kind. What cannot be resolved is reported, never guessed silently.

use serde_json::{Map, Value};

/// The account placeholder ARNs are built with (the default account of `legion serve`).
pub const ACCOUNT_ID: &str = "123456789012";
/// The region placeholder ARNs are built with.
pub const REGION: &str = "us-east-1";

/// A value that could not be resolved to text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve {0}")]
pub struct Unresolved(pub String);

/// Resolves intrinsics against one template.
pub struct Resolver<'a> {
    template: &'a Value,
}

impl<'a> Resolver<'a> {
    /// A resolver for `template` (the whole template document).
    pub fn new(template: &'a Value) -> Resolver<'a> {
        Resolver { template }
    }

    /// The text a value stands for: a string, number or boolean as it is, or an intrinsic resolved.
    pub fn text(&self, value: &Value) -> Result<String, Unresolved> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(map) if map.len() == 1 => {
                let (name, arg) = map.iter().next().ok_or_else(|| Unresolved("an empty object".into()))?;
                self.intrinsic(name, arg)
            }
            other => Err(Unresolved(format!("the value {other}"))),
        }
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> Result<String, Unresolved> {
        match (name, arg) {
            ("Ref", Value::String(name)) => self.reference(name),
            ("Fn::GetAtt", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(resource), attribute] => self.attribute(resource, &self.text(attribute)?),
                _ => Err(Unresolved("an Fn::GetAtt that is not [resource, attribute]".into())),
            },
            ("Fn::GetAtt", Value::String(dotted)) => match dotted.split_once('.') {
                Some((resource, attribute)) => self.attribute(resource, attribute),
                None => Err(Unresolved(format!("Fn::GetAtt {dotted}"))),
            },
            ("Fn::Sub", Value::String(text)) => self.sub(text, &Map::new()),
            ("Fn::Sub", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(text), Value::Object(vars)] => self.sub(text, vars),
                _ => Err(Unresolved("an Fn::Sub that is not [text, variables]".into())),
            },
            ("Fn::Join", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(delimiter), Value::Array(items)] => {
                    let items = items.iter().map(|i| self.text(i)).collect::<Result<Vec<_>, _>>()?;
                    Ok(items.join(delimiter))
                }
                _ => Err(Unresolved("an Fn::Join that is not [delimiter, [values]]".into())),
            },
            (name, _) => Err(Unresolved(name.to_owned())),
        }
    }

    /// Replaces every intrinsic inside `value` (an object whose only member is `Ref` or `Fn::…`) by
    /// the text it resolves to, as CloudFormation does in a `Definition` property.
    pub fn resolve_within(&self, value: &mut Value) -> Result<(), Unresolved> {
        match value {
            Value::Object(map) if map.len() == 1 && map.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) => {
                *value = Value::String(self.text(value)?);
                Ok(())
            }
            Value::Object(map) => map.values_mut().try_for_each(|v| self.resolve_within(v)),
            Value::Array(items) => items.iter_mut().try_for_each(|v| self.resolve_within(v)),
            _ => Ok(()),
        }
    }

    /// `Fn::Sub`: `${Name}` from `vars`, a parameter, a pseudo parameter or a resource; `${!Name}`
    /// is the literal `${Name}`. A name that resolves to nothing stays as it is, for
    /// `DefinitionSubstitutions` or `--subst` to fill.
    pub fn sub(&self, text: &str, vars: &Map<String, Value>) -> Result<String, Unresolved> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = &after[..end];
            match name.strip_prefix('!') {
                Some(literal) => {
                    out.push_str("${");
                    out.push_str(literal);
                    out.push('}');
                }
                None => match self.variable(name, vars) {
                    Some(value) => out.push_str(&value?),
                    None => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// One `${Name}` of an `Fn::Sub`, or `None` when nothing in the template names it.
    fn variable(&self, name: &str, vars: &Map<String, Value>) -> Option<Result<String, Unresolved>> {
        if let Some(v) = vars.get(name) {
            return Some(self.text(v));
        }
        if pseudo(name).is_some() || self.parameter(name).is_some() || self.resource(name).is_some() {
            return Some(self.reference(name));
        }
        let (resource, attribute) = name.split_once('.')?;
        self.resource(resource).map(|_| self.attribute(resource, attribute))
    }

    fn parameter(&self, name: &str) -> Option<&Value> {
        self.template.get("Parameters")?.get(name)
    }

    fn resource(&self, name: &str) -> Option<&Value> {
        self.template.get("Resources")?.get(name)
    }

    fn resource_type(&self, name: &str) -> &str {
        self.resource(name).and_then(|r| r.get("Type")).and_then(Value::as_str).unwrap_or_default()
    }

    /// `Ref`: a pseudo parameter, a parameter's default, or a resource's name.
    fn reference(&self, name: &str) -> Result<String, Unresolved> {
        if let Some(value) = pseudo(name) {
            return Ok(value.to_owned());
        }
        if let Some(parameter) = self.parameter(name) {
            return match parameter.get("Default") {
                Some(default) => self.text(default),
                None => Err(Unresolved(format!("Ref {name} (a parameter without a default)"))),
            };
        }
        if self.resource(name).is_none() {
            return Err(Unresolved(format!("Ref {name}")));
        }
        let service = service(self.resource_type(name));
        Ok(match service {
            "states" | "sns" => arn(service, &resource_path(self.resource_type(name), name)),
            "sqs" => format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"),
            _ => name.to_owned(),
        })
    }

    /// `Fn::GetAtt`: `Arn` of a resource, as an ARN of its kind; `Name` as its logical id.
    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, Unresolved> {
        if self.resource(resource).is_none() {
            return Err(Unresolved(format!("Fn::GetAtt {resource}.{attribute}")));
        }
        let ty = self.resource_type(resource);
        match attribute {
            "Arn" => Ok(arn(service(ty), &resource_path(ty, resource))),
            "Name" | "QueueName" | "TopicName" => Ok(resource.to_owned()),
            "QueueUrl" => Ok(format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{resource}")),
            _ => Err(Unresolved(format!("Fn::GetAtt {resource}.{attribute}"))),
        }
    }
}

/// The pseudo parameters, with a local account's values.
fn pseudo(name: &str) -> Option<&'static str> {
    Some(match name {
        "AWS::Region" => REGION,
        "AWS::AccountId" => ACCOUNT_ID,
        "AWS::Partition" => "aws",
        "AWS::URLSuffix" => "amazonaws.com",
        "AWS::StackName" => "legion",
        "AWS::StackId" => {
            "arn:aws:cloudformation:us-east-1:123456789012:stack/legion/00000000-0000-4000-8000-000000000000"
        }
        "AWS::NoValue" => "",
        _ => return None,
    })
}

/// The ARN service of a resource type (`AWS::Lambda::Function` → `lambda`).
fn service(resource_type: &str) -> &'static str {
    match resource_type {
        "AWS::Lambda::Function" | "AWS::Serverless::Function" => "lambda",
        "AWS::StepFunctions::StateMachine" | "AWS::Serverless::StateMachine" | "AWS::StepFunctions::Activity" => {
            "states"
        }
        "AWS::SNS::Topic" => "sns",
        "AWS::SQS::Queue" => "sqs",
        "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => "dynamodb",
        "AWS::Events::EventBus" => "events",
        "AWS::S3::Bucket" => "s3",
        "AWS::IAM::Role" => "iam",
        _ => "unknown",
    }
}

/// The resource part of the ARN of `name`, a resource of type `resource_type`.
fn resource_path(resource_type: &str, name: &str) -> String {
    match resource_type {
        "AWS::Lambda::Function" | "AWS::Serverless::Function" => format!("function:{name}"),
        "AWS::StepFunctions::StateMachine" | "AWS::Serverless::StateMachine" => format!("stateMachine:{name}"),
        "AWS::StepFunctions::Activity" => format!("activity:{name}"),
        "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => format!("table/{name}"),
        "AWS::Events::EventBus" => format!("event-bus/{name}"),
        "AWS::IAM::Role" => format!("role/{name}"),
        _ => name.to_owned(),
    }
}

fn arn(service: &str, path: &str) -> String {
    match service {
        "s3" => format!("arn:aws:s3:::{path}"),
        "iam" => format!("arn:aws:iam::{ACCOUNT_ID}:{path}"),
        _ => format!("arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{path}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template() -> Value {
        json!({
            "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "NoDefault": {"Type": "String"}},
            "Resources": {
                "Worker": {"Type": "AWS::Lambda::Function"},
                "Jobs": {"Type": "AWS::SQS::Queue"},
                "Child": {"Type": "AWS::StepFunctions::StateMachine"},
            }
        })
    }

    #[test]
    fn resolves_sub_join_ref_and_getatt() {
        let t = template();
        let r = Resolver::new(&t);
        let sub = json!({"Fn::Sub": "${Worker.Arn}|${Stage}|${AWS::Region}|${!Literal}|${Unknown}"});
        assert_eq!(
            r.text(&sub).unwrap(),
            "arn:aws:lambda:us-east-1:123456789012:function:Worker|dev|us-east-1|${Literal}|${Unknown}"
        );
        let join = json!({"Fn::Join": ["", ["a-", {"Ref": "Jobs"}, "-", {"Fn::GetAtt": ["Child", "Arn"]}]]});
        assert_eq!(
            r.text(&join).unwrap(),
            "a-https://sqs.us-east-1.amazonaws.com/123456789012/Jobs-arn:aws:states:us-east-1:123456789012:stateMachine:Child"
        );
        let vars = json!({"Fn::Sub": ["${X}-${Y}", {"X": {"Ref": "Stage"}, "Y": 3}]});
        assert_eq!(r.text(&vars).unwrap(), "dev-3");
    }

    #[test]
    fn reports_what_it_cannot_resolve() {
        let t = template();
        let r = Resolver::new(&t);
        assert!(r.text(&json!({"Ref": "NoDefault"})).is_err());
        assert!(r.text(&json!({"Fn::If": ["c", "a", "b"]})).is_err());
        assert!(r.text(&json!({"Fn::GetAtt": ["Nope", "Arn"]})).is_err());
        assert!(r.text(&json!([1])).is_err());
    }
}
