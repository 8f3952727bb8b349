//! The interpreter: walks a program state by state, applying ASL's data flow, Retry and Catch.
//!
//! Each thread of control (the execution, a Parallel branch, a Map iteration) is an async call of
//! [`run_program`] with its own history cursor and variable scope; nested programs are awaited in place,
//! so cancelling the execution drops every branch with it.

pub(crate) mod checkpoint;
pub(crate) mod data;
pub(crate) mod flow;
pub(crate) mod map;
mod task;

use std::sync::Arc;
use std::time::Duration;

use legion_asl::error::{names, EvalError};
use legion_asl::model::{error_matches, Program, QueryLanguage, State, StateKind, StateMachine, Transition};
use legion_asl::template::Env;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::dispatch::BoxFuture;
use crate::engine::{ExecutionStatus, Outcome, RunMode, Shared, StopSlot};
use crate::executions::Journal;
use crate::history::{ErrorDetails, EvaluationFailedDetails, Event, History, Payload, Recorder, StateType};
use crate::store::SavedRetry;
use crate::vars::Vars;
use checkpoint::{BranchMemo, CheckpointSlot};

/// The largest payload a state may pass on: 256 KiB of UTF-8.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Facts about the execution that the context object reports. Its names are shared: the children
/// of a map run share their machine's and role's, and each child's own with its map run's records.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionInfo {
    pub(crate) arn: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) state_machine_arn: Arc<str>,
    pub(crate) state_machine_name: Arc<str>,
    pub(crate) role_arn: Arc<str>,
    pub(crate) start_time: OffsetDateTime,
    pub(crate) input: Value,
    pub(crate) express: bool,
    /// How many times the execution has been redriven.
    pub(crate) redrive_count: u32,
    /// When it was last redriven.
    pub(crate) redrive_time: Option<OffsetDateTime>,
    /// Whether anyone can read its history: a map-run child whose store does not keep children
    /// records none.
    pub(crate) record_history: bool,
    /// The secret its task tokens derive from, kept by a durable store so that a token handed out
    /// before a restart is still accepted after it (`None`: random tokens).
    pub(crate) token_seed: Option<uuid::Uuid>,
}

/// Everything the states of one execution share.
pub(crate) struct Exec {
    pub(crate) shared: Arc<Shared>,
    pub(crate) info: ExecutionInfo,
    /// The static part of `$$` (Execution, StateMachine), built once.
    context_base: Map<String, Value>,
    /// Whether any state can read the context object; when none can, it is never built.
    needs_context: bool,
    /// Where a redrive would resume (Standard executions only), with the machine it indexes into.
    top: Option<(Arc<StateMachine>, CheckpointSlot)>,
    /// Where a durable store takes the execution's commits.
    journal: Option<Arc<Journal>>,
    /// When the checkpoint's state was first entered, for a Wait resumed after a restart.
    resumed_entered_at: std::sync::Mutex<Option<OffsetDateTime>>,
}

/// A task token noted in a shared store; withdrawn when dropped.
pub(crate) struct SharedToken {
    store: Arc<dyn crate::store::ExecutionStore>,
    token: String,
}

impl Drop for SharedToken {
    fn drop(&mut self) {
        self.store.token_closed(&self.token);
    }
}

/// How the top level of an execution runs: its checkpoints (Standard executions), the journal of a
/// durable store, and whether it starts, is redriven or resumes after a restart.
pub(crate) struct Top {
    pub(crate) checkpoints: Option<CheckpointSlot>,
    pub(crate) journal: Option<Arc<Journal>>,
    pub(crate) mode: RunMode,
}

/// A failure travelling up to the nearest Catch (or ending the execution).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) error: String,
    pub(crate) cause: Option<String>,
}

impl Failure {
    pub(crate) fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure { error: error.into(), cause: Some(cause.into()) }
    }

    /// The Error Output that Catch passes on.
    fn error_output(&self) -> Value {
        let mut m = Map::new();
        m.insert("Error".into(), Value::String(self.error.clone()));
        match &self.cause {
            Some(c) => {
                m.insert("Cause".into(), Value::String(c.clone()));
            }
            // A task timeout has no cause, yet its Error Output carries an empty one.
            None if self.error == names::TIMEOUT => {
                m.insert("Cause".into(), Value::String(String::new()));
            }
            None => {}
        }
        Value::Object(m)
    }
}

/// One thread of control: its history cursor, its variables, and the Map item it runs for.
#[derive(Clone)]
pub(crate) struct Thread {
    pub(crate) recorder: Recorder,
    pub(crate) vars: Vars,
}

/// Where a state sends control.
pub(crate) enum Flow {
    Next(usize, Value),
    End(Value),
}

impl Flow {
    /// The state's output, wherever control goes next.
    fn output(&self) -> &Value {
        match self {
            Flow::Next(_, o) | Flow::End(o) => o,
        }
    }
}

/// Where control goes after a state's exit, with its output shared with the exit event (and, after
/// `Next`, read by the next state as its input).
enum Exited {
    Next(usize, Arc<Value>),
    End(Arc<Value>),
}

/// What a state's work produced before its exit is recorded.
pub(crate) struct Step {
    pub(crate) flow: Flow,
    pub(crate) assigned: Option<Map<String, Value>>,
}

/// An error raised while running a state, before it is turned into a [`Failure`].
pub(crate) enum StateError {
    /// An interpreter error: its cause gets the "An error occurred while executing the state" prefix.
    Eval(EvalError),
    /// A task, Fail state or branch error, passed on as it is.
    Failed(Failure),
}

impl From<EvalError> for StateError {
    fn from(e: EvalError) -> StateError {
        StateError::Eval(e)
    }
}

impl From<Failure> for StateError {
    fn from(f: Failure) -> StateError {
        StateError::Failed(f)
    }
}

/// Runs an execution to its end. With `checkpoints`, the top level records where it stands so that a
/// redrive can resume it; a redriven run (`info.redrive_count > 0`) starts from the slot's checkpoint.
pub(crate) async fn run_execution(
    shared: Arc<Shared>,
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    history: History,
    cancel: CancellationToken,
    stop: StopSlot,
    top: Top,
) -> Outcome {
    let Top { checkpoints, journal, mode } = top;
    let mut recorder = Recorder::new(history, info.record_history);
    let mut resumed_entered_at = None;
    let resumed = match (&checkpoints, mode) {
        (Some(slot), RunMode::Redrive) => {
            slot.clear_retry();
            recorder.follow_latest();
            recorder.record(Event::ExecutionRedriven { redrive_count: info.redrive_count });
            slot.resume()
        }
        (Some(slot), RunMode::Recover) if !recorder.history_is_empty() => {
            recorder.follow_latest();
            resumed_entered_at = slot.entered_at();
            slot.resume()
        }
        _ => {
            recorder.record_with(|| Event::ExecutionStarted {
                input: Payload::of(&info.input),
                role_arn: info.role_arn.clone(),
            });
            None
        }
    }
    // Only what the run needs of the checkpoint is kept across its awaits (a checkpoint is large).
    .map(|c| (c.state, c.input, c.vars));
    let mut exec = Exec::new(shared, &machine, info);
    exec.top = checkpoints.map(|slot| (machine.clone(), slot));
    exec.journal = journal;
    exec.resumed_entered_at = std::sync::Mutex::new(resumed_entered_at);
    // A redrive of an execution stopped before it entered any state starts from the beginning.
    let resuming = resumed.is_some();
    let (start, input, vars) = match resumed {
        Some(resumed) => resumed,
        // The context base holds its own copy when a state can read `$$.Execution.Input`.
        None => (machine.program.start_at, Arc::new(std::mem::take(&mut exec.info.input)), Vars::new()),
    };
    let mut thread = Thread { recorder, vars };
    let timeout = machine.timeout_seconds.map(|s| exec.scaled(s as f64));
    let slot = exec.top.as_ref().map(|(_, slot)| slot);
    let run = run_from(&exec, &machine.program, start, input, &mut thread, slot, resuming);
    let result = tokio::select! {
        biased;
        r = guarded(run) => End::Done(r),
        _ = cancel.cancelled() => End::Cancelled,
        _ = sleep_opt(timeout) => End::TimedOut,
    };
    let recorder = &mut thread.recorder;
    match result {
        End::Cancelled => {
            let reason = stop.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
            let (error, cause) = (reason.error, reason.cause);
            recorder
                .record_with(|| Event::ExecutionAborted(ErrorDetails { error: error.clone(), cause: cause.clone() }));
            Outcome { status: ExecutionStatus::Aborted, output: None, error, cause }
        }
        End::TimedOut => {
            recorder.record(Event::ExecutionTimedOut);
            Outcome { status: ExecutionStatus::TimedOut, output: None, error: None, cause: None }
        }
        End::Done(Ok(output)) => {
            if payload_too_large(&output) {
                let f = Failure::new(
                    names::DATA_LIMIT_EXCEEDED,
                    "The state/task returned a result with a size exceeding the maximum number of bytes service limit.",
                );
                return fail_execution(recorder, f);
            }
            recorder.record_with(|| Event::ExecutionSucceeded { output: Payload::of(&output) });
            Outcome { status: ExecutionStatus::Succeeded, output: Some(output), error: None, cause: None }
        }
        End::Done(Err(f)) => fail_execution(recorder, f),
    }
}

/// Runs `run`, turning a panic inside it into the execution's failure (`States.Runtime`), so that
/// an interpreter bug ends one execution as FAILED instead of leaving it RUNNING for ever.
async fn guarded(run: impl std::future::Future<Output = Result<Value, Failure>>) -> Result<Value, Failure> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(run).catch_unwind().await.unwrap_or_else(|panic| Err(internal_error(&*panic)))
}

/// The failure that reports a panic caught while running an execution.
pub(crate) fn internal_error(panic: &(dyn std::any::Any + Send)) -> Failure {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no detail".to_owned());
    Failure::new(names::RUNTIME, format!("An internal error occurred while running the execution: {detail}"))
}

/// How the top-level run ended.
enum End {
    Done(Result<Value, Failure>),
    Cancelled,
    TimedOut,
}

fn fail_execution(recorder: &mut Recorder, f: Failure) -> Outcome {
    // A Fail state without Error leaves the error empty: AWS then reports none.
    let error = Some(f.error).filter(|e| !e.is_empty());
    recorder.record_with(|| Event::ExecutionFailed(ErrorDetails { error: error.clone(), cause: f.cause.clone() }));
    Outcome { status: ExecutionStatus::Failed, output: None, error, cause: f.cause }
}

/// `seconds × scale` as a `Duration`, saturating at 10^9 s; NaN (an infinite delay at scale 0, say) is zero.
pub(crate) fn scaled_delay(seconds: f64, scale: f64) -> Duration {
    const LONGEST: f64 = 1e9;
    let s = seconds * scale;
    if s.is_nan() || s <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(s.min(LONGEST))
}

/// The instant `seconds` from now; `None` when it lies beyond what the clock can represent, which
/// is as good as never (a `TimeoutSecondsPath` of 10^19, say).
pub(crate) fn deadline_in(seconds: u64) -> Option<tokio::time::Instant> {
    tokio::time::Instant::now().checked_add(Duration::from_secs(seconds))
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

pub(crate) fn payload_too_large(v: &Value) -> bool {
    /// Counts bytes and gives up as soon as the limit is passed.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_PAYLOAD_BYTES {
                return Err(std::io::Error::other("over the payload limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Most payloads are far below the limit: a walk that bounds the serialised size from above
    // settles them without formatting anything.
    if size_upper_bound(v, MAX_PAYLOAD_BYTES) <= MAX_PAYLOAD_BYTES {
        return false;
    }
    serde_json::to_writer(Counter(0), v).is_err()
}

/// An upper bound of `v`'s compact JSON size, giving up (returning more than `limit`) once passed.
fn size_upper_bound(v: &Value, limit: usize) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 32,
        // Each character escapes to at most six bytes (`\u001f`).
        Value::String(s) => s.len() * 6 + 2,
        Value::Array(items) => {
            let mut total = 2;
            for item in items {
                total += size_upper_bound(item, limit) + 1;
                if total > limit {
                    return total;
                }
            }
            total
        }
        Value::Object(map) => {
            let mut total = 2;
            for (key, item) in map {
                total += key.len() * 6 + 4 + size_upper_bound(item, limit);
                if total > limit {
                    return total;
                }
            }
            total
        }
    }
}

impl Exec {
    pub(crate) fn new(shared: Arc<Shared>, machine: &StateMachine, info: ExecutionInfo) -> Exec {
        let needs_context = machine.reads_context;
        let context_base = if needs_context { Exec::context_base(&info) } else { Map::new() };
        Exec {
            shared,
            info,
            context_base,
            needs_context,
            top: None,
            journal: None,
            resumed_entered_at: std::sync::Mutex::new(None),
        }
    }

    /// The static part of `$$`: `Execution` and `StateMachine`.
    fn context_base(info: &ExecutionInfo) -> Map<String, Value> {
        let mut base = Map::new();
        let mut execution = json!({
            "Id": info.arn,
            "Input": info.input,
            "Name": info.name,
            "RoleArn": info.role_arn,
            "StartTime": legion_asl::timestamp::format(legion_asl::timestamp::truncate_to_millis(info.start_time)),
        });
        if !info.express {
            execution["RedriveCount"] = json!(info.redrive_count);
        }
        if let Some(t) = info.redrive_time {
            execution["RedriveTime"] =
                json!(legion_asl::timestamp::format(legion_asl::timestamp::truncate_to_millis(t)));
        }
        base.insert("Execution".into(), execution);
        base.insert("StateMachine".into(), json!({"Id": info.state_machine_arn, "Name": info.state_machine_name}));
        base
    }

    /// The store this execution shares with other engines, when it does.
    pub(crate) fn sharing_store(&self) -> Option<Arc<dyn crate::store::ExecutionStore>> {
        let store = &self.shared.executions.store;
        (self.journal.is_some() && store.lease().is_some()).then(|| store.clone())
    }

    /// Tells a store shared by several engines that a task of this execution waits on `token`, so that
    /// an answer sent to another engine comes here; the guard withdraws it when the task stops waiting.
    pub(crate) async fn share_token(&self, token: &str) -> Option<SharedToken> {
        let store = &self.shared.executions.store;
        if self.journal.is_none() || store.lease().is_none() {
            return None;
        }
        if let Err(e) = store.token_opened(&self.info.arn, token).await {
            tracing::warn!(execution = %self.info.arn, error = %e, "an answer sent to another instance cannot reach this task");
        }
        Some(SharedToken { store: store.clone(), token: token.to_owned() })
    }

    /// Commits a top-level state boundary to a durable store (nothing without one). A store that
    /// fails ends the execution: running on without recording would lose what it does.
    async fn commit(&self, slot: &CheckpointSlot, entered_at: Option<OffsetDateTime>) -> Result<(), Failure> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let entered_at = entered_at.or_else(|| self.resumed_entered_at()).unwrap_or_else(OffsetDateTime::now_utc);
        let Some(checkpoint) = slot.saved(entered_at) else { return Ok(()) };
        journal
            .commit(checkpoint)
            .await
            .map_err(|e| Failure::new(names::RUNTIME, format!("The execution could not be recorded: {e}")))
    }

    /// Commits a Retry back-off of the top-level state a durable execution is in, so that a restart
    /// waits out what is left of it instead of running the state again from its entry.
    async fn commit_retry(&self, state: &State, entered_at: OffsetDateTime, retry: SavedRetry) -> Result<(), Failure> {
        let Some((_, slot)) = self.top.as_ref().filter(|_| self.durable_top_state(state)) else { return Ok(()) };
        slot.set_retry(retry);
        self.commit(slot, Some(entered_at)).await
    }

    /// When the state a restarted execution resumes in was first entered (until that state ends).
    pub(crate) fn resumed_entered_at(&self) -> Option<OffsetDateTime> {
        *self.resumed_entered_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state a restarted execution resumed in has ended: later states wait in full.
    fn resumed_state_ended(&self) {
        self.resumed_entered_at.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// How long ago `state` was first entered, when it is the top-level state a restarted execution
    /// resumes in (a Wait then waits only for what was left); zero otherwise.
    pub(crate) fn resumed_elapsed(&self, state: &State) -> Duration {
        let Some(entered) = self.resumed_entered_at().filter(|_| self.is_top_state(state)) else {
            return Duration::ZERO;
        };
        (OffsetDateTime::now_utc() - entered).try_into().unwrap_or(Duration::ZERO)
    }

    /// Whether `state` is the top-level state a restarted execution resumes in.
    pub(crate) fn resuming(&self, state: &State) -> bool {
        self.resumed_entered_at().is_some() && self.is_top_state(state)
    }

    /// Whether the execution commits to a durable store (which keeps its definition).
    pub(crate) fn journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// Whether `state` is the top-level state of an execution that commits to a durable store.
    pub(crate) fn durable_top_state(&self, state: &State) -> bool {
        self.journal.is_some() && self.is_top_state(state)
    }

    fn is_top_state(&self, state: &State) -> bool {
        let Some((machine, slot)) = self.top.as_ref() else { return false };
        let current = slot.state().and_then(|i| machine.program.states.get(i));
        current.is_some_and(|c| std::ptr::eq(c, state))
    }

    /// The memo of branch outputs when `state` is the top-level state a redrive resumes (Standard
    /// executions only); `None` for every nested state.
    pub(crate) fn branch_memo(&self, state: &State) -> Option<BranchMemo> {
        let (machine, slot) = self.top.as_ref()?;
        let current = machine.program.states.get(slot.state()?)?;
        std::ptr::eq(current, state).then(|| slot.attempt())
    }

    /// A delay after applying the engine's time scale. Any delay is zero at time scale 0 (even an
    /// infinite one, such as a Retry whose `BackoffRate` overflows), and none is longer than 10^9 s.
    pub(crate) fn scaled(&self, seconds: f64) -> Duration {
        scaled_delay(seconds, self.shared.config.time_scale)
    }

    /// The context object of a Map's `ItemSelector` for one item (`Null` when nothing reads it).
    pub(crate) fn item_context(&self, state: &str, index: usize, item: &Value) -> Value {
        if !self.needs_context {
            return Value::Null;
        }
        let map_item = json!({"Item": {"Index": index, "Value": item}});
        self.context(state, OffsetDateTime::now_utc(), 0, &[("Map", map_item)])
    }

    /// The context object for a state.
    pub(crate) fn context(
        &self,
        state: &str,
        entered: OffsetDateTime,
        retry_count: u64,
        extra: &[(&str, Value)],
    ) -> Value {
        if !self.needs_context {
            return Value::Null;
        }
        let mut ctx = self.context_base.clone();
        let entered = legion_asl::timestamp::format(legion_asl::timestamp::truncate_to_millis(entered));
        let mut state_info = json!({"EnteredTime": entered, "Name": state});
        // AWS reports RetryCount only once the state has been retried.
        if retry_count > 0 {
            state_info["RetryCount"] = json!(retry_count);
        }
        ctx.insert("State".into(), state_info);
        for (k, v) in extra {
            ctx.insert((*k).to_owned(), v.clone());
        }
        Value::Object(ctx)
    }
}

/// Runs a program from its start to an End, Succeed or uncaught failure.
pub(crate) fn run_program<'a>(
    exec: &'a Exec,
    program: &'a Program,
    input: Value,
    thread: &'a mut Thread,
) -> BoxFuture<'a, Result<Value, Failure>> {
    run_from(exec, program, program.start_at, Arc::new(input), thread, None, false)
}

/// Runs a program from state `start`. With `checkpoints` (the top level of a Standard execution),
/// each state entered becomes the checkpoint a redrive resumes from; `resumed` says the first state is
/// the checkpoint already (a redrive), so its memo of branch outputs is kept.
fn run_from<'a>(
    exec: &'a Exec,
    program: &'a Program,
    start: usize,
    input: Arc<Value>,
    thread: &'a mut Thread,
    checkpoints: Option<&'a CheckpointSlot>,
    resumed: bool,
) -> BoxFuture<'a, Result<Value, Failure>> {
    Box::pin(async move {
        let mut current = start;
        let mut input = input;
        let mut resumed = resumed;
        loop {
            // A loop of Pass and Choice states never waits on anything: give the runtime a chance to
            // preempt it, so StopExecution and TimeoutSeconds can always end it.
            tokio::task::consume_budget().await;
            let state = &program.states[current];
            let mut retry = None;
            let resuming_now = resumed;
            if let Some(slot) = checkpoints {
                if std::mem::take(&mut resumed) {
                    // A restart resumes a Retry back-off that was committed (a redrive cleared it).
                    retry = slot.retry();
                } else {
                    slot.enter(current, &input, &thread.vars);
                }
                // A resumed state has nothing new to commit (a redrive's event goes with the next one).
                if !resuming_now && acts(state) {
                    exec.commit(slot, None).await?;
                }
            }
            match run_state(exec, state, &input, thread, retry).await {
                Ok(Exited::Next(next, output)) => {
                    if checkpoints.is_some() {
                        exec.resumed_state_ended();
                    }
                    current = next;
                    input = output;
                }
                // The exit event may hold the output too: then it is copied once, here.
                Ok(Exited::End(output)) => return Ok(Arc::unwrap_or_clone(output)),
                Err(f) => {
                    // AWS reruns a state in full when its result was too large.
                    if let (Some(slot), true) = (checkpoints, f.error == names::DATA_LIMIT_EXCEEDED) {
                        slot.forget_done();
                    }
                    return Err(f);
                }
            }
        }
    })
}

/// Whether a state can wait or act on the world (Task, Wait, Parallel, Map): a durable execution
/// commits before each such state. Pass, Choice, Succeed and Fail are instant and depend only on
/// their input and variables, so a restart that runs them again from the previous commit records the
/// same events (none of which had been committed) and reaches the same state.
fn acts(state: &State) -> bool {
    matches!(state.kind, StateKind::Task(_) | StateKind::Wait(_) | StateKind::Parallel(_) | StateKind::Map(_))
}

/// Runs one state with its Retry and Catch.
async fn run_state(
    exec: &Exec,
    state: &State,
    input: &Arc<Value>,
    thread: &mut Thread,
    resumed: Option<SavedRetry>,
) -> Result<Exited, Failure> {
    let state_type = StateType::from_name(state.kind.type_name());
    let (entered_at, entered_id, mut retry_counts, mut retry_count) = match resumed {
        // Resumed in its Retry back-off after a restart: entered and failed already; wait out what
        // is left, then try again.
        Some(r) => {
            let left = r.resume_at - OffsetDateTime::now_utc();
            tokio::time::sleep(left.try_into().unwrap_or(Duration::ZERO)).await;
            let mut counts = r.counts;
            counts.resize(state.retry.len(), 0);
            let entered_at = exec.resumed_entered_at().unwrap_or_else(OffsetDateTime::now_utc);
            (entered_at, r.entered_id, counts, r.retry_count)
        }
        None => {
            let entered_at = OffsetDateTime::now_utc();
            let entered_id = thread.recorder.record_at(entered_at, || Event::StateEntered {
                state_type,
                name: state.name.clone(),
                input: Payload::shared(input.clone()),
            });
            (entered_at, entered_id, vec![0u64; state.retry.len()], 0)
        }
    };
    loop {
        let ctx = exec.context(&state.name, entered_at, retry_count, &[]);
        let attempt = flow::execute(exec, state, input, &ctx, thread, retry_count).await;
        let failure = match attempt {
            Ok(step) => {
                let output = step.flow.output();
                if payload_too_large(output) {
                    return Err(Failure::new(
                        names::DATA_LIMIT_EXCEEDED,
                        format!(
                            "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                            state.name
                        ),
                    ));
                }
                return Ok(exit(state, state_type, step, thread));
            }
            Err(StateError::Failed(f)) => f,
            Err(StateError::Eval(e)) => {
                let cause = interpreter_cause(state, entered_id, &e.detail);
                if let Some(location) = &e.location {
                    thread.recorder.record_with(|| {
                        Event::EvaluationFailed(Box::new(EvaluationFailedDetails {
                            error: e.error.clone(),
                            cause: cause.clone(),
                            location: location.clone(),
                            state: state.name.to_string(),
                        }))
                    });
                }
                Failure { error: e.error, cause: Some(cause) }
            }
        };
        if let Some(i) = state.retry.iter().position(|r| error_matches(&r.error_equals, &failure.error)) {
            let retrier = &state.retry[i];
            if retry_counts[i] < retrier.max_attempts {
                retry_counts[i] += 1;
                retry_count += 1;
                let mut delay = retrier.delay_seconds(retry_counts[i]);
                if retrier.full_jitter {
                    delay *= rand::random::<f64>();
                }
                let delay = exec.scaled(delay);
                let resume_at = OffsetDateTime::now_utc() + delay;
                let back_off = SavedRetry { entered_id, counts: retry_counts.clone(), retry_count, resume_at };
                exec.commit_retry(state, entered_at, back_off).await?;
                tokio::time::sleep(delay).await;
                continue;
            }
        }
        // States.Runtime ends the execution at once, with no further events of the state.
        if failure.error == names::RUNTIME {
            return Err(failure);
        }
        // The state has failed for good: Map and Parallel say so before any Catch applies.
        match state.kind {
            StateKind::Map(_) => {
                thread.recorder.record(Event::MapStateFailed);
            }
            StateKind::Parallel(_) => {
                thread.recorder.record(Event::ParallelStateFailed);
            }
            _ => {}
        }
        let Some(catcher) = state.catch.iter().find(|c| error_matches(&c.error_equals, &failure.error)) else {
            return Err(failure);
        };
        let error_output = failure.error_output();
        let ctx = exec.context(&state.name, entered_at, retry_count, &[]);
        let caught = data::catch_output(state, catcher, input, error_output, &ctx, &thread.vars);
        return match caught {
            Ok((output, assigned)) => {
                let step = Step { flow: Flow::Next(catcher.next, output), assigned };
                Ok(exit(state, state_type, step, thread))
            }
            Err(e) => {
                let cause = interpreter_cause(state, entered_id, &e.detail);
                Err(Failure { error: e.error, cause: Some(cause) })
            }
        };
    }
}

/// AWS's cause for an error the interpreter raises in a state: the detail behind a prefix naming the
/// state and the event that entered it.
fn interpreter_cause(state: &State, entered_id: u64, detail: &str) -> String {
    format!(
        "An error occurred while executing the state '{}' (entered at the event id #{entered_id}). {detail}",
        state.name
    )
}

/// Records the exit event and applies assignments.
fn exit(state: &State, state_type: StateType, step: Step, thread: &mut Thread) -> Exited {
    let exited = match step.flow {
        Flow::Next(next, output) => Exited::Next(next, Arc::new(output)),
        Flow::End(output) => Exited::End(Arc::new(output)),
    };
    let (Exited::Next(_, output) | Exited::End(output)) = &exited;
    let record = !matches!(state.kind, StateKind::Fail(_));
    if record {
        thread.recorder.record_with(|| Event::StateExited {
            state_type,
            name: state.name.clone(),
            output: Payload::shared(output.clone()),
            assigned: step.assigned.as_ref().map(|a| a.iter().map(|(k, v)| (k.clone(), Payload::of(v))).collect()),
        });
    }
    if let Some(assigned) = step.assigned {
        thread.vars.assign(assigned);
    }
    exited
}

/// The transition after a state that completed normally.
pub(crate) fn next_flow(state: &State, output: Value) -> Flow {
    match state.transition {
        Transition::Next(n) => Flow::Next(n, output),
        Transition::End | Transition::None => Flow::End(output),
    }
}

/// The environment for evaluating a state's fields.
pub(crate) fn env<'a>(data: &'a Value, ctx: &'a Value, vars: &'a Vars, states: &'a Value) -> Env<'a> {
    Env { data, context: ctx, vars, states }
}

/// `$states` for a JSONata state.
pub(crate) fn states_value(state: &State, input: &Value, ctx: &Value, extra: &[(&str, &Value)]) -> Value {
    if state.query_language != QueryLanguage::Jsonata {
        return Value::Null;
    }
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    m.insert("context".into(), ctx.clone());
    for (k, v) in extra {
        m.insert((*k).to_owned(), (*v).clone());
    }
    Value::Object(m)
}
