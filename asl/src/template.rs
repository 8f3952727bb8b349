//! Payload templates and JSONata templates, compiled once when a definition loads.
//!
//! A JSONPath payload template (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`…) is JSON in
//! which keys ending in `.$` hold a path or an intrinsic call; the key loses its suffix in the result.
//! A JSONata template (`Output`, `Arguments`, `Assign`, `Items`…) is JSON in which any string of the
//! form `{% expr %}`, at any depth, is an expression.

use serde_json::{Map, Value};

use crate::diagnostic::Diagnostic;
use crate::error::{compact, EvalError};
use crate::intrinsics::{self, Intrinsic};
use crate::jsonata::{self, Expression};
use crate::path::{Path, PathError, Scope, VarLookup};

/// What templates are evaluated against.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// `$` in JSONPath mode.
    pub data: &'a Value,
    /// `$$`: the context object.
    pub context: &'a Value,
    /// Workflow variables.
    pub vars: &'a dyn VarLookup,
    /// `$states` in JSONata mode (`{input, context, result?, errorOutput?}`); `Null` in JSONPath mode.
    pub states: &'a Value,
}

impl<'a> Env<'a> {
    /// The JSONPath scope of this environment.
    pub fn scope(&self) -> Scope<'a> {
        Scope { data: self.data, context: self.context, vars: self.vars }
    }
}

/// A compiled template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with nothing to evaluate.
    Literal(Value),
    /// An object with at least one dynamic member; keys are final (suffix removed).
    Object(Vec<(String, Template)>),
    /// An array with at least one dynamic element.
    Array(Vec<Template>),
    /// `"key.$": "$.path"`; `field` is the original key, for error messages.
    Path {
        /// The path.
        path: Path,
        /// The key as written (`value.$`).
        field: String,
    },
    /// `"key.$": "States.Fn(...)"`.
    Intrinsic(Box<Intrinsic>),
    /// `"{% expr %}"`; `location` is the field path (`Output/result`).
    Jsonata {
        /// The expression.
        expr: Box<Expression>,
        /// Where it sits, for causes and `EvaluationFailed.location`.
        location: String,
    },
}

impl Template {
    /// Compiles a JSONPath payload template found at `location` (a definition pointer for diagnostics).
    pub fn jsonpath(value: &Value, location: &str, diags: &mut Vec<Diagnostic>) -> Template {
        match value {
            Value::Object(map) => {
                let mut members = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (key, v) in map {
                    if let Some(name) = key.strip_suffix(".$") {
                        dynamic = true;
                        members.push((name.to_owned(), Template::dynamic_value(key, v, location, diags)));
                    } else {
                        let t = Template::jsonpath(v, location, diags);
                        dynamic |= !matches!(t, Template::Literal(_));
                        members.push((key.clone(), t));
                    }
                }
                if dynamic {
                    Template::Object(members)
                } else {
                    Template::Literal(value.clone())
                }
            }
            Value::Array(items) => {
                let items: Vec<Template> = items.iter().map(|v| Template::jsonpath(v, location, diags)).collect();
                if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(items)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// The value of a `key.$` member: a path or an intrinsic call.
    fn dynamic_value(key: &str, value: &Value, location: &str, diags: &mut Vec<Diagnostic>) -> Template {
        let invalid = |diags: &mut Vec<Diagnostic>| {
            diags.push(Diagnostic::schema(
                format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"),
                location,
            ));
            Template::Literal(Value::Null)
        };
        let Some(text) = value.as_str() else { return invalid(diags) };
        if intrinsics::is_intrinsic(text) {
            match Intrinsic::parse(text) {
                Ok(call) => Template::Intrinsic(Box::new(call)),
                Err(_) => invalid(diags),
            }
        } else {
            match Path::parse(text) {
                Ok(path) => Template::Path { path, field: key.to_owned() },
                Err(_) => invalid(diags),
            }
        }
    }

    /// Compiles a JSONata template; `field` is the field path used in causes (`Output`, `Arguments`).
    pub fn jsonata(value: &Value, field: &str, location: &str, diags: &mut Vec<Diagnostic>) -> Template {
        match value {
            Value::String(s) => match jsonata::strip_delimiters(s) {
                Some(src) => match Expression::parse(src) {
                    Ok(expr) => {
                        if let Some(message) = expr.top_level_restriction() {
                            diags.push(Diagnostic::new(
                                crate::diagnostic::Code::UnsupportedJsonataExpression,
                                message,
                                location,
                            ));
                        }
                        Template::Jsonata { expr: Box::new(expr), location: field.to_owned() }
                    }
                    Err(e) => {
                        diags.push(Diagnostic::new(
                            crate::diagnostic::Code::InvalidJsonataExpression,
                            e.detail().to_string(),
                            location,
                        ));
                        Template::Literal(Value::Null)
                    }
                },
                None => Template::Literal(value.clone()),
            },
            Value::Object(map) => {
                let members: Vec<(String, Template)> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), Template::jsonata(v, &format!("{field}/{k}"), location, diags)))
                    .collect();
                if members.iter().all(|(_, t)| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Object(members)
                }
            }
            Value::Array(items) => {
                let items: Vec<Template> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Template::jsonata(v, &format!("{field}[{i}]"), location, diags))
                    .collect();
                if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(items)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    /// The template's value when it has nothing to evaluate.
    pub fn as_literal(&self) -> Option<&Value> {
        match self {
            Template::Literal(v) => Some(v),
            _ => None,
        }
    }

    /// Every variable name the template reads (`$name` paths and JSONata references).
    pub fn variable_references(&self, out: &mut Vec<String>) {
        match self {
            Template::Literal(_) => {}
            Template::Object(members) => members.iter().for_each(|(_, t)| t.variable_references(out)),
            Template::Array(items) => items.iter().for_each(|t| t.variable_references(out)),
            Template::Path { path, .. } => {
                if let crate::path::Root::Variable(name) = path.root() {
                    out.push(name.clone());
                }
            }
            Template::Intrinsic(call) => out.extend(call.variable_references()),
            Template::Jsonata { expr, .. } => out.extend(expr.variable_references()),
        }
    }

    /// Evaluates the template.
    pub fn eval(&self, env: &Env<'_>) -> Result<Value, EvalError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(members) => {
                let mut out = Map::with_capacity(members.len());
                for (key, t) in members {
                    out.insert(key.clone(), t.eval(env)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items.iter().map(|t| t.eval(env)).collect::<Result<_, _>>().map(Value::Array),
            Template::Path { path, field } => match path.eval(&env.scope()) {
                Ok(v) => Ok(v.into_owned()),
                Err(PathError::Miss(_)) => Err(EvalError::runtime(format!(
                    "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
                    path,
                    field,
                    compact(env.data)
                ))),
                Err(PathError::UndefinedVariable(name)) => Err(undefined_variable(&name, field)),
            },
            Template::Intrinsic(call) => call.eval(&env.scope()).map_err(|e| EvalError::new(e.error_name(), e.cause())),
            Template::Jsonata { expr, location } => eval_jsonata(expr, location, env),
        }
    }
}

/// The error for a `$name` that was never assigned.
pub fn undefined_variable(name: &str, field: &str) -> EvalError {
    EvalError::runtime(format!(
        "The JSONPath '${name}' specified for the field '{field}' could not be found in the variables"
    ))
}

/// Evaluates one JSONata expression; `undefined` is an error, as in AWS.
pub fn eval_jsonata(expr: &Expression, location: &str, env: &Env<'_>) -> Result<Value, EvalError> {
    match expr.eval(env.states, env.vars) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(EvalError::query(
            format!(
                "The JSONata expression '{}' specified for the field '{}' returned nothing (undefined).",
                expr.source(),
                location
            ),
            location,
        )),
        Err(e) if e.is_unsupported_result() => Err(EvalError::query(
            format!(
                "The JSONata expression '{}' specified for the field '{}' returned an unsupported result type.",
                expr.source(),
                location
            ),
            location,
        )),
        Err(e) => Err(EvalError::query(
            format!(
                "The JSONata expression '{}' specified for the field '{}' threw an error during evaluation. {}",
                expr.source(),
                location,
                e
            ),
            location,
        )),
    }
}

/// Describes a value's JSON type as AWS names it in causes (`array`, `object`, `string`…).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
