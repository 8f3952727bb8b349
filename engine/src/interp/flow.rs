//! The work of each state type, between its entry and its exit.

use std::borrow::Cow;

use legion_asl::error::{names, EvalError};
use legion_asl::model::{ChoiceCondition, NumberField, PathField, QueryLanguage, State, StateKind, StringField, Wait};
use legion_asl::path::{PathError, Scope};
use legion_asl::template::eval_jsonata;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::data::{self, input_path, output_path};
use super::{env, map, next_flow, states_value, task, Exec, Failure, Flow, StateError, Step, Thread};

/// Runs the state's work once (Retry calls it again).
pub(crate) async fn execute(
    exec: &Exec,
    state: &State,
    raw: &Value,
    ctx: &Value,
    thread: &mut Thread,
    retry_count: u64,
) -> Result<Step, StateError> {
    match &state.kind {
        StateKind::Pass { result } => {
            let result = match (state.query_language, result) {
                (QueryLanguage::JsonPath, Some(r)) => {
                    // InputPath and Parameters are still evaluated (and may fail) even though Result wins.
                    if state.io.parameters.is_some() || !matches!(state.io.input_path, PathField::Default) {
                        data::effective_input(state, raw, ctx, &thread.vars)?;
                    }
                    r.clone()
                }
                (QueryLanguage::JsonPath, None) => data::effective_input(state, raw, ctx, &thread.vars)?,
                (QueryLanguage::Jsonata, _) => Value::Null,
            };
            let (output, assigned) =
                data::finish(state, data::raw_for_result(state, raw), result, ctx, &thread.vars, false)?;
            Ok(Step { flow: next_flow(state, output), assigned })
        }
        StateKind::Succeed => {
            let (output, _) = passthrough(state, raw, ctx, thread)?;
            Ok(Step { flow: Flow::End(output), assigned: None })
        }
        StateKind::Fail(fail) => {
            let states = states_value(state, raw, ctx, &[]);
            let e = env(raw, ctx, &thread.vars, &states);
            let text = |field: &Option<StringField>| -> Result<Option<String>, EvalError> {
                Ok(match field {
                    None => None,
                    Some(StringField::Literal(s)) => Some(s.clone()),
                    Some(StringField::Path(t)) | Some(StringField::Expr(t)) => match t.eval(&e)? {
                        Value::String(s) => Some(s),
                        other => Some(other.to_string()),
                    },
                })
            };
            let error = text(&fail.error)?;
            let cause = text(&fail.cause)?;
            Err(StateError::Failed(Failure { error: error.unwrap_or_default(), cause }))
        }
        StateKind::Choice(choice) => {
            let vars = &thread.vars;
            match state.query_language {
                QueryLanguage::JsonPath => {
                    let eff = input_path(&state.io.input_path, raw, ctx, vars)?;
                    let scope = Scope { data: &eff, context: ctx, vars };
                    let mut chosen = None;
                    for rule in &choice.rules {
                        let ChoiceCondition::JsonPath(cond) = &rule.condition else { continue };
                        let matched = cond.eval(&scope).map_err(|e| EvalError::new(e.error_name(), e.cause()))?;
                        if matched {
                            chosen = Some((rule.next, rule.assign.as_ref()));
                            break;
                        }
                    }
                    let (next, assign) = match chosen {
                        Some(c) => c,
                        None => match choice.default {
                            Some(d) => (d, state.assign.as_ref()),
                            None => return Err(no_choice_matched().into()),
                        },
                    };
                    let assigned = data::assign(assign, &eff, ctx, vars, &Value::Null)?;
                    let output = output_path(&state.io.output_path, eff.into_owned(), ctx, vars)?;
                    Ok(Step { flow: Flow::Next(next, output), assigned })
                }
                QueryLanguage::Jsonata => {
                    let states = states_value(state, raw, ctx, &[]);
                    let e = env(raw, ctx, vars, &states);
                    let mut chosen = None;
                    for (i, rule) in choice.rules.iter().enumerate() {
                        let ChoiceCondition::Jsonata(t) = &rule.condition else { continue };
                        let v = match t {
                            legion_asl::template::Template::Jsonata { expr, location } => {
                                let location = format!("Choices[{i}]/{location}");
                                eval_jsonata(expr, &location, &e)?
                            }
                            other => other.eval(&e)?,
                        };
                        match v {
                            Value::Bool(true) => {
                                chosen = Some(rule);
                                break;
                            }
                            Value::Bool(false) => {}
                            other => {
                                return Err(EvalError::query(
                                    format!(
                                        "The JSONata expression specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {}",
                                        legion_asl::template::type_name(&other),
                                        other
                                    ),
                                    "Condition",
                                )
                                .into())
                            }
                        }
                    }
                    let (next, assign, output_t) = match chosen {
                        Some(rule) => (rule.next, rule.assign.as_ref(), rule.output.as_ref()),
                        None => match choice.default {
                            Some(d) => (d, state.assign.as_ref(), state.io.output.as_ref()),
                            None => return Err(no_choice_matched().into()),
                        },
                    };
                    let assigned = data::assign(assign, raw, ctx, vars, &states)?;
                    let output = match output_t.or(state.io.output.as_ref()) {
                        Some(t) => t.eval(&e)?,
                        None => raw.clone(),
                    };
                    Ok(Step { flow: Flow::Next(next, output), assigned })
                }
            }
        }
        StateKind::Wait(wait) => {
            let eff = match state.query_language {
                QueryLanguage::JsonPath => input_path(&state.io.input_path, raw, ctx, &thread.vars)?,
                QueryLanguage::Jsonata => Cow::Borrowed(raw),
            };
            let delay = wait_seconds(state, wait, &eff, raw, ctx, thread)?;
            if delay > 0.0 {
                // A Wait resumed after a restart waits only for what was left (a timestamp already is).
                let elapsed = match wait {
                    Wait::Seconds(_) | Wait::SecondsPath(_) => exec.resumed_elapsed(state),
                    _ => std::time::Duration::ZERO,
                };
                tokio::time::sleep(exec.scaled(delay).saturating_sub(elapsed)).await;
            }
            let eff = eff.into_owned();
            let (output, assigned) = match state.query_language {
                QueryLanguage::JsonPath => {
                    let assigned = data::assign(state.assign.as_ref(), &eff, ctx, &thread.vars, &Value::Null)?;
                    (output_path(&state.io.output_path, eff, ctx, &thread.vars)?, assigned)
                }
                QueryLanguage::Jsonata => data::finish(state, raw.clone(), Value::Null, ctx, &thread.vars, false)?,
            };
            Ok(Step { flow: next_flow(state, output), assigned })
        }
        // Boxed: their futures are large (a Distributed Map's most of all), and every state's
        // future, a Pass state's too, would otherwise be as large as the largest and be copied
        // whole each time a branch or an iteration starts.
        StateKind::Task(t) => Box::pin(task::run(exec, state, t, raw, ctx, thread, retry_count)).await,
        StateKind::Parallel(p) => Box::pin(map::parallel(exec, state, p, raw, ctx, thread)).await,
        StateKind::Map(m) => Box::pin(map::map(exec, state, m, raw, ctx, thread)).await,
    }
}

fn no_choice_matched() -> Failure {
    Failure::new(names::NO_CHOICE_MATCHED, "No Matches!")
}

/// Succeed: InputPath then OutputPath (JSONPath), or Output (JSONata).
fn passthrough(
    state: &State,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
) -> Result<(Value, Option<Map<String, Value>>), EvalError> {
    match state.query_language {
        QueryLanguage::JsonPath => {
            let eff = input_path(&state.io.input_path, raw, ctx, &thread.vars)?.into_owned();
            Ok((output_path(&state.io.output_path, eff, ctx, &thread.vars)?, None))
        }
        QueryLanguage::Jsonata => data::finish(state, raw.clone(), Value::Null, ctx, &thread.vars, false),
    }
}

/// How long a Wait state waits, in (unscaled) seconds.
fn wait_seconds(
    state: &State,
    wait: &Wait,
    eff: &Value,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
) -> Result<f64, EvalError> {
    let vars = &thread.vars;
    let until = |t: OffsetDateTime| ((t - OffsetDateTime::now_utc()).as_seconds_f64()).max(0.0);
    match wait {
        Wait::Seconds(NumberField::Literal(n)) => Ok(*n),
        Wait::Seconds(NumberField::Expr(t)) => {
            let states = states_value(state, raw, ctx, &[]);
            let v = t.eval(&env(raw, ctx, vars, &states))?;
            match v.as_i64() {
                Some(n) if n >= 0 => Ok(n as f64),
                _ => Err(EvalError::query(
                    format!("The Seconds field must be a non-negative integer, but was: {v}"),
                    "Seconds",
                )),
            }
        }
        Wait::Seconds(NumberField::Path(p)) | Wait::SecondsPath(p) => {
            let scope = Scope { data: eff, context: ctx, vars };
            let v = match p.eval(&scope) {
                Ok(v) => v.into_owned(),
                Err(PathError::Miss(_)) | Err(PathError::UndefinedVariable(_)) => {
                    return Err(EvalError::runtime(format!(
                        "The SecondsPath parameter does not reference an input value: {p}"
                    )))
                }
            };
            match (v.as_i64(), v.as_f64()) {
                (Some(n), _) if n < 0 => Err(EvalError::runtime(format!(
                    "The SecondsPath parameter references a negative value: {p} == {v}"
                ))),
                (Some(n), _) => Ok(n as f64),
                _ => Err(EvalError::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {v}"
                ))),
            }
        }
        Wait::Timestamp(s) => Ok(legion_asl::timestamp::parse(s).map(until).unwrap_or(0.0)),
        Wait::TimestampExpr(t) => {
            let states = states_value(state, raw, ctx, &[]);
            let v = t.eval(&env(raw, ctx, vars, &states))?;
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match legion_asl::timestamp::parse(&text) {
                Some(t) => Ok(until(t)),
                None => Err(EvalError::query(
                    format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                    ),
                    "Timestamp",
                )),
            }
        }
        Wait::TimestampPath(p) => {
            let scope = Scope { data: eff, context: ctx, vars };
            let v = p.eval(&scope).map_err(|e| data::path_error(e, "TimestampPath"))?;
            let text = match v.as_ref() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match legion_asl::timestamp::parse(&text) {
                Some(t) => Ok(until(t)),
                None => Err(EvalError::runtime(format!(
                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {text}"
                ))),
            }
        }
    }
}
