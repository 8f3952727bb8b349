//! Choice rules in the JSONPath query language: parsing a rule object into a typed [`Condition`]
//! and evaluating it against a state's data, context object and variables.
//!
//! A rule is either a data test (`Variable` plus exactly one comparison operator) or a boolean
//! combination (`And`/`Or` over non-empty arrays, `Not` over one rule). Evaluation follows AWS:
//! - a value of the wrong type makes a comparison false, never an error;
//! - strings compare by UTF-16 code units, numbers as `f64`, timestamps as instants once parsed;
//! - `IsPresent` tests whether `Variable` selects anything; every other operator fails with
//!   `States.Runtime` when `Variable` (or the path of a `…Path` operator) selects nothing;
//! - `StringMatches` treats only `*` as special (`\*` is a literal star, `\\` a literal backslash).

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use crate::diagnostic::Diagnostic;
use crate::path::{Path, Scope};
use crate::timestamp;

/// A Choice rule's boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// True when every rule is true; evaluation stops at the first false one.
    And(Vec<Condition>),
    /// True when some rule is true; evaluation stops at the first true one.
    Or(Vec<Condition>),
    /// The negation of one rule.
    Not(Box<Condition>),
    /// A comparison of the value at `Variable`.
    Test(DataTest),
}

/// A data-test expression: `Variable`, one operator and what it compares against.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTest {
    /// The path whose value is tested.
    pub variable: Path,
    /// The comparison (for a `…Path` operator, the same operator as its literal twin).
    pub operator: Operator,
    /// The literal or, for a `…Path` operator, the path giving the other side.
    pub comparand: Comparand,
}

/// A comparison operator, without the `Path` suffix (see [`Comparand::Path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Operator {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

/// The other side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparand {
    /// A string literal (`String…` operators).
    String(String),
    /// A `StringMatches` pattern.
    Pattern(Pattern),
    /// A number literal (`Numeric…` operators).
    Number(f64),
    /// A boolean literal (`BooleanEquals` and the `Is…` operators).
    Boolean(bool),
    /// A timestamp literal (`Timestamp…` operators).
    Timestamp(OffsetDateTime),
    /// The path of a `…Path` operator, resolved at evaluation time.
    Path(Path),
}

/// A `StringMatches` pattern: literal characters and `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    tokens: Vec<Token>,
    /// The pattern ends with a lone `\`; matching it is a runtime error.
    dangling_escape: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Star,
}

/// Why a rule could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// `Variable`, or the path of a `…Path` operator, selected nothing (or named an unassigned variable).
    #[error("Invalid path '{0}': The choice state's condition path references an invalid value.")]
    InvalidPath(String),
    /// A `StringMatches` pattern ends with an unpaired escape character.
    #[error("The StringMatches pattern '{0}' ends with an incomplete escape sequence.")]
    DanglingEscape(String),
}

impl ChoiceError {
    /// The ASL error name the state fails with.
    pub fn error_name(&self) -> &'static str {
        "States.Runtime"
    }

    /// AWS's detail text; the engine prefixes it with the state it occurred in.
    pub fn cause(&self) -> String {
        self.to_string()
    }
}

/// How two values of the same kind must be ordered for a comparison to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Relation {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Relation::Equals => ordering == Ordering::Equal,
            Relation::LessThan => ordering == Ordering::Less,
            Relation::GreaterThan => ordering == Ordering::Greater,
            Relation::LessThanEquals => ordering != Ordering::Greater,
            Relation::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// What an operator compares, which decides the literal it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String(Relation),
    Matches,
    Numeric(Relation),
    Boolean,
    Timestamp(Relation),
    /// A type test (`Is…`), whose literal is a boolean.
    TypeTest,
}

impl Operator {
    /// Every operator, in the order the Developer Guide lists them.
    pub const ALL: [Operator; 23] = [
        Operator::StringEquals,
        Operator::StringLessThan,
        Operator::StringGreaterThan,
        Operator::StringLessThanEquals,
        Operator::StringGreaterThanEquals,
        Operator::StringMatches,
        Operator::NumericEquals,
        Operator::NumericLessThan,
        Operator::NumericGreaterThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThanEquals,
        Operator::BooleanEquals,
        Operator::TimestampEquals,
        Operator::TimestampLessThan,
        Operator::TimestampGreaterThan,
        Operator::TimestampLessThanEquals,
        Operator::TimestampGreaterThanEquals,
        Operator::IsNull,
        Operator::IsPresent,
        Operator::IsNumeric,
        Operator::IsString,
        Operator::IsBoolean,
        Operator::IsTimestamp,
    ];

    /// The field name of the literal form, e.g. `StringEquals`.
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringLessThan => "StringLessThan",
            Operator::StringGreaterThan => "StringGreaterThan",
            Operator::StringLessThanEquals => "StringLessThanEquals",
            Operator::StringGreaterThanEquals => "StringGreaterThanEquals",
            Operator::StringMatches => "StringMatches",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::BooleanEquals => "BooleanEquals",
            Operator::TimestampEquals => "TimestampEquals",
            Operator::TimestampLessThan => "TimestampLessThan",
            Operator::TimestampGreaterThan => "TimestampGreaterThan",
            Operator::TimestampLessThanEquals => "TimestampLessThanEquals",
            Operator::TimestampGreaterThanEquals => "TimestampGreaterThanEquals",
            Operator::IsNull => "IsNull",
            Operator::IsPresent => "IsPresent",
            Operator::IsNumeric => "IsNumeric",
            Operator::IsString => "IsString",
            Operator::IsBoolean => "IsBoolean",
            Operator::IsTimestamp => "IsTimestamp",
        }
    }

    /// Whether a `…Path` twin exists (all comparisons but `StringMatches` and the `Is…` tests).
    pub fn has_path_twin(self) -> bool {
        !matches!(self.kind(), Kind::Matches | Kind::TypeTest)
    }

    /// Finds the operator a rule field names: `(operator, is_path_twin)`.
    pub fn from_field(field: &str) -> Option<(Operator, bool)> {
        Operator::ALL.into_iter().find_map(|op| {
            if field == op.name() {
                Some((op, false))
            } else if op.has_path_twin() && field.strip_suffix("Path") == Some(op.name()) {
                Some((op, true))
            } else {
                None
            }
        })
    }

    fn kind(self) -> Kind {
        use Relation::*;
        match self {
            Operator::StringEquals => Kind::String(Equals),
            Operator::StringLessThan => Kind::String(LessThan),
            Operator::StringGreaterThan => Kind::String(GreaterThan),
            Operator::StringLessThanEquals => Kind::String(LessThanEquals),
            Operator::StringGreaterThanEquals => Kind::String(GreaterThanEquals),
            Operator::StringMatches => Kind::Matches,
            Operator::NumericEquals => Kind::Numeric(Equals),
            Operator::NumericLessThan => Kind::Numeric(LessThan),
            Operator::NumericGreaterThan => Kind::Numeric(GreaterThan),
            Operator::NumericLessThanEquals => Kind::Numeric(LessThanEquals),
            Operator::NumericGreaterThanEquals => Kind::Numeric(GreaterThanEquals),
            Operator::BooleanEquals => Kind::Boolean,
            Operator::TimestampEquals => Kind::Timestamp(Equals),
            Operator::TimestampLessThan => Kind::Timestamp(LessThan),
            Operator::TimestampGreaterThan => Kind::Timestamp(GreaterThan),
            Operator::TimestampLessThanEquals => Kind::Timestamp(LessThanEquals),
            Operator::TimestampGreaterThanEquals => Kind::Timestamp(GreaterThanEquals),
            Operator::IsNull
            | Operator::IsPresent
            | Operator::IsNumeric
            | Operator::IsString
            | Operator::IsBoolean
            | Operator::IsTimestamp => Kind::TypeTest,
        }
    }
}

impl Pattern {
    /// Compiles a `StringMatches` pattern. A trailing lone `\` is kept and reported when matching.
    pub fn new(source: &str) -> Pattern {
        let mut tokens = Vec::new();
        let mut dangling_escape = false;
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(Token::Star),
                '\\' => match chars.next() {
                    Some(escaped) => tokens.push(Token::Char(escaped)),
                    None => dangling_escape = true,
                },
                c => tokens.push(Token::Char(c)),
            }
        }
        Pattern { source: source.to_owned(), tokens, dangling_escape }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> Result<bool, ChoiceError> {
        if self.dangling_escape {
            return Err(ChoiceError::DanglingEscape(self.source.clone()));
        }
        let text: Vec<char> = text.chars().collect();
        let pattern = &self.tokens;
        // Greedy matching that backtracks only to the most recent star: linear in practice.
        let (mut p, mut t) = (0, 0);
        let mut last_star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(Token::Char(c)) if *c == text[t] => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Star) => {
                    last_star = Some((p, t));
                    p += 1;
                }
                _ => match last_star {
                    Some((star, from)) => {
                        last_star = Some((star, from + 1));
                        p = star + 1;
                        t = from + 1;
                    }
                    None => return Ok(false),
                },
            }
        }
        Ok(pattern[p..].iter().all(|token| *token == Token::Star))
    }
}

impl Condition {
    /// Parses the rule object found at `location` (e.g. `/States/C/Choices[0]`).
    ///
    /// At the top level of `Choices` the fields `Next`, `Assign` and `Comment` belong to the caller and
    /// are ignored; nested rules (inside `And`/`Or`/`Not`) may carry only `Comment` besides their test.
    /// Every problem found is pushed to `diags`; `None` is returned when the rule is unusable.
    pub fn parse(rule: &Value, location: &str, top_level: bool, diags: &mut Vec<Diagnostic>) -> Option<Condition> {
        let before = diags.len();
        let condition = parse_rule(rule, location, top_level, diags);
        if diags.len() > before {
            None
        } else {
            condition
        }
    }

    /// Evaluates the rule in a scope (`$` data, `$$` context, `$name` variables).
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, ChoiceError> {
        match self {
            Condition::And(rules) => {
                for rule in rules {
                    if !rule.eval(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for rule in rules {
                    if rule.eval(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(rule) => Ok(!rule.eval(scope)?),
            Condition::Test(test) => test.eval(scope),
        }
    }
}

impl DataTest {
    /// The field name as written in the rule, e.g. `StringEqualsPath`.
    pub fn field_name(&self) -> String {
        match self.comparand {
            Comparand::Path(_) => format!("{}Path", self.operator.name()),
            _ => self.operator.name().to_owned(),
        }
    }

    /// Evaluates the test in a scope.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, ChoiceError> {
        let value = self.variable.eval(scope).ok();
        if self.operator == Operator::IsPresent {
            return Ok(value.is_some() == (self.comparand == Comparand::Boolean(true)));
        }
        let value = value.ok_or_else(|| ChoiceError::InvalidPath(self.variable.as_str().to_owned()))?;
        let value: &Value = &value;

        // The value a `…Path` operator compares against; literals are handled per kind below.
        let resolved = match &self.comparand {
            Comparand::Path(path) => {
                Some(path.eval(scope).map_err(|_| ChoiceError::InvalidPath(path.as_str().to_owned()))?)
            }
            _ => None,
        };
        let other: Option<&Value> = resolved.as_deref();

        Ok(match (self.operator.kind(), &self.comparand) {
            (Kind::String(relation), comparand) => {
                let expected = match (comparand, other) {
                    (Comparand::String(s), _) => Some(s.as_str()),
                    (_, Some(v)) => v.as_str(),
                    _ => None,
                };
                match (value.as_str(), expected) {
                    (Some(a), Some(b)) => relation.holds(a.encode_utf16().cmp(b.encode_utf16())),
                    _ => false,
                }
            }
            (Kind::Matches, Comparand::Pattern(pattern)) => match value.as_str() {
                Some(text) => pattern.matches(text)?,
                None => false,
            },
            (Kind::Numeric(relation), comparand) => {
                let expected = match (comparand, other) {
                    (Comparand::Number(n), _) => Some(*n),
                    (_, Some(v)) => v.as_f64(),
                    _ => None,
                };
                match (value.as_f64(), expected) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| relation.holds(o)),
                    _ => false,
                }
            }
            (Kind::Boolean, comparand) => {
                let expected = match (comparand, other) {
                    (Comparand::Boolean(b), _) => Some(*b),
                    (_, Some(v)) => v.as_bool(),
                    _ => None,
                };
                matches!((value.as_bool(), expected), (Some(a), Some(b)) if a == b)
            }
            (Kind::Timestamp(relation), comparand) => {
                let expected = match (comparand, other) {
                    (Comparand::Timestamp(t), _) => Some(*t),
                    (_, Some(v)) => v.as_str().and_then(timestamp::parse),
                    _ => None,
                };
                match (value.as_str().and_then(timestamp::parse), expected) {
                    (Some(a), Some(b)) => relation.holds(a.cmp(&b)),
                    _ => false,
                }
            }
            (Kind::TypeTest, Comparand::Boolean(expected)) => {
                let is = match self.operator {
                    Operator::IsNull => value.is_null(),
                    Operator::IsNumeric => value.is_number(),
                    Operator::IsString => value.is_string(),
                    Operator::IsBoolean => value.is_boolean(),
                    Operator::IsTimestamp => value.as_str().is_some_and(timestamp::is_valid),
                    _ => false,
                };
                is == *expected
            }
            // `parse` never builds other pairings.
            _ => false,
        })
    }
}

/// The fields a JSONata Choice rule uses that a JSONPath rule must not.
const JSONATA_ONLY: [&str; 2] = ["Condition", "Output"];

fn parse_rule(rule: &Value, location: &str, top_level: bool, diags: &mut Vec<Diagnostic>) -> Option<Condition> {
    let Some(fields) = rule.as_object() else {
        diags.push(Diagnostic::schema("Expected value of type: Object", location));
        return None;
    };

    let mut variable: Option<&Value> = None;
    // The fields that decide what the rule is: And/Or/Not and the operators, in written order.
    let mut heads: Vec<&str> = Vec::new();
    for (key, value) in fields {
        let key = key.as_str();
        match key {
            "Comment" => {
                if !top_level && !value.is_string() {
                    diags.push(Diagnostic::schema("The value for the field 'Comment' must be a string", at(location, key)));
                }
            }
            "Next" | "Assign" if top_level => {}
            "Variable" => variable = Some(value),
            "And" | "Or" | "Not" => heads.push(key),
            _ if Operator::from_field(key).is_some() => heads.push(key),
            _ if JSONATA_ONLY.contains(&key) => diags.push(Diagnostic::schema(
                format!(
                    "The QueryLanguage is set to 'JSONPath', but field '{key}' is only supported for the 'JSONata' QueryLanguage"
                ),
                location,
            )),
            _ => diags.push(Diagnostic::schema(format!("Field '{key}' is not supported"), location)),
        }
    }

    let head = match heads.as_slice() {
        [] => {
            diags.push(Diagnostic::schema(
                "A Choice Rule must contain exactly one of the fields And, Or, Not or a comparison operator",
                location,
            ));
            return None;
        }
        [one] => *one,
        many => {
            diags.push(Diagnostic::schema(
                format!("There should only be one of the following fields: [{}]", many.join(", ")),
                location,
            ));
            return None;
        }
    };
    let value = fields.get(head)?;

    match head {
        "And" | "Or" => {
            if variable.is_some() {
                diags.push(Diagnostic::schema("Field 'Variable' is not supported", location));
            }
            let rules = parse_rule_list(value, &at(location, head), diags)?;
            Some(if head == "And" { Condition::And(rules) } else { Condition::Or(rules) })
        }
        "Not" => {
            if variable.is_some() {
                diags.push(Diagnostic::schema("Field 'Variable' is not supported", location));
            }
            let inner = parse_rule(value, &at(location, head), false, diags)?;
            Some(Condition::Not(Box::new(inner)))
        }
        _ => {
            let (operator, is_path) = Operator::from_field(head)?;
            let variable = match variable {
                None => {
                    diags.push(Diagnostic::schema("These fields are required: [Variable]", location));
                    None
                }
                Some(v) => parse_path_field("Variable", v, location, diags),
            };
            let comparand = parse_comparand(operator, is_path, head, value, location, diags);
            Some(Condition::Test(DataTest { variable: variable?, operator, comparand: comparand? }))
        }
    }
}

fn parse_rule_list(value: &Value, location: &str, diags: &mut Vec<Diagnostic>) -> Option<Vec<Condition>> {
    let Some(items) = value.as_array() else {
        diags.push(Diagnostic::schema("Expected value of type: Array", location));
        return None;
    };
    if items.is_empty() {
        diags.push(Diagnostic::schema("Value cannot be empty", location));
        return None;
    }
    let rules: Vec<Option<Condition>> =
        items.iter().enumerate().map(|(i, item)| parse_rule(item, &format!("{location}[{i}]"), false, diags)).collect();
    rules.into_iter().collect()
}

fn parse_comparand(
    operator: Operator,
    is_path: bool,
    field: &str,
    value: &Value,
    location: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Comparand> {
    if is_path {
        return parse_path_field(field, value, location, diags).map(Comparand::Path);
    }
    let wrong_type = |diags: &mut Vec<Diagnostic>, what: &str| {
        diags
            .push(Diagnostic::schema(format!("The value for the field '{field}' must be {what}"), at(location, field)));
        None
    };
    match operator.kind() {
        Kind::String(_) => match value.as_str() {
            Some(s) => Some(Comparand::String(s.to_owned())),
            None => wrong_type(diags, "a string"),
        },
        Kind::Matches => match value.as_str() {
            Some(s) => Some(Comparand::Pattern(Pattern::new(s))),
            None => wrong_type(diags, "a string"),
        },
        Kind::Numeric(_) => match value.as_f64() {
            Some(n) => Some(Comparand::Number(n)),
            None => wrong_type(diags, "a number"),
        },
        Kind::Boolean | Kind::TypeTest => match value.as_bool() {
            Some(b) => Some(Comparand::Boolean(b)),
            None => wrong_type(diags, "a boolean"),
        },
        Kind::Timestamp(_) => match value.as_str() {
            Some(s) => match timestamp::parse(s) {
                Some(t) => Some(Comparand::Timestamp(t)),
                None => {
                    diags.push(Diagnostic::schema("String does not match RFC3339 timestamp", at(location, field)));
                    None
                }
            },
            None => wrong_type(diags, "a string"),
        },
    }
}

/// Parses a field holding a path (`Variable` or a `…Path` operator).
fn parse_path_field(field: &str, value: &Value, location: &str, diags: &mut Vec<Diagnostic>) -> Option<Path> {
    match value.as_str().map(Path::parse) {
        Some(Ok(path)) => Some(path),
        _ => {
            diags.push(Diagnostic::schema(
                format!("The value for the field '{field}' must be a valid JSONPath"),
                at(location, field),
            ));
            None
        }
    }
}

fn at(location: &str, field: &str) -> String {
    format!("{location}/{field}")
}

#[cfg(test)]
mod tests;
