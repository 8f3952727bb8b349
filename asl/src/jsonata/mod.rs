//! JSONata expressions, as Step Functions evaluates them.
//!
//! A JSONata string in a definition is `{% expression %}`. The expression is parsed once, when the
//! definition loads ([`Expression::parse`]), and evaluated with no input document: the state's data
//! reaches it only through `$states` (`input`, `context`, `result`, `errorOutput`) and the workflow
//! variables, each referenced as `$name`. Only the variables an expression mentions are bound.
//!
//! On top of the JSONata language, Step Functions provides `$partition`, `$range`, `$hash`,
//! `$random` (with an optional seed), `$uuid` and `$parse`, and withdraws `$eval`; see [`functions`].
//!
//! Numbers are IEEE doubles inside JSONata. A result that is a whole number below 2^63 in magnitude
//! comes back as a JSON integer, any other finite number as a float, and a non-finite one as the
//! string JavaScript names it by (`"Infinity"`, `"-Infinity"`, `"NaN"`). Object keys keep their order.

mod analysis;
mod functions;
#[cfg(test)]
mod tests;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::parser::{self, ParserError};
use jsonata_core::value::{JArray, JMap, JValue};
use serde_json::{Map, Number, Value};

use crate::path::VarLookup;

use self::functions::FunctionSet;

/// How long one evaluation may run before it fails; JSONata has no other bound on a runaway recursion.
const EVALUATION_TIMEOUT_MS: u64 = 10_000;

/// The name of the reserved variable that carries the state's data.
const STATES: &str = "states";

/// A compiled JSONata expression (the text between `{%` and `%}`), parsed once at definition load.
#[derive(Clone)]
pub struct Expression {
    source: String,
    ast: AstNode,
    /// Whether `$states` appears, so the (possibly large) state data is converted only when needed.
    uses_states: bool,
    /// Every `$name` (value or call position) that a workflow variable of that name would supply.
    bindings: Vec<String>,
    /// The Step Functions functions the expression can reach.
    functions: FunctionSet,
    /// Workflow variables the expression reads, in order of first mention.
    references: Vec<String>,
    /// AWS's create-time objections, in order of appearance.
    restrictions: Vec<String>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expression").field("source", &self.source).finish_non_exhaustive()
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Expression {
    /// Parses an expression given without its `{%`/`%}` delimiters; surrounding whitespace is ignored.
    pub fn parse(source: &str) -> Result<Expression, JsonataError> {
        let source = source.trim();
        let ast = catch_unwind(|| parser::parse(source))
            .map_err(|_| JsonataError::internal())?
            .map_err(JsonataError::from_parser)?;
        let facts = analysis::analyse(&ast);
        Ok(Expression {
            source: source.to_owned(),
            uses_states: facts.names.iter().any(|n| n == STATES),
            bindings: facts.names.iter().filter(|n| *n != STATES).cloned().collect(),
            functions: FunctionSet::referenced(&facts.names),
            references: facts.references,
            restrictions: facts.restrictions,
            ast,
        })
    }

    /// Evaluates with `$states` bound to `states` (an object `{input, context, result?, errorOutput?}`)
    /// and every other `$name` resolved through `vars`. `Ok(None)` is JSONata's `undefined`.
    pub fn eval(&self, states: &Value, vars: &dyn VarLookup) -> Result<Option<Value>, JsonataError> {
        let mut context = Context::new();
        for name in &self.bindings {
            if let Some(value) = vars.lookup(name) {
                context.bind(name.clone(), to_jvalue(value));
            }
        }
        if self.uses_states {
            context.bind(STATES.to_owned(), to_jvalue(states));
        }
        let options = EvaluatorOptions { timeout_ms: Some(EVALUATION_TIMEOUT_MS), ..EvaluatorOptions::default() };
        let mut evaluator = Evaluator::with_options(context, options);
        self.functions.register(&mut evaluator);
        let result = catch_unwind(AssertUnwindSafe(|| evaluator.evaluate(&self.ast, &JValue::Undefined)))
            .map_err(|_| JsonataError::internal())?
            .map_err(JsonataError::from_evaluator)?;
        from_jvalue(&result)
    }

    /// The expression as written, without delimiters or surrounding whitespace (AWS quotes it in causes).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Names of the workflow variables the expression reads (`$name`), in order of first mention.
    ///
    /// `$states`, functions (built-in or Step Functions'), function parameters and names the expression
    /// assigns itself (`$x := …`) are left out.
    pub fn variable_references(&self) -> Vec<String> {
        self.references.clone()
    }

    /// AWS's create-time objection to the expression, if any: a reference to the (absent) input
    /// document through `$`, a bare field name at the top level, or `$$` anywhere. The text is the
    /// message of an `UNSUPPORTED_JSONATA_EXPRESSION` diagnostic, e.g.
    /// `Reference to 'phone' at the top level is not supported.`
    pub fn top_level_restriction(&self) -> Option<String> {
        self.restrictions.first().cloned()
    }

    /// Every objection [`Expression::top_level_restriction`] would report, one per distinct reference.
    pub fn top_level_restrictions(&self) -> &[String] {
        &self.restrictions
    }
}

/// `Some(inner)` when `s` is exactly `{% inner %}`: it starts with `{%` and ends with `%}`, with no
/// whitespace outside them. The inner text is returned without its surrounding whitespace.
pub fn strip_delimiters(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{%")?.strip_suffix("%}")?;
    Some(inner.trim())
}

/// What went wrong with an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonataErrorKind {
    /// The expression does not parse (`INVALID_JSONATA_EXPRESSION` at create time).
    Syntax,
    /// Evaluation raised an error.
    Evaluation,
    /// Evaluation produced a value JSON cannot hold: a function or a regular expression. AWS reports
    /// it as "returned an unsupported result type."
    UnsupportedResult,
}

/// A JSONata failure. `Display` is JSONata's message as AWS shows it in causes, code first:
/// `T1006: Attempted to invoke a non-function`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JsonataError {
    kind: JsonataErrorKind,
    message: String,
}

impl JsonataError {
    fn new(kind: JsonataErrorKind, message: impl Into<String>) -> JsonataError {
        JsonataError { kind, message: message.into() }
    }

    fn internal() -> JsonataError {
        JsonataError::new(JsonataErrorKind::Evaluation, "Internal error while processing the JSONata expression")
    }

    fn from_parser(error: ParserError) -> JsonataError {
        JsonataError::new(JsonataErrorKind::Syntax, analysis::syntax_message(&error))
    }

    fn from_evaluator(error: EvaluatorError) -> JsonataError {
        JsonataError::new(JsonataErrorKind::Evaluation, normalize_runtime_message(error.message()))
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> JsonataErrorKind {
        self.kind
    }

    /// Whether evaluation produced a function (or regex) rather than JSON.
    pub fn is_unsupported_result(&self) -> bool {
        self.kind == JsonataErrorKind::UnsupportedResult
    }

    /// JSONata's error code (`T1006`, `S0202`, `D3137`…), when the message carries one.
    pub fn code(&self) -> Option<&str> {
        jsonata_core::evaluator::error_code_prefix(&self.message)
    }

    /// The message without its leading code, which is how AWS words `INVALID_JSONATA_EXPRESSION`
    /// diagnostics (`Unexpected end of expression`).
    pub fn detail(&self) -> &str {
        match self.code() {
            Some(code) => self.message[code.len() + 1..].trim_start(),
            None => &self.message,
        }
    }
}

/// Brings jsonata-core's runtime messages to jsonata-js's wording where the two differ.
fn normalize_runtime_message(message: &str) -> String {
    const NON_FUNCTION: &str = "T1006: Attempted to invoke a non-function";
    if message.starts_with(NON_FUNCTION) {
        // jsonata-core names the callee (`…: $foo`); jsonata-js does not.
        return NON_FUNCTION.to_owned();
    }
    message.to_owned()
}

/// Converts JSON into a JSONata value.
fn to_jvalue(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::String(Rc::from(s.as_str())),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(items.iter().map(to_jvalue).collect(), flat))
        }
        Value::Object(map) => {
            JValue::Object(Rc::new(map.iter().map(|(k, v)| (k.clone(), to_jvalue(v))).collect::<JMap>()))
        }
    }
}

/// Converts an evaluation result into JSON; `undefined` is `None`.
fn from_jvalue(value: &JValue) -> Result<Option<Value>, JsonataError> {
    match value {
        JValue::Undefined => Ok(None),
        other => json_of(other).map(Some),
    }
}

fn json_of(value: &JValue) -> Result<Value, JsonataError> {
    Ok(match value {
        JValue::Null | JValue::Undefined => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number_to_json(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            Value::Array(items.iter().filter(|v| !v.is_undefined()).map(json_of).collect::<Result<Vec<_>, _>>()?)
        }
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map.iter() {
                if !item.is_undefined() {
                    out.insert(key.clone(), json_of(item)?);
                }
            }
            Value::Object(out)
        }
        JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => {
            return Err(JsonataError::new(
                JsonataErrorKind::UnsupportedResult,
                "The expression returned a function, which JSON cannot represent",
            ))
        }
    })
}

/// A JSONata number as JSON: whole numbers below 2^63 as integers, other finite numbers as floats,
/// non-finite ones as the string JavaScript gives them.
fn number_to_json(n: f64) -> Value {
    /// 2^63, the first magnitude a whole double no longer fits an `i64`.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() {
        Value::String("NaN".to_owned())
    } else if n.is_infinite() {
        Value::String(if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
    } else if n.fract() == 0.0 && n.abs() < LIMIT {
        // Exact: the value is whole and in range.
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}
