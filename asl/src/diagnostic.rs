//! Diagnostics: what validation reports about a definition, in AWS's words.

use std::fmt;

/// The kind of problem, as AWS names it in `InvalidDefinition` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The definition is not JSON.
    InvalidJsonDescription,
    /// A field is missing, unknown, of the wrong type or out of range.
    SchemaValidationFailed,
    /// A `Next`, `Default` or `StartAt` names no state, or a state is unreachable.
    MissingTransitionTarget,
    /// No state ends the workflow.
    MissingEndState,
    /// A JSONata expression does not parse.
    InvalidJsonataExpression,
    /// A JSONata expression uses something Step Functions forbids.
    UnsupportedJsonataExpression,
    /// Two states share a name.
    DuplicateStateName,
}

impl Code {
    /// The code as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJsonDescription => "INVALID_JSON_DESCRIPTION",
            Code::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            Code::MissingTransitionTarget => "MISSING_TRANSITION_TARGET",
            Code::MissingEndState => "MISSING_END_STATE",
            Code::InvalidJsonataExpression => "INVALID_JSONATA_EXPRESSION",
            Code::UnsupportedJsonataExpression => "UNSUPPORTED_JSONATA_EXPRESSION",
            Code::DuplicateStateName => "DUPLICATE_STATE_NAME",
        }
    }
}

/// One problem in a definition: a code, a message and where (a JSON-pointer-like location such as
/// `/States/A/Next`; empty when the problem has no single place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The kind of problem.
    pub code: Code,
    /// AWS's wording.
    pub message: String,
    /// Where, as `/States/A/Next`; empty for none.
    pub location: String,
}

impl Diagnostic {
    /// A diagnostic at a location.
    pub fn new(code: Code, message: impl Into<String>, location: impl Into<String>) -> Diagnostic {
        Diagnostic { code, message: message.into(), location: location.into() }
    }

    /// A `SCHEMA_VALIDATION_FAILED` diagnostic.
    pub fn schema(message: impl Into<String>, location: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Code::SchemaValidationFailed, message, location)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if !self.location.is_empty() {
            write!(f, " at {}", self.location)?;
        }
        Ok(())
    }
}

/// Renders diagnostics as AWS's `InvalidDefinition` message:
/// `Invalid State Machine Definition: 'CODE: msg at /loc, CODE: msg at /loc'`.
pub fn invalid_definition_message(diagnostics: &[Diagnostic]) -> String {
    let joined: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    format!("Invalid State Machine Definition: '{}'", joined.join(", "))
}
