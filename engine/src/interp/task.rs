//! Task states: evaluate the request, dispatch it with its timeout, record the task events.

use legion_asl::error::{names, EvalError};
use legion_asl::integrations::Pattern;
use legion_asl::model::{NumberField, QueryLanguage, ResourceKind, State, Task};
use legion_asl::path::Scope;
use serde_json::{json, Value};

use super::data;
use super::{env, next_flow, payload_too_large, states_value, Exec, Failure, StateError, Step, Thread};
use crate::dispatch::{Dispatched, TaskError, TaskRequest};
use crate::history::{
    ActivityScheduledDetails, ErrorDetails, Event, Payload, Recorder, ServiceResource, TaskScheduledDetails,
};
use crate::tokens::{TokenSignal, TokenWaiter};

/// How a resource shows up in history.
///
/// `arn:aws:states:::sqs:sendMessage.waitForTaskToken` and Legion's
/// `arn:legion:states:::openfaas:invoke.sync` give `resourceType` `sqs` / `openfaas` and `resource`
/// `sendMessage.waitForTaskToken` / `invoke.sync`.
enum Family {
    /// A bare Lambda function ARN: `LambdaFunction…` events.
    Lambda,
    /// `arn:aws:states:::service:action…` and everything else: `Task…` events.
    Service(ServiceResource),
    /// An activity ARN: `Activity…` events, the task waits for a worker.
    Activity,
}

/// How a task attempt ended, for its last event.
enum TaskEnd {
    Succeeded(Payload),
    Failed(ErrorDetails),
    TimedOut(ErrorDetails),
}

impl Family {
    /// The family of `task`'s resource, classified by the parser.
    fn of(task: &Task) -> Family {
        match &task.kind {
            ResourceKind::Lambda => Family::Lambda,
            ResourceKind::Activity => Family::Activity,
            ResourceKind::Service { resource_type, resource } => {
                Family::Service(ServiceResource { resource_type: resource_type.clone(), resource: resource.clone() })
            }
        }
    }

    /// The event that ends a task attempt of this family.
    fn ended(&self, end: TaskEnd) -> Event {
        match (self, end) {
            (Family::Lambda, TaskEnd::Succeeded(output)) => Event::LambdaFunctionSucceeded { output },
            (Family::Lambda, TaskEnd::Failed(e)) => Event::LambdaFunctionFailed(e),
            (Family::Lambda, TaskEnd::TimedOut(e)) => Event::LambdaFunctionTimedOut(e),
            (Family::Activity, TaskEnd::Succeeded(output)) => Event::ActivitySucceeded { output },
            (Family::Activity, TaskEnd::Failed(e)) => Event::ActivityFailed(e),
            (Family::Activity, TaskEnd::TimedOut(e)) => Event::ActivityTimedOut(e),
            (Family::Service(s), TaskEnd::Succeeded(output)) => Event::TaskSucceeded { service: s.clone(), output },
            (Family::Service(s), TaskEnd::Failed(e)) => Event::TaskFailed { service: s.clone(), error: Box::new(e) },
            (Family::Service(s), TaskEnd::TimedOut(e)) => {
                Event::TaskTimedOut { service: s.clone(), error: Box::new(e) }
            }
        }
    }
}

/// What a Task attempt sends: its effective input and the fields evaluated with it.
struct Call {
    input: Value,
    retry_count: u64,
    timeout: Option<u64>,
    heartbeat: Option<u64>,
    credentials: Option<Value>,
}

/// How the dispatch ended: `None` when `TimeoutSeconds` or `HeartbeatSeconds` ran out first.
type Answer = Option<Result<Value, TaskError>>;

/// Runs one attempt of a Task state: its token (callback tasks), its context, its fields, the
/// events that schedule it, the dispatch and the wait, the event that ends it, then the data flow.
pub(crate) async fn run(
    exec: &Exec,
    state: &State,
    task: &Task,
    raw: &Value,
    ctx: &Value,
    thread: &mut Thread,
    retry_count: u64,
) -> Result<Step, StateError> {
    let mut waiter = open_token(exec, task, thread);
    let _shared_token = match &waiter {
        Some(w) => exec.share_token(w.token()).await,
        None => None,
    };
    let owned_ctx = task_context(task, ctx, retry_count, waiter.as_ref());
    let ctx = owned_ctx.as_ref().unwrap_or(ctx);
    let call = evaluate(state, task, raw, ctx, thread, retry_count)?;
    let fam = Family::of(task);
    record_scheduled(exec, task, &fam, &call, &mut thread.recorder);
    let answer = dispatch(exec, state, task, &fam, call, waiter.as_mut(), thread).await;
    if answer.is_none() {
        if let Some(w) = waiter.as_mut() {
            w.timed_out();
        }
    }
    drop(waiter);
    let result = task_result(task, &fam, answer, &mut thread.recorder)?;
    let (output, assigned) = data::finish(state, data::raw_for_result(state, raw), result, ctx, &thread.vars, true)?;
    Ok(Step { flow: next_flow(state, output), assigned })
}

/// Callback tasks get a token before anything is dispatched, so that an answer arriving early
/// finds its task waiting.
fn open_token(exec: &Exec, task: &Task, thread: &Thread) -> Option<TokenWaiter> {
    let callback = task.pattern == Pattern::WaitForTaskToken
        || task.kind == ResourceKind::Activity
        || exec.shared.dispatcher.completes_by_callback(&task.resource);
    callback.then(|| exec.shared.tokens.open_derived(exec.info.token_seed, thread.recorder.last()))
}

/// The Task state's context object, when one is built: it reports its RetryCount from the first
/// attempt on (0), and `.waitForTaskToken` tasks their token.
fn task_context(task: &Task, ctx: &Value, retry_count: u64, waiter: Option<&TokenWaiter>) -> Option<Value> {
    if ctx.is_null() {
        return None;
    }
    let mut c = ctx.clone();
    if let Value::Object(m) = &mut c {
        if let Some(Value::Object(s)) = m.get_mut("State") {
            s.entry("RetryCount").or_insert(json!(retry_count));
        }
        // `.waitForTaskToken` tasks expose their token, and so do AWS's `.sync` integrations
        // (a nested execution may answer its parent's token); a token minted for another target's
        // own callback stays internal.
        if let Some(w) = waiter.filter(|_| exposes_token(task)) {
            m.insert("Task".into(), json!({"Token": w.token()}));
        }
    }
    Some(c)
}

/// Evaluates the effective input, `TimeoutSeconds`, `HeartbeatSeconds` and `Credentials`.
fn evaluate(
    state: &State,
    task: &Task,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
    retry_count: u64,
) -> Result<Call, StateError> {
    let input = data::effective_input(state, raw, ctx, &thread.vars)?;
    let timeout = seconds_field(state, task.timeout_seconds.as_ref(), "TimeoutSeconds", raw, ctx, thread)?;
    let heartbeat = seconds_field(state, task.heartbeat_seconds.as_ref(), "HeartbeatSeconds", raw, ctx, thread)?;
    let credentials = match &task.credentials {
        Some(t) => {
            let states = states_value(state, raw, ctx, &[]);
            Some(t.eval(&env(raw, ctx, &thread.vars, &states))?)
        }
        None => None,
    };
    Ok(Call { input, retry_count, timeout, heartbeat, credentials })
}

/// Records the events that start a task attempt of this family.
fn record_scheduled(exec: &Exec, task: &Task, fam: &Family, call: &Call, recorder: &mut Recorder) {
    let Call { input, timeout, heartbeat, .. } = call;
    let (timeout, heartbeat) = (*timeout, *heartbeat);
    match fam {
        Family::Lambda => {
            recorder.record_with(|| Event::LambdaFunctionScheduled {
                resource: task.resource.clone(),
                input: Payload::of(input),
                timeout,
            });
            recorder.record(Event::LambdaFunctionStarted);
        }
        Family::Service(service) => {
            recorder.record_with(|| {
                Event::TaskScheduled(Box::new(TaskScheduledDetails {
                    service: service.clone(),
                    region: exec.shared.config.region.clone(),
                    parameters: Payload::of(input),
                    timeout,
                    heartbeat,
                }))
            });
            recorder.record_with(|| Event::TaskStarted { service: service.clone() });
        }
        Family::Activity => {
            recorder.record_with(|| {
                Event::ActivityScheduled(Box::new(ActivityScheduledDetails {
                    resource: task.resource.clone(),
                    input: Payload::of(input),
                    timeout,
                    heartbeat,
                }))
            });
        }
    }
}

/// Sends the task to its target (or an activity's queue) and waits for its answer, a callback's
/// included, within `TimeoutSeconds` (which counts from TaskStarted).
async fn dispatch(
    exec: &Exec,
    state: &State,
    task: &Task,
    fam: &Family,
    call: Call,
    mut waiter: Option<&mut TokenWaiter>,
    thread: &mut Thread,
) -> Answer {
    let Call { input, retry_count, timeout, heartbeat, credentials } = call;
    let request = TaskRequest {
        resource: task.resource.clone(),
        state_name: state.name.clone(),
        input,
        credentials,
        task_token: waiter.as_ref().map(|w| w.token().to_owned()),
        execution_arn: exec.info.arn.clone(),
        retry_count,
        heartbeat_seconds: heartbeat,
        timeout_seconds: timeout,
    };
    let deadline = timeout.and_then(super::deadline_in);
    // An activity task waits in its activity's queue until a worker takes it, then for its token.
    let sent = match (fam, waiter.as_ref()) {
        (Family::Activity, Some(w)) => crate::activities::start(
            &exec.shared.activities,
            exec.sharing_store(),
            &mut thread.recorder,
            w.token().to_owned(),
            task.resource.clone(),
            request.input,
        ),
        _ => exec.shared.dispatcher.dispatch(request),
    };
    let dispatched = match deadline {
        Some(d) => tokio::time::timeout_at(d, sent).await.ok(),
        None => Some(sent.await),
    };
    match (dispatched, waiter.as_mut()) {
        (Some(Ok(Dispatched::Submitted(answer))), Some(w)) => {
            if let Family::Service(service) = fam {
                thread
                    .recorder
                    .record_with(|| Event::TaskSubmitted { service: service.clone(), output: Payload::of(&answer) });
            }
            wait_for_callback(w, deadline, heartbeat).await
        }
        (Some(Ok(Dispatched::Submitted(v) | Dispatched::Done(v))), _) => Some(Ok(v)),
        (Some(Err(e)), _) => Some(Err(e)),
        (None, _) => None,
    }
}

/// Records how the attempt ended and turns it into the task's result or the state's failure.
fn task_result(task: &Task, fam: &Family, answer: Answer, recorder: &mut Recorder) -> Result<Value, StateError> {
    let result = match answer {
        None => {
            recorder.record_with(|| fam.ended(TaskEnd::TimedOut(ErrorDetails::new(names::TIMEOUT, None))));
            return Err(Failure { error: names::TIMEOUT.to_owned(), cause: None }.into());
        }
        Some(Err(e)) => {
            // SendTaskFailure may leave the error out; the event then has none either.
            let error = Some(e.error.clone()).filter(|e| !e.is_empty());
            recorder.record_with(|| fam.ended(TaskEnd::Failed(ErrorDetails { error, cause: e.cause.clone() })));
            return Err(Failure { error: e.error, cause: e.cause }.into());
        }
        Some(Ok(result)) => result,
    };
    if payload_too_large(&result) {
        let who = match fam {
            Family::Lambda | Family::Activity => &*task.resource,
            Family::Service(service) => &*service.resource_type,
        };
        let cause = format!(
            "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
        );
        recorder.record_with(|| {
            fam.ended(TaskEnd::Failed(ErrorDetails::new(names::DATA_LIMIT_EXCEEDED, Some(cause.clone()))))
        });
        return Err(Failure::new(names::DATA_LIMIT_EXCEEDED, cause).into());
    }
    recorder.record_with(|| fam.ended(TaskEnd::Succeeded(Payload::of(&result))));
    Ok(result)
}

/// True when the context object shows a callback task's token (`$$.Task.Token`): AWS's `.sync`
/// integrations show it, Legion's own (`arn:legion:states:::openfaas:invoke.sync`) do not.
fn exposes_token(task: &Task) -> bool {
    match task.pattern {
        Pattern::WaitForTaskToken => true,
        Pattern::Sync | Pattern::Sync2 => task.resource.starts_with("arn:aws:states:::"),
        Pattern::RequestResponse => false,
    }
}

/// Waits for the answer to a callback task: `None` when `TimeoutSeconds` or `HeartbeatSeconds`
/// runs out first (AWS records both as `States.Timeout`).
async fn wait_for_callback(
    waiter: &mut TokenWaiter,
    deadline: Option<tokio::time::Instant>,
    heartbeat: Option<u64>,
) -> Option<Result<Value, TaskError>> {
    loop {
        let beat = async {
            match heartbeat {
                Some(h) => tokio::time::sleep(std::time::Duration::from_secs(h)).await,
                None => std::future::pending().await,
            }
        };
        let end = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            signal = waiter.next() => match signal {
                Some(TokenSignal::Heartbeat) => continue,
                Some(TokenSignal::Success(v)) => return Some(Ok(v)),
                Some(TokenSignal::Failure { error, cause }) => {
                    return Some(Err(TaskError { error: error.unwrap_or_default(), cause }));
                }
                // The registry is gone: no answer can come any more.
                None => return Some(Err(TaskError::new(names::TASK_FAILED, "The task token was closed"))),
            },
            _ = beat => return None,
            _ = end => return None,
        }
    }
}

/// Evaluates `TimeoutSeconds`/`HeartbeatSeconds` in any of their forms.
fn seconds_field(
    state: &State,
    field: Option<&NumberField>,
    name: &str,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
) -> Result<Option<u64>, EvalError> {
    let Some(field) = field else { return Ok(None) };
    let v = match field {
        NumberField::Literal(n) => return Ok(Some(*n as u64)),
        NumberField::Path(p) => {
            let eff = data::input_path(&state.io.input_path, raw, ctx, &thread.vars)?;
            let scope = Scope { data: &eff, context: ctx, vars: &thread.vars };
            p.eval(&scope).map_err(|e| data::path_error(e, &format!("{name}Path")))?.into_owned()
        }
        NumberField::Expr(t) => {
            debug_assert_eq!(state.query_language, QueryLanguage::Jsonata);
            let states = states_value(state, raw, ctx, &[]);
            t.eval(&env(raw, ctx, &thread.vars, &states))?
        }
    };
    match v.as_u64() {
        Some(n) if n >= 1 => Ok(Some(n)),
        _ => Err(EvalError::runtime(format!("The {name} field must be a positive integer, but was: {v}"))),
    }
}
