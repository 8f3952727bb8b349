//! Parallel and Map states: run nested programs concurrently and gather their results in order.
//!
//! An inline Map runs its iterations here; a Distributed Map starts a map run ([`distributed`]).

pub(crate) mod config;
mod distributed;

use std::borrow::Cow;

use futures::stream::{self, StreamExt};
use legion_asl::error::{names, EvalError};
use legion_asl::model::{MapMode, MapState, NumberField, Parallel, QueryLanguage, State};
use legion_asl::path::{Path, Scope};
use legion_asl::template::{eval_jsonata, type_name, Template};
use serde_json::{json, Value};

use super::data::{self, input_path};
use super::{env, next_flow, run_program, states_value, Exec, Failure, StateError, Step, Thread};
use crate::history::Event;

pub(crate) async fn parallel(
    exec: &Exec,
    state: &State,
    p: &Parallel,
    raw: &Value,
    ctx: &Value,
    thread: &mut Thread,
) -> Result<Step, StateError> {
    let input = data::effective_input(state, raw, ctx, &thread.vars)?;
    thread.recorder.record(Event::ParallelStateStarted);
    // A redriven top-level Parallel reuses the outputs of the branches that had succeeded.
    let memo = exec.branch_memo(state);
    let memo = memo.as_ref();
    let branches = p.branches.iter().enumerate().map(|(index, branch)| {
        let mut t = Thread { recorder: thread.recorder.fork(), vars: thread.vars.child() };
        let input = input.clone();
        async move {
            if let Some(m) = memo {
                if let Some(v) = m.reused(index) {
                    m.succeeded(index, &v);
                    return Ok((v, 0));
                }
            }
            let r = run_program(exec, branch, input, &mut t).await;
            if let (Some(m), Ok(v)) = (memo, &r) {
                m.succeeded(index, v);
            }
            r.map(|v| (v, t.recorder.last()))
        }
    });
    match futures::future::try_join_all(branches).await {
        Ok(results) => {
            let last = results.iter().map(|(_, id)| *id).max().unwrap_or(0);
            thread.recorder.follow(last);
            thread.recorder.record(Event::ParallelStateSucceeded);
            let output: Vec<Value> = results.into_iter().map(|(v, _)| v).collect();
            let (output, assigned) =
                data::finish(state, data::raw_for_result(state, raw), Value::Array(output), ctx, &thread.vars, true)?;
            Ok(Step { flow: next_flow(state, output), assigned })
        }
        Err(f) => Err(f.into()),
    }
}

/// AWS runs at most 40 iterations of an inline Map at once, whatever MaxConcurrency says.
const INLINE_MAX_CONCURRENCY: usize = 40;

/// Limits read from the Map's fields.
#[derive(Debug, Clone, Copy)]
struct Limits {
    concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
}

pub(crate) async fn map(
    exec: &Exec,
    state: &State,
    m: &MapState,
    raw: &Value,
    ctx: &Value,
    thread: &mut Thread,
) -> Result<Step, StateError> {
    if let MapMode::Distributed { execution_type } = m.mode {
        return distributed::run(exec, state, m, raw, ctx, thread, execution_type).await;
    }
    let vars = thread.vars.clone();
    let (eff, items) = input_items(state, m, raw, ctx, &vars)?;
    thread.recorder.record(Event::MapStateStarted { length: items.len() });
    let limits = limits(state, m, &eff, raw, ctx, thread)?;
    let total = items.len();
    let selector_input = &eff;
    let parent = &*thread;
    // A redriven top-level Map reuses the outputs of the iterations that had succeeded.
    let memo = exec.branch_memo(state);
    let memo = memo.as_ref();
    let iterations = items.into_iter().enumerate().map(|(index, item)| {
        let mut t = Thread { recorder: parent.recorder.fork(), vars: parent.vars.child() };
        async move {
            if let Some(memo) = memo {
                if let Some(v) = memo.reused(index) {
                    memo.succeeded(index, &v);
                    return (index, Ok(v), 0);
                }
            }
            let item_ctx = |item: &Value| exec.item_context(&state.name, index, item);
            let input = match select_item(state, m, selector_input, raw, item, item_ctx, &parent.vars) {
                Ok(v) => v,
                Err(e) => return (index, Err(Err(e)), 0),
            };
            t.recorder.record_with(|| Event::MapIterationStarted { index, name: state.name.clone() });
            let r = run_program(exec, &m.processor, input, &mut t).await;
            if let (Some(memo), Ok(v)) = (memo, &r) {
                memo.succeeded(index, v);
            }
            t.recorder.record_with(|| {
                let name = state.name.clone();
                match r {
                    Ok(_) => Event::MapIterationSucceeded { index, name },
                    Err(_) => Event::MapIterationFailed { index, name },
                }
            });
            (index, r.map_err(Ok), t.recorder.last())
        }
    });
    let mut running = stream::iter(iterations).buffered(limits.concurrency.clamp(1, INLINE_MAX_CONCURRENCY));
    let mut results: Vec<Value> = Vec::with_capacity(total);
    let mut failures = 0u64;
    let mut last = thread.recorder.last();
    while let Some((_, r, id)) = running.next().await {
        last = last.max(id);
        match r {
            Ok(v) => results.push(v),
            Err(Err(e)) => return Err(e.into()),
            Err(Ok(f)) => {
                failures += 1;
                let tolerated_by_count = limits.tolerated_count.is_some_and(|c| failures <= c);
                let tolerated_by_pct =
                    limits.tolerated_percentage.is_some_and(|p| (failures as f64) * 100.0 / (total as f64) <= p);
                if tolerated_by_count || tolerated_by_pct {
                    results.push(json!({"Error": f.error, "Cause": f.cause}));
                    continue;
                }
                drop(running);
                thread.recorder.follow(last);
                let failure = if limits.tolerated_count.is_some() || limits.tolerated_percentage.is_some() {
                    Failure::new(
                        names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                        "The specified tolerated failure threshold was exceeded",
                    )
                } else {
                    f
                };
                return Err(failure.into());
            }
        }
    }
    drop(running);
    thread.recorder.follow(last);
    thread.recorder.record(Event::MapStateSucceeded);
    let (output, assigned) =
        data::finish(state, data::raw_for_result(state, raw), Value::Array(results), ctx, &thread.vars, true)?;
    Ok(Step { flow: next_flow(state, output), assigned })
}

/// The effective input and the items of a Map without ItemReader (`ItemsPath` or `Items`).
pub(crate) fn input_items<'a>(
    state: &State,
    m: &MapState,
    raw: &'a Value,
    ctx: &Value,
    vars: &crate::vars::Vars,
) -> Result<(Cow<'a, Value>, Vec<Value>), StateError> {
    let (eff, items) = match state.query_language {
        QueryLanguage::JsonPath => {
            let eff = input_path(&state.io.input_path, raw, ctx, vars)?;
            let items = match &m.items_path {
                None => Value::clone(&eff),
                Some(p) => {
                    let scope = Scope { data: &eff, context: ctx, vars };
                    p.eval(&scope).map_err(|e| data::path_error(e, "ItemsPath"))?.into_owned()
                }
            };
            (eff, items)
        }
        QueryLanguage::Jsonata => {
            let items = match &m.items {
                None => raw.clone(),
                Some(t) => {
                    let states = states_value(state, raw, ctx, &[]);
                    let v = t.eval(&env(raw, ctx, vars, &states))?;
                    if !v.is_array() {
                        let src = match t {
                            Template::Jsonata { expr, .. } => expr.source().to_owned(),
                            _ => String::new(),
                        };
                        return Err(EvalError::query(
                            format!(
                                "The JSONata expression '{src}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {}",
                                type_name(&v),
                                v
                            ),
                            "Items",
                        )
                        .into());
                    }
                    v
                }
            };
            (Cow::Borrowed(raw), items)
        }
    };
    let Value::Array(items) = items else {
        return Err(EvalError::runtime(format!("Map state input must be an array but was: {items}")).into());
    };
    Ok((eff, items))
}

/// The input of one iteration: the item, or the `ItemSelector` applied with `$$.Map.Item` set in the
/// context `item_context` builds for the item (`Null` when no field of the machine can read it); the
/// context is built only when there is a selector.
pub(crate) fn select_item(
    state: &State,
    m: &MapState,
    eff: &Value,
    raw: &Value,
    item: Value,
    item_context: impl FnOnce(&Value) -> Value,
    vars: &crate::vars::Vars,
) -> Result<Value, EvalError> {
    let Some(selector) = &m.item_selector else { return Ok(item) };
    let ctx = &item_context(&item);
    match state.query_language {
        QueryLanguage::JsonPath => selector.eval(&env(eff, ctx, vars, &Value::Null)),
        QueryLanguage::Jsonata => {
            let states = states_value(state, raw, ctx, &[]);
            selector.eval(&env(raw, ctx, vars, &states))
        }
    }
}

fn limits(
    state: &State,
    m: &MapState,
    eff: &Value,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
) -> Result<Limits, EvalError> {
    let number = |field: &NumberField, name: &str, float: bool| -> Result<f64, EvalError> {
        eval_number(state, field, name, float, eff, raw, ctx, thread)
    };
    let concurrency = match &m.max_concurrency {
        None => 0.0,
        Some(f) => number(f, "MaxConcurrency", false)?,
    };
    let tolerated_count = match &m.tolerated_failure_count {
        None => None,
        Some(f) => {
            let n = number(f, "ToleratedFailureCount", false)?;
            if n < 0.0 {
                return Err(EvalError::runtime("ToleratedFailureCount cannot be negative."));
            }
            Some(n as u64)
        }
    };
    let tolerated_percentage = match &m.tolerated_failure_percentage {
        None => None,
        Some(f) => {
            let n = number(f, "ToleratedFailurePercentage", true)?;
            if !(0.0..=100.0).contains(&n) {
                return Err(EvalError::runtime("ToleratedFailurePercentage must be between 0 and 100."));
            }
            Some(n)
        }
    };
    let concurrency = if concurrency <= 0.0 { usize::MAX } else { concurrency as usize };
    Ok(Limits { concurrency, tolerated_count, tolerated_percentage })
}

/// A number field's value: a literal, a `…Path` (numeric strings accepted), or a JSONata expression.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eval_number(
    state: &State,
    field: &NumberField,
    name: &str,
    float: bool,
    eff: &Value,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
) -> Result<f64, EvalError> {
    match field {
        NumberField::Literal(n) => Ok(*n),
        NumberField::Path(p) => path_number(p, name, float, eff, ctx, thread),
        NumberField::Expr(t) => {
            let states = states_value(state, raw, ctx, &[]);
            let v = match t {
                Template::Jsonata { expr, location } => {
                    eval_jsonata(expr, location, &env(raw, ctx, &thread.vars, &states))?
                }
                other => other.eval(&env(raw, ctx, &thread.vars, &states))?,
            };
            v.as_f64().ok_or_else(|| EvalError::query(format!("The {name} field must be a number, but was: {v}"), name))
        }
    }
}

fn path_number(p: &Path, name: &str, float: bool, eff: &Value, ctx: &Value, thread: &Thread) -> Result<f64, EvalError> {
    let scope = Scope { data: eff, context: ctx, vars: &thread.vars };
    let v = p.eval(&scope).map_err(|e| data::path_error(e, &format!("{name}Path")))?;
    // Like Java's parsers, a numeric string is accepted; an integer field refuses fractions.
    let number = match v.as_ref() {
        Value::String(s) => s.trim().parse::<f64>().ok(),
        other => other.as_f64(),
    };
    let ok = number.filter(|n| float || n.fract() == 0.0);
    ok.ok_or_else(|| {
        let shown = match v.as_ref() {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let kind = if float { "float" } else { "integer" };
        EvalError::runtime(format!("The {name}Path field refers to value \"{shown}\" which is not a valid {kind}: {p}"))
    })
}
