//! ASL data flow: InputPath → Parameters → (work) → ResultSelector → ResultPath → OutputPath in
//! JSONPath states; Arguments → (work) → Output and Assign in JSONata states; and the Catch output.

use std::borrow::Cow;

use legion_asl::error::{names, EvalError};
use legion_asl::model::{Catcher, PathField, QueryLanguage, State};
use legion_asl::path::{PathError, Scope};
use legion_asl::template::{undefined_variable, Template};
use serde_json::{Map, Value};

use super::{env, states_value};
use crate::vars::Vars;

/// `InputPath` applied to the raw input.
pub(crate) fn input_path<'a>(
    field: &PathField,
    raw: &'a Value,
    ctx: &Value,
    vars: &Vars,
) -> Result<Cow<'a, Value>, EvalError> {
    match field {
        PathField::Default => Ok(Cow::Borrowed(raw)),
        PathField::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        PathField::Path(p) => {
            let scope = Scope { data: raw, context: ctx, vars };
            match p.eval(&scope) {
                Ok(Cow::Borrowed(v)) => Ok(Cow::Owned(v.clone())),
                Ok(Cow::Owned(v)) => Ok(Cow::Owned(v)),
                Err(e) => Err(path_error(e, "InputPath")),
            }
        }
    }
}

/// A path miss as AWS reports it for InputPath/OutputPath/`…Path` fields.
pub(crate) fn path_error(e: PathError, field: &str) -> EvalError {
    match e {
        PathError::Miss(m) => EvalError::runtime(m.to_string()),
        PathError::UndefinedVariable(name) => undefined_variable(&name, field),
    }
}

/// The effective input of a JSONPath state (InputPath, then Parameters), or of a JSONata state
/// (Arguments, defaulting to the input).
pub(crate) fn effective_input(state: &State, raw: &Value, ctx: &Value, vars: &Vars) -> Result<Value, EvalError> {
    match state.query_language {
        QueryLanguage::JsonPath => {
            let after_input_path = input_path(&state.io.input_path, raw, ctx, vars)?;
            match &state.io.parameters {
                Some(t) => t.eval(&env(&after_input_path, ctx, vars, &Value::Null)),
                None => Ok(after_input_path.into_owned()),
            }
        }
        QueryLanguage::Jsonata => match &state.io.parameters {
            Some(t) => {
                let states = states_value(state, raw, ctx, &[]);
                t.eval(&env(raw, ctx, vars, &states))
            }
            None => Ok(raw.clone()),
        },
    }
}

/// The raw input [`finish`] needs besides the result: none (`null`, no copy) for a JSONPath state whose
/// default `ResultPath` replaces its input by the result.
pub(crate) fn raw_for_result(state: &State, raw: &Value) -> Value {
    match (state.query_language, &state.io.result_path) {
        (QueryLanguage::JsonPath, PathField::Default) => Value::Null,
        _ => raw.clone(),
    }
}

/// Turns a state's result into its output and the variables it assigns.
///
/// `assign_data` is what `$` means in a JSONPath `Assign` when it is not the result (Choice and Wait
/// use the effective input); `result_is_output_default` says whether a JSONata state without `Output`
/// emits its result (Task, Map, Parallel) or its input.
pub(crate) fn finish(
    state: &State,
    raw: Value,
    result: Value,
    ctx: &Value,
    vars: &Vars,
    result_is_output_default: bool,
) -> Result<(Value, Option<Map<String, Value>>), EvalError> {
    match state.query_language {
        QueryLanguage::JsonPath => {
            let result = match &state.io.result_selector {
                Some(t) => t.eval(&env(&result, ctx, vars, &Value::Null))?,
                None => result,
            };
            let assigned = assign(state.assign.as_ref(), &result, ctx, vars, &Value::Null)?;
            let combined = result_path(&state.io.result_path, raw, result)?;
            let output = output_path(&state.io.output_path, combined, ctx, vars)?;
            Ok((output, assigned))
        }
        QueryLanguage::Jsonata => {
            let states = states_value(state, &raw, ctx, &[("result", &result)]);
            let e = env(&raw, ctx, vars, &states);
            let assigned = assign(state.assign.as_ref(), &raw, ctx, vars, &states)?;
            let output = match &state.io.output {
                Some(t) => t.eval(&e)?,
                None if result_is_output_default => result,
                None => raw,
            };
            Ok((output, assigned))
        }
    }
}

/// Evaluates an `Assign` block into the variables it sets.
pub(crate) fn assign(
    template: Option<&Template>,
    data: &Value,
    ctx: &Value,
    vars: &Vars,
    states: &Value,
) -> Result<Option<Map<String, Value>>, EvalError> {
    let Some(t) = template else { return Ok(None) };
    match t.eval(&env(data, ctx, vars, states))? {
        Value::Object(m) => Ok(Some(m)),
        _ => Ok(None),
    }
}

/// `ResultPath`: where the result goes in the raw input.
pub(crate) fn result_path(field: &PathField, raw: Value, result: Value) -> Result<Value, EvalError> {
    match field {
        PathField::Default => Ok(result),
        PathField::Null => Ok(raw),
        PathField::Path(p) => {
            let mut out = raw;
            match p.set(&mut out, result) {
                Ok(()) => Ok(out),
                Err(e) => Err(EvalError::new(names::RESULT_PATH_MATCH_FAILURE, e.to_string())),
            }
        }
    }
}

/// `OutputPath`.
pub(crate) fn output_path(field: &PathField, value: Value, ctx: &Value, vars: &Vars) -> Result<Value, EvalError> {
    match field {
        PathField::Default => Ok(value),
        PathField::Null => Ok(Value::Object(Map::new())),
        PathField::Path(p) => {
            let scope = Scope { data: &value, context: ctx, vars };
            p.eval(&scope).map(Cow::into_owned).map_err(|e| path_error(e, "OutputPath"))
        }
    }
}

/// The output of a state whose error a Catcher caught, and the variables the Catcher assigns.
pub(crate) fn catch_output(
    state: &State,
    catcher: &Catcher,
    raw: &Value,
    error_output: Value,
    ctx: &Value,
    vars: &Vars,
) -> Result<(Value, Option<Map<String, Value>>), EvalError> {
    match state.query_language {
        QueryLanguage::JsonPath => {
            let assigned = assign(catcher.assign.as_ref(), &error_output, ctx, vars, &Value::Null)?;
            let output = result_path(&catcher.result_path, raw.clone(), error_output)?;
            Ok((output, assigned))
        }
        QueryLanguage::Jsonata => {
            let states = states_value(state, raw, ctx, &[("errorOutput", &error_output)]);
            let e = env(raw, ctx, vars, &states);
            let assigned = assign(catcher.assign.as_ref(), raw, ctx, vars, &states)?;
            let output = match &catcher.output {
                Some(t) => t.eval(&e)?,
                None => error_output,
            };
            Ok((output, assigned))
        }
    }
}
