//! Distributed Map: a map run whose items (or batches of items) run as child executions.
//!
//! The run pulls from an [`ItemSource`] only after taking a concurrency permit, so at most
//! `MaxConcurrency` children run and the reader never gets ahead of them. Each child is an execution
//! of its own (its own ARN, history and context object, no access to the parent's variables). Every
//! item ends up counted as succeeded, failed (or timed out, or aborted) or pending, in the map-run
//! record and, with a `ResultWriter`, in the result files.

use std::borrow::Cow;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use legion_asl::error::{names, EvalError};
use legion_asl::model::{MapState, NumberField, QueryLanguage, State, StateMachine, StateMachineType};
use legion_asl::path::Scope;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::config::{DistributedSpec, OutputType, ReaderSpec, WriterTransformation};
use super::{eval_number, input_items, limits, select_item, Limits};
use crate::engine::{ExecutionStatus, Outcome, RunMode, StopSlot};
use crate::history::{ErrorDetails, Event, History, Recorder};
use crate::interp::checkpoint::{BranchMemo, MapRunMemo};
use crate::interp::data::{self, input_path};
use crate::interp::{
    env, next_flow, payload_too_large, run_execution, states_value, Exec, ExecutionInfo, Failure, StateError, Step,
    Thread, Top, MAX_PAYLOAD_BYTES,
};
use crate::map_run::{
    ChildExecution, ChildQueue, ChildResult, Counts, ItemSource, LiveRuns, MapRunInfo, MapRunStatus, MapRunStore,
    MapRunUpdate, QueuedChild, ReaderRequest, RecordKind, ResultFiles, RunLimits, VecItemSource,
};

/// The most children a map run starts at once (AWS's bound when `MaxConcurrency` is 0 or absent).
const MAX_CHILDREN: usize = 10_000;
/// The most times one map run may be redriven.
const MAX_MAP_RUN_REDRIVES: u32 = 1000;
/// The default (and largest) `MaxInputBytesPerBatch`.
const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// Runs a Distributed Map state: evaluates its configuration, opens (or continues) its map run,
/// opens the item source and the result files, runs the children, and finishes.
pub(crate) async fn run(
    exec: &Exec,
    state: &State,
    m: &MapState,
    raw: &Value,
    ctx: &Value,
    thread: &mut Thread,
    execution_type: StateMachineType,
) -> Result<Step, StateError> {
    let vars = thread.vars.clone();
    let Configuration {
        spec,
        eff,
        inline_items,
        limits,
        batching,
        reader_parameters,
        export,
        output_type,
        transformation,
    } = evaluate(state, m, raw, ctx, thread, &vars)?;
    let opened = open_run(exec, state, m, &limits, thread).await?;
    let offering = offering(exec, state, &opened).await?;
    let (mut guard, limits_rx) = opened.guard(exec, thread, &limits, &offering);

    let source = match open_source(exec, state, &spec, inline_items, reader_parameters, (&eff, raw, ctx), thread).await
    {
        Ok(source) => source,
        Err(ReaderFailure::Eval(e)) => return Err(e.into()),
        Err(ReaderFailure::Failed(cause)) => {
            return Err(guard.fail(thread, Failure::new(names::ITEM_READER_FAILED, cause)).into())
        }
    };
    let results = match (&export, &exec.shared.map_runs.s3) {
        (Some((bucket, prefix)), Some(s3)) => {
            let jsonl = output_type == OutputType::Jsonl;
            let files = ResultFiles::new(s3.clone(), bucket, prefix, &opened.run_id(), &opened.map_run_arn, jsonl);
            Some(files.after_earlier_successes(opened.earlier_files.clone()))
        }
        (Some(_), None) => {
            let f = Failure::new(names::RESULT_WRITER_FAILED, "No S3 connector is configured for this engine");
            return Err(guard.fail(thread, f).into());
        }
        (None, _) => None,
    };

    let machine = Arc::new(m.processor_machine(state.query_language));
    let OpenedRun { map_run_arn, machine_name, child_machine_arn, memo, recovered, journal, .. } = opened;
    let mut runner = Runner {
        exec,
        state,
        m,
        raw,
        eff: &eff,
        vars: &vars,
        limits,
        limits_rx: Some(limits_rx),
        store: exec.shared.map_runs.store.clone(),
        machine,
        machine_name,
        child_machine_arn,
        express: execution_type == StateMachineType::Express,
        source,
        source_done: false,
        next_index: 0,
        held: None,
        batching,
        results,
        transformation,
        collected: Vec::new(),
        collected_bytes: 0,
        too_large: false,
        keep_input: export.is_some() || transformation == WriterTransformation::None,
        memo,
        written: Default::default(),
        recovered: recovered.map(|p| p.succeeded).unwrap_or_default(),
        journal,
        offering,
    };
    let outcome = runner.drive(&mut guard).await;
    let output = finish(&mut runner, &mut guard, outcome, thread, &map_run_arn).await?;
    thread.recorder.record(Event::MapStateSucceeded);
    let (output, assigned) = data::finish(state, data::raw_for_result(state, raw), output, ctx, &thread.vars, true)?;
    Ok(Step { flow: next_flow(state, output), assigned })
}

/// The map run a Distributed Map state runs, once opened.
struct OpenedRun {
    map_run_arn: String,
    /// The children's state machine: `machine/label`, and its ARN.
    machine_name: Arc<str>,
    child_machine_arn: Arc<str>,
    /// `MaxConcurrency` as the map run reports it (0: no limit).
    max_concurrency: u64,
    /// A redriven top-level Map's memo: the children that succeeded before, and where this attempt
    /// notes its own.
    memo: Option<BranchMemo>,
    /// The SUCCEEDED result files of earlier attempts (a redrive).
    earlier_files: Vec<(String, u64)>,
    /// After a restart: what the children that had succeeded gave.
    recovered: Option<crate::store::MapProgress>,
    /// The durable store that notes each success, at the top level of a durable execution.
    journal: Option<Arc<dyn crate::store::ExecutionStore>>,
}

impl OpenedRun {
    /// The map run's UUID, the same across redrives: the result files live under it.
    fn run_id(&self) -> String {
        self.map_run_arn.rsplit(':').next().unwrap_or_default().to_owned()
    }

    /// Registers the run's limits for UpdateMapRun: the guard that ends the run however the state
    /// ends, and UpdateMapRun's changes.
    fn guard(
        &self,
        exec: &Exec,
        thread: &Thread,
        limits: &Limits,
        offering: &Option<Offering>,
    ) -> (RunGuard, watch::Receiver<RunLimits>) {
        let live = exec.shared.map_runs.live.clone();
        let run_limits = RunLimits {
            max_concurrency: self.max_concurrency,
            tolerated_count: limits.tolerated_count,
            tolerated_percentage: limits.tolerated_percentage,
        };
        let limits_rx = live.register(&self.map_run_arn, run_limits);
        let guard = RunGuard {
            cancel: CancellationToken::new(),
            store: exec.shared.map_runs.store.clone(),
            live,
            map_run_arn: self.map_run_arn.as_str().into(),
            recorder: thread.recorder.clone(),
            items: Counts::default(),
            executions: Counts::default(),
            finished: false,
            queue: offering.as_ref().map(|o| o.queue.clone()),
        };
        (guard, limits_rx)
    }
}

/// Opens the state's map run: a new one (recording MapRunStarted), the one a redriven top-level
/// Map continues (its children that succeeded are not run again; MapRunRedriven), or, after a
/// restart, the one a durable execution's state had started.
async fn open_run(
    exec: &Exec,
    state: &State,
    m: &MapState,
    limits: &Limits,
    thread: &mut Thread,
) -> Result<OpenedRun, StateError> {
    let config = &exec.shared.config;
    let label = m.label.clone().unwrap_or_else(|| state.name.to_string());
    let machine_name: Arc<str> = format!("{}/{}", exec.info.state_machine_name, label).into();
    let child_machine_arn: Arc<str> =
        format!("arn:aws:states:{}:{}:stateMachine:{}", config.region, config.account_id, machine_name).into();
    let store = &exec.shared.map_runs.store;
    let max_concurrency = if limits.concurrency >= MAX_CHILDREN { 0 } else { limits.concurrency as u64 };
    let tolerated = (limits.tolerated_percentage.unwrap_or(0.0), limits.tolerated_count.unwrap_or(0));
    let memo = exec.branch_memo(state);
    let redriven = match memo.as_ref().and_then(|m| m.map_run()) {
        Some(run) => redrive(store.as_ref(), run).await?.map(|count| (run.clone(), count)),
        None => None,
    };
    let earlier_files = redriven.as_ref().map(|(run, _)| run.succeeded_files.clone()).unwrap_or_default();
    let durable = exec.durable_top_state(state);
    let executions = exec.shared.executions.store.clone();
    let recovered = match (durable && exec.resuming(state), &redriven) {
        (true, None) => executions.map_progress(&exec.info.arn).await.map_err(store_failure)?,
        _ => None,
    };
    let map_run_arn = match redriven {
        Some((MapRunMemo { map_run_arn: arn, .. }, count)) => {
            store.update_limits(&arn, max_concurrency, tolerated.0, tolerated.1);
            thread.recorder.record_with(|| Event::MapRunRedriven { map_run_arn: arn.clone(), redrive_count: count });
            arn
        }
        None => {
            let arn = match &recovered {
                Some(progress) => progress.map_run_arn.clone(),
                None => {
                    let run_id = uuid::Uuid::new_v4();
                    format!("arn:aws:states:{}:{}:mapRun:{}:{}", config.region, config.account_id, machine_name, run_id)
                }
            };
            if durable {
                executions.map_run_started(&exec.info.arn, &arn).await.map_err(store_failure)?;
            }
            thread.recorder.record_with(|| Event::MapRunStarted { map_run_arn: arn.clone() });
            store.insert_run(MapRunInfo {
                map_run_arn: arn.clone(),
                execution_arn: exec.info.arn.to_string(),
                state_machine_arn: child_machine_arn.to_string(),
                status: MapRunStatus::Running,
                start_date: OffsetDateTime::now_utc(),
                stop_date: None,
                max_concurrency,
                tolerated_failure_percentage: tolerated.0,
                tolerated_failure_count: tolerated.1,
                item_counts: Counts::default(),
                execution_counts: Counts::default(),
                redrive_count: 0,
                redrive_date: None,
            });
            arn
        }
    };
    if let Some(m) = &memo {
        m.started_map_run(MapRunMemo { map_run_arn: map_run_arn.clone(), succeeded_files: earlier_files.clone() });
    }
    Ok(OpenedRun {
        map_run_arn,
        machine_name,
        child_machine_arn,
        max_concurrency,
        memo,
        earlier_files,
        recovered,
        journal: durable.then_some(executions),
    })
}

/// Counts a redrive of `run` in the store; its new redrive count (`None` when the store no longer
/// has the run). Fails once the run has been redriven as often as a map run may be.
async fn redrive(store: &dyn MapRunStore, run: &MapRunMemo) -> Result<Option<u32>, StateError> {
    let known = store.describe_run(&run.map_run_arn).await.map_err(store_failure)?;
    if known.is_some_and(|r| r.redrive_count >= MAX_MAP_RUN_REDRIVES) {
        // AWS fails with States.Runtime here; the cause's wording is not known.
        let cause = format!(
            "The Map Run {} has been redriven {MAX_MAP_RUN_REDRIVES} times, the most a Map Run can be redriven",
            run.map_run_arn
        );
        return Err(Failure::new(names::RUNTIME, cause).into());
    }
    store.redrive_run(&run.map_run_arn, OffsetDateTime::now_utc()).await.map_err(store_failure)
}

/// With a queue that other engines share, the children of an execution the store keeps are offered
/// to all of them. Names are derived from the map run, the redrive and the ordinal, so that an
/// engine taking the map run over offers the same children again.
async fn offering(exec: &Exec, state: &State, opened: &OpenedRun) -> Result<Option<Offering>, StateError> {
    let Some(queue) = exec.shared.map_runs.queue.as_ref().filter(|_| exec.journaled()) else { return Ok(None) };
    let attempt = match (&opened.memo, &opened.recovered) {
        (None, None) => 0,
        _ => {
            let run = exec.shared.map_runs.store.describe_run(&opened.map_run_arn).await.map_err(store_failure)?;
            run.map_or(0, |r| r.redrive_count)
        }
    };
    Ok(Some(Offering {
        queue: queue.clone(),
        parent_arn: exec.info.arn.to_string(),
        state_name: state.name.to_string(),
        attempt,
    }))
}

/// The items: inline (`Items`, `ItemsPath`) or read by the `ItemReader`, at most its `MaxItems`.
async fn open_source(
    exec: &Exec,
    state: &State,
    spec: &DistributedSpec,
    inline_items: Option<Vec<Value>>,
    parameters: Map<String, Value>,
    (eff, raw, ctx): (&Value, &Value, &Value),
    thread: &Thread,
) -> Result<Box<dyn ItemSource>, ReaderFailure> {
    let reader = match (inline_items, &spec.reader) {
        (Some(items), _) => return Ok(Box::new(VecItemSource::new(items))),
        (None, None) => return Ok(Box::new(VecItemSource::new(Vec::new()))),
        (None, Some(reader)) => reader,
    };
    let max_items = reader_max_items(state, reader, eff, raw, ctx, thread)?;
    let request = ReaderRequest { resource: reader.resource, parameters, config: reader.config.clone() };
    let Some(s3) = &exec.shared.map_runs.s3 else {
        return Err(ReaderFailure::Failed("No S3 connector is configured for this engine".to_owned()));
    };
    let source = s3.open_items(request).await.map_err(|e| ReaderFailure::Failed(e.cause))?;
    Ok(match max_items {
        Some(n) => Box::new(Limited { inner: source, left: n }),
        None => source,
    })
}

/// Ends the map run after its children: the pending items and the result files' manifest on a
/// failure, MapRunSucceeded otherwise; the state's output (the results, or where the files are).
async fn finish(
    runner: &mut Runner<'_>,
    guard: &mut RunGuard,
    outcome: Result<(), RunError>,
    thread: &mut Thread,
    map_run_arn: &str,
) -> Result<Value, StateError> {
    let mut failure = match outcome {
        Ok(()) => None,
        Err(RunError::Failed(f)) => Some(f),
        Err(RunError::Eval(e)) => {
            guard.finish(MapRunStatus::Failed);
            return Err(e.into());
        }
    };
    // Items never started are pending; with a ResultWriter they are written to PENDING files.
    if failure.is_some() && !runner.source_done {
        if let Err(f) = runner.drain_pending(guard).await {
            failure.get_or_insert(f);
        }
    }
    let manifest = match runner.results.take() {
        Some(files) => {
            let bucket = files.bucket().to_owned();
            match files.finish_listing().await {
                Ok((key, succeeded_files)) => {
                    // Only now are the successes written for good: a redrive may skip those children.
                    if let Some(memo) = &runner.memo {
                        memo.written(std::mem::take(&mut runner.written));
                        let map_run_arn = map_run_arn.to_owned();
                        memo.started_map_run(MapRunMemo { map_run_arn, succeeded_files });
                    }
                    Some((bucket, key))
                }
                Err(e) => {
                    failure.get_or_insert(Failure::new(names::RESULT_WRITER_FAILED, e.cause));
                    None
                }
            }
        }
        None => None,
    };
    if let Some(f) = failure {
        return Err(guard.fail(thread, f).into());
    }
    guard.finish(MapRunStatus::Succeeded);
    thread.recorder.record(Event::MapRunSucceeded);
    if runner.too_large {
        return Err(Failure::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                runner.state.name
            ),
        )
        .into());
    }
    Ok(match manifest {
        Some((bucket, key)) => json!({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}),
        None => runner.output(),
    })
}

struct Configuration<'a> {
    spec: DistributedSpec,
    /// The effective input (after `InputPath`, for a JSONPath state), borrowed from the raw input
    /// when it is the raw input.
    eff: Cow<'a, Value>,
    inline_items: Option<Vec<Value>>,
    limits: Limits,
    batching: Option<Batching>,
    reader_parameters: Map<String, Value>,
    /// The `ResultWriter`'s bucket and prefix.
    export: Option<(String, String)>,
    output_type: OutputType,
    transformation: WriterTransformation,
}

/// Evaluates the Map state's configuration; records `MapStateStarted` once its items are known.
fn evaluate<'a>(
    state: &State,
    m: &MapState,
    raw: &'a Value,
    ctx: &Value,
    thread: &mut Thread,
    vars: &crate::vars::Vars,
) -> Result<Configuration<'a>, StateError> {
    let spec = DistributedSpec::compile(m, state.query_language)?;
    let (eff, inline_items) = match &spec.reader {
        None => {
            let (eff, items) = input_items(state, m, raw, ctx, vars)?;
            (eff, Some(items))
        }
        Some(_) => match state.query_language {
            QueryLanguage::JsonPath => (input_path(&state.io.input_path, raw, ctx, vars)?, None),
            QueryLanguage::Jsonata => (Cow::Borrowed(raw), None),
        },
    };
    let length = inline_items.as_ref().map_or(0, Vec::len);
    thread.recorder.record(Event::MapStateStarted { length });
    let limits = limits(state, m, &eff, raw, ctx, thread)?;
    let eval_template = |t: &legion_asl::template::Template| -> Result<Value, EvalError> {
        let states = states_value(state, raw, ctx, &[]);
        let data = if state.query_language == QueryLanguage::JsonPath { &eff } else { raw };
        t.eval(&env(data, ctx, vars, &states))
    };
    let batching = match &spec.batcher {
        None => None,
        Some(b) => {
            let max_items = match &b.max_items {
                Some(f) => {
                    Some(batch_number(eval_number(state, f, "MaxItemsPerBatch", false, &eff, raw, ctx, thread)?))
                }
                None => None,
            };
            let max_bytes = match &b.max_bytes {
                Some(f) => batch_number(eval_number(state, f, "MaxInputBytesPerBatch", false, &eff, raw, ctx, thread)?),
                None => MAX_BATCH_BYTES,
            };
            let batch_input = b.batch_input.as_ref().map(&eval_template).transpose()?;
            Some(Batching {
                max_items: max_items.unwrap_or(u64::MAX),
                max_bytes: max_bytes.min(MAX_BATCH_BYTES),
                batch_input,
            })
        }
    };
    let reader_parameters = match spec.reader.as_ref().and_then(|r| r.parameters.as_ref()) {
        Some(t) => as_object(eval_template(t)?, "ItemReader")?,
        None => Map::new(),
    };
    let export = match spec.writer.as_ref().and_then(|w| w.target.as_ref()) {
        Some(t) => {
            let target = as_object(eval_template(t)?, "ResultWriter")?;
            let bucket = target.get("Bucket").and_then(Value::as_str).unwrap_or_default().to_owned();
            let prefix = target.get("Prefix").and_then(Value::as_str).unwrap_or_default().to_owned();
            Some((bucket, prefix))
        }
        None => None,
    };
    let (output_type, transformation) = match &spec.writer {
        Some(w) => (w.output_type, w.transformation),
        None => (OutputType::Json, WriterTransformation::Compact),
    };
    Ok(Configuration {
        spec,
        eff,
        inline_items,
        limits,
        batching,
        reader_parameters,
        export,
        output_type,
        transformation,
    })
}

fn as_object(v: Value, field: &str) -> Result<Map<String, Value>, EvalError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(EvalError::runtime(format!("The {field} parameters must be an object, but were: {other}"))),
    }
}

/// A batch size from a number field: at least 1.
fn batch_number(n: f64) -> u64 {
    if n.is_finite() && n >= 1.0 {
        n as u64
    } else {
        1
    }
}

enum ReaderFailure {
    Eval(EvalError),
    Failed(String),
}

/// `MaxItems`: `None` for no limit (absent or 0).
fn reader_max_items(
    state: &State,
    reader: &ReaderSpec,
    eff: &Value,
    raw: &Value,
    ctx: &Value,
    thread: &Thread,
) -> Result<Option<u64>, ReaderFailure> {
    let Some(field) = &reader.max_items else { return Ok(None) };
    let n = match field {
        NumberField::Path(p) => {
            let scope = Scope { data: eff, context: ctx, vars: &thread.vars };
            let v = p.eval(&scope).map_err(|e| ReaderFailure::Eval(data::path_error(e, "MaxItemsPath")))?;
            let n = match v.as_ref() {
                Value::String(s) => s.trim().parse::<f64>().ok(),
                other => other.as_f64(),
            };
            n.filter(|n| n.fract() == 0.0).ok_or_else(|| {
                ReaderFailure::Eval(EvalError::runtime(format!(
                    "The MaxItemsPath field refers to value \"{}\" which is not a valid integer: {p}",
                    match v.as_ref() {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }
                )))
            })?
        }
        other => eval_number(state, other, "MaxItems", false, eff, raw, ctx, thread).map_err(ReaderFailure::Eval)?,
    };
    if n < 0.0 {
        return Err(ReaderFailure::Failed("field MaxItems must be positive".to_owned()));
    }
    Ok((n >= 1.0).then_some(n as u64))
}

/// A source cut off after `MaxItems` items.
struct Limited {
    inner: Box<dyn ItemSource>,
    left: u64,
}

impl ItemSource for Limited {
    fn next_item(&mut self) -> crate::dispatch::BoxFuture<'_, Result<Option<Value>, crate::map_run::ItemReaderError>> {
        Box::pin(async move {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            self.inner.next_item().await
        })
    }

    fn len_hint(&self) -> Option<u64> {
        self.inner.len_hint().map(|n| n.min(self.left))
    }
}

/// The evaluated `ItemBatcher`.
struct Batching {
    max_items: u64,
    max_bytes: u64,
    batch_input: Option<Value>,
}

/// A durable store that failed while the map run starts: the execution cannot go on unrecorded.
fn store_failure(e: crate::store::StoreError) -> StateError {
    StateError::Failed(Failure::new(names::RUNTIME, format!("The execution could not be recorded: {e}")))
}

/// Why the run stopped early.
enum RunError {
    /// The run fails with this error (threshold, reader, writer).
    Failed(Failure),
    /// An ItemSelector (or similar) evaluation error: the state fails with it.
    Eval(EvalError),
}

/// One child's input, ready to run.
struct Work {
    input: Value,
    item_count: u64,
}

/// What a finished child reports.
struct Done {
    ordinal: usize,
    item_count: u64,
    arn: Arc<str>,
    name: Arc<str>,
    start: OffsetDateTime,
    input_text: Option<String>,
    outcome: Outcome,
}

/// A child execution's record in the `ResultWriter`'s files (and, without one, in the Map's output),
/// in AWS's field order; a succeeded child has `Output`, a failed one `Error` and `Cause`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct ChildRecord<'a> {
    execution_arn: &'a str,
    input: &'a str,
    input_details: Included,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<Included>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
    redrive_count: u32,
    redrive_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redrive_status_reason: Option<&'static str>,
    start_date: String,
    state_machine_arn: &'a str,
    status: &'static str,
    stop_date: String,
}

/// `{"Included": true}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Included {
    included: bool,
}

/// A child's record, serialised straight to a result file or into [`Runner::record`]'s value.
fn child_record<'a>(done: &'a Done, stop: OffsetDateTime, machine_arn: &'a str, express: bool) -> ChildRecord<'a> {
    let fmt = |t: OffsetDateTime| legion_asl::timestamp::format(legion_asl::timestamp::truncate_to_millis(t));
    let o = &done.outcome;
    let succeeded = o.status == ExecutionStatus::Succeeded;
    ChildRecord {
        execution_arn: &done.arn,
        input: done.input_text.as_deref().unwrap_or_default(),
        input_details: Included { included: true },
        name: &done.name,
        output: succeeded.then(|| o.output.as_ref().map(crate::history::compact).unwrap_or_default()),
        output_details: succeeded.then_some(Included { included: true }),
        error: if succeeded { None } else { o.error.as_deref() },
        cause: if succeeded { None } else { o.cause.as_deref() },
        redrive_count: 0,
        redrive_status: match (succeeded, express) {
            (true, _) => "NOT_REDRIVABLE",
            (false, true) => "REDRIVABLE_BY_MAP_RUN",
            (false, false) => "REDRIVABLE",
        },
        redrive_status_reason: succeeded.then_some("Execution is SUCCEEDED and cannot be redriven"),
        start_date: fmt(done.start),
        state_machine_arn: machine_arn,
        status: o.status.as_str(),
        stop_date: fmt(stop),
    }
}

/// A UUID's hyphenated text, made once where it is kept.
fn uuid_text(id: uuid::Uuid) -> Arc<str> {
    Arc::from(&*id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()))
}

/// Marks the map run aborted (and stops its children) if the map state is dropped before it ends.
struct RunGuard {
    cancel: CancellationToken,
    store: Arc<dyn MapRunStore>,
    live: Arc<LiveRuns>,
    /// Shared by the records of all its children.
    map_run_arn: Arc<str>,
    recorder: Recorder,
    items: Counts,
    executions: Counts,
    finished: bool,
    /// The queue its children were offered through; they are withdrawn when the run ends.
    queue: Option<Arc<dyn ChildQueue>>,
}

impl RunGuard {
    fn publish(&self, status: MapRunStatus, stop_date: Option<OffsetDateTime>) {
        self.store.update_run(
            &self.map_run_arn,
            MapRunUpdate { status, stop_date, item_counts: self.items, execution_counts: self.executions },
        );
    }

    fn finish(&mut self, status: MapRunStatus) {
        self.finished = true;
        self.live.unregister(&self.map_run_arn);
        self.cancel.cancel();
        if let Some(queue) = &self.queue {
            queue.close_run(&self.map_run_arn);
        }
        self.publish(status, Some(OffsetDateTime::now_utc()));
    }

    /// Ends the run as FAILED, recording MapRunFailed; returns the failure for the state.
    fn fail(&mut self, thread: &mut Thread, f: Failure) -> Failure {
        self.finish(MapRunStatus::Failed);
        thread.recorder.record_with(|| Event::MapRunFailed(ErrorDetails::new(f.error.clone(), f.cause.clone())));
        f
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.live.unregister(&self.map_run_arn);
            self.cancel.cancel();
            if let Some(queue) = &self.queue {
                queue.close_run(&self.map_run_arn);
            }
            self.publish(MapRunStatus::Aborted, Some(OffsetDateTime::now_utc()));
            self.recorder.record(Event::MapRunAborted);
        }
    }
}

struct Runner<'a> {
    exec: &'a Exec,
    state: &'a State,
    m: &'a MapState,
    raw: &'a Value,
    eff: &'a Value,
    vars: &'a crate::vars::Vars,
    /// The limits in force: the state's, then UpdateMapRun's.
    limits: Limits,
    /// UpdateMapRun's changes; `None` once the channel has closed.
    limits_rx: Option<watch::Receiver<RunLimits>>,
    store: Arc<dyn MapRunStore>,
    machine: Arc<StateMachine>,
    machine_name: Arc<str>,
    child_machine_arn: Arc<str>,
    express: bool,
    source: Box<dyn ItemSource>,
    source_done: bool,
    next_index: u64,
    /// An item read but left for the next batch (it would have overflowed the byte cap).
    held: Option<(Value, u64)>,
    batching: Option<Batching>,
    results: Option<ResultFiles>,
    transformation: WriterTransformation,
    /// Child outputs by child ordinal, for the state output (when results are not exported).
    collected: Vec<Option<Value>>,
    collected_bytes: usize,
    too_large: bool,
    keep_input: bool,
    /// A redriven top-level map run: the results of children that succeeded before, by ordinal; and
    /// where this attempt notes its own.
    memo: Option<BranchMemo>,
    /// With a `ResultWriter` and a memo: the ordinals whose successes this attempt's files hold (the
    /// memo learns them once the files are complete).
    written: crate::store::Ordinals,
    /// After a restart: what the children that had succeeded gave, by ordinal (they do not run again).
    recovered: std::collections::HashMap<u64, Value>,
    /// The durable store that notes each success, at the top level of a durable execution.
    journal: Option<Arc<dyn crate::store::ExecutionStore>>,
    /// Where children are offered to every engine sharing the store, instead of run here.
    offering: Option<Offering>,
}

/// A map run whose children are offered through a [`ChildQueue`].
struct Offering {
    queue: Arc<dyn ChildQueue>,
    parent_arn: String,
    state_name: String,
    /// The map run's redrive count, part of each child's name.
    attempt: u32,
}

/// The namespace of the names of offered children (a UUID v5 of map run, redrive and ordinal).
const CHILD_NAMES: uuid::Uuid = uuid::Uuid::from_u128(0x6c65_6769_6f6e_4d61_7043_6869_6c64_0001);

impl Runner<'_> {
    /// Starts children while permits and items last, and handles their results.
    async fn drive(&mut self, guard: &mut RunGuard) -> Result<(), RunError> {
        let mut running = FuturesUnordered::new();
        let mut ordinal = 0usize;
        let mut failure: Option<RunError> = None;
        self.check_total(guard)?;
        loop {
            if running.is_empty() && self.source_done {
                break;
            }
            // Items are read only when a child can start at once, so the reader never runs ahead.
            let can_start = !self.source_done && running.len() < self.limits.concurrency.clamp(1, MAX_CHILDREN);
            tokio::select! {
                biased;
                Some(done) = running.next(), if !running.is_empty() => {
                    let done: Done = done;
                    if let Err(f) = self.finished_child(guard, done, true).await {
                        failure = Some(f);
                        break;
                    }
                }
                changed = limits_changed(&mut self.limits_rx) => {
                    match changed {
                        Some(l) => {
                            self.apply_limits(l);
                            if let Err(f) = self.check_total(guard) {
                                failure = Some(f);
                                break;
                            }
                        }
                        None => self.limits_rx = None,
                    }
                }
                _ = std::future::ready(()), if can_start => {
                    match self.next_work().await {
                        Ok(Some(work)) => {
                            if let Some(result) = self.recovered.remove(&(ordinal as u64)) {
                                if let Err(f) = self.reuse_recovered(guard, ordinal, work.item_count, result).await {
                                    failure = Some(f);
                                    break;
                                }
                            } else {
                                match self.memo.as_ref().and_then(|m| m.reused(ordinal)) {
                                    Some(result) => self.reuse(guard, ordinal, work.item_count, result),
                                    None => running.push(self.start_child(guard, ordinal, work)),
                                }
                            }
                            ordinal += 1;
                        }
                        Ok(None) => {
                            self.source_done = true;
                            if let Err(f) = self.check_total(guard) {
                                failure = Some(f);
                                break;
                            }
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        if let Some(f) = failure {
            // Stop the children still running; they end ABORTED and are written as failed.
            guard.cancel.cancel();
            while let Some(done) = running.next().await {
                if let Err(RunError::Failed(w)) = self.finished_child(guard, done, false).await {
                    if w.error == names::RESULT_WRITER_FAILED {
                        return Err(RunError::Failed(w));
                    }
                }
            }
            return Err(f);
        }
        Ok(())
    }

    /// Reads the next item, applying `ItemSelector`.
    async fn next_item(&mut self) -> Result<Option<(Value, u64)>, RunError> {
        if let Some(held) = self.held.take() {
            return Ok(Some(held));
        }
        let item = match self.source.next_item().await {
            Ok(Some(item)) => item,
            Ok(None) => return Ok(None),
            Err(e) => return Err(RunError::Failed(Failure::new(names::ITEM_READER_FAILED, e.cause))),
        };
        let index = self.next_index;
        self.next_index += 1;
        let (exec, name) = (self.exec, &self.state.name);
        let ctx = |item: &Value| exec.item_context(name, index as usize, item);
        let selected =
            select_item(self.state, self.m, self.eff, self.raw, item, ctx, self.vars).map_err(RunError::Eval)?;
        let size = if self.batching.is_some() { json_size(&selected) } else { 0 };
        Ok(Some((selected, size)))
    }

    /// The input of the next child: one item, or a batch.
    async fn next_work(&mut self) -> Result<Option<Work>, RunError> {
        let Some((max_items, max_bytes)) = self.batching.as_ref().map(|b| (b.max_items, b.max_bytes)) else {
            return Ok(self.next_item().await?.map(|(input, _)| Work { input, item_count: 1 }));
        };
        let base = self.batching.as_ref().and_then(|b| b.batch_input.as_ref()).map_or(0, json_size);
        // `{"BatchInput":…,"Items":[…]}`
        let mut bytes = base + 24;
        let mut items = Vec::new();
        while (items.len() as u64) < max_items {
            let Some((item, size)) = self.next_item().await? else { break };
            if !items.is_empty() && bytes + size + 1 > max_bytes {
                self.held = Some((item, size));
                break;
            }
            bytes += size + 1;
            items.push(item);
        }
        if items.is_empty() {
            return Ok(None);
        }
        let item_count = items.len() as u64;
        let mut input = Map::new();
        if let Some(b) = self.batching.as_ref().and_then(|b| b.batch_input.clone()) {
            input.insert("BatchInput".into(), b);
        }
        input.insert("Items".into(), Value::Array(items));
        Ok(Some(Work { input: Value::Object(input), item_count }))
    }

    /// Starts one child execution; the returned future ends with its result and frees its permit.
    fn start_child(
        &mut self,
        guard: &mut RunGuard,
        ordinal: usize,
        work: Work,
    ) -> impl std::future::Future<Output = Done> + Send + 'static {
        let config = &self.exec.shared.config;
        let name: Arc<str> = match &self.offering {
            Some(o) => {
                let seed = format!("{}#{}#{ordinal}", guard.map_run_arn, o.attempt);
                uuid_text(uuid::Uuid::new_v5(&CHILD_NAMES, seed.as_bytes()))
            }
            None => uuid_text(uuid::Uuid::new_v4()),
        };
        let arn: Arc<str> = if self.express {
            format!(
                "arn:aws:states:{}:{}:express:{}:{}:{}",
                config.region,
                config.account_id,
                self.machine_name,
                name,
                match &self.offering {
                    Some(_) => uuid::Uuid::new_v5(&CHILD_NAMES, name.as_bytes()),
                    None => uuid::Uuid::new_v4(),
                }
            )
            .into()
        } else {
            format!("arn:aws:states:{}:{}:execution:{}:{}", config.region, config.account_id, self.machine_name, name)
                .into()
        };
        let start = OffsetDateTime::now_utc();
        let input_text = self.keep_input.then(|| crate::history::compact(&work.input));
        let history = History::default();
        // An EXPRESS child records no history, as on AWS, even where its summary is kept.
        let keep_history = self.store.keeps_child_executions() && !self.express;
        self.store.insert_child(ChildExecution {
            map_run_arn: guard.map_run_arn.clone(),
            execution_arn: arn.clone(),
            name: name.clone(),
            state_machine_arn: self.child_machine_arn.clone(),
            status: ExecutionStatus::Running,
            start_date: start,
            stop_date: None,
            item_count: work.item_count,
            history: keep_history.then(|| history.clone()),
        });
        guard.items.total += work.item_count;
        guard.items.running += work.item_count;
        guard.executions.total += 1;
        guard.executions.running += 1;
        guard.publish(MapRunStatus::Running, None);
        if self.results.is_none() {
            // Results written to files are not kept for the state output.
            self.collected.push(None);
        }
        let info = ExecutionInfo {
            arn: arn.clone(),
            name: name.clone(),
            state_machine_arn: self.child_machine_arn.clone(),
            state_machine_name: self.machine_name.clone(),
            role_arn: self.exec.info.role_arn.clone(),
            start_time: start,
            input: work.input,
            express: self.express,
            redrive_count: 0,
            redrive_time: None,
            record_history: keep_history,
            token_seed: None,
        };
        // The child only watches the map run's token (it never cancels it): a clone, not a child
        // token, which would lock the map run's token at every child's start and end.
        let cancel = guard.cancel.clone();
        let (store, child_arn) = (self.store.clone(), arn.clone());
        let handle = match &self.offering {
            Some(o) => {
                // The engine runs its own children while it has room, and offers the rest.
                match self.exec.shared.map_runs.slots.clone().try_acquire_owned() {
                    Ok(room) => self.spawn_local(info, history, cancel, store, child_arn, Some(room)),
                    Err(_) => {
                        let child = QueuedChild {
                            map_run_arn: guard.map_run_arn.to_string(),
                            ordinal: ordinal as u64,
                            parent_arn: o.parent_arn.clone(),
                            state_name: o.state_name.clone(),
                            execution_arn: info.arn.to_string(),
                            name: info.name.to_string(),
                            state_machine_arn: info.state_machine_arn.to_string(),
                            state_machine_name: info.state_machine_name.to_string(),
                            role_arn: info.role_arn.to_string(),
                            start_date: info.start_time,
                            input: info.input,
                            express: info.express,
                            record_history: info.record_history,
                        };
                        tokio::spawn(await_offered(o.queue.clone(), child, history, cancel, store))
                    }
                }
            }
            None => self.spawn_local(info, history, cancel, store, child_arn, None),
        };
        let item_count = work.item_count;
        async move {
            let outcome = handle.await.unwrap_or_else(|e| Outcome {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(names::RUNTIME.to_owned()),
                cause: Some(format!("The child execution ended unexpectedly: {e}")),
            });
            Done { ordinal, item_count, arn, name, start, input_text, outcome }
        }
    }

    /// Runs a child on this engine (holding its `room` among the engine's children of shared map
    /// runs); it records its own end, even when the map run is dropped before it.
    fn spawn_local(
        &self,
        info: ExecutionInfo,
        history: History,
        cancel: CancellationToken,
        store: Arc<dyn MapRunStore>,
        child_arn: Arc<str>,
        room: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> tokio::task::JoinHandle<Outcome> {
        let shared = self.exec.shared.clone();
        let machine = self.machine.clone();
        let stop: StopSlot = Arc::new(std::sync::Mutex::new(None));
        let kept = info.record_history.then(|| history.clone());
        tokio::spawn(async move {
            let top = Top { checkpoints: None, journal: None, mode: RunMode::Start };
            // Boxed: the execution's future (1.6 KiB) would otherwise make the task's own future
            // as large, copied whole on its way into the task at every spawn.
            let outcome = Box::pin(run_execution(shared, machine, info, history, cancel, stop, top)).await;
            // A kept child's history outlives it: its payloads become text, several times smaller
            // than the values the execution shared with them.
            if let Some(history) = kept {
                history.settle();
            }
            store.finish_child(&child_arn, outcome.status, OffsetDateTime::now_utc());
            drop(room);
            outcome
        })
    }

    /// Counts a finished child, keeps or writes its result, and checks the failure threshold.
    async fn finished_child(&mut self, guard: &mut RunGuard, done: Done, check: bool) -> Result<(), RunError> {
        let stop = OffsetDateTime::now_utc();
        let status = done.outcome.status;
        let n = done.item_count;
        guard.items.running = guard.items.running.saturating_sub(n);
        guard.executions.running = guard.executions.running.saturating_sub(1);
        let (items, executions) = (&mut guard.items, &mut guard.executions);
        match status {
            ExecutionStatus::Succeeded => {
                items.succeeded += n;
                items.results_written += n;
                executions.succeeded += 1;
                executions.results_written += 1;
            }
            ExecutionStatus::TimedOut => {
                items.timed_out += n;
                executions.timed_out += 1;
            }
            ExecutionStatus::Aborted => {
                items.aborted += n;
                executions.aborted += 1;
            }
            ExecutionStatus::Failed | ExecutionStatus::Running => {
                items.failed += n;
                executions.failed += 1;
            }
        }
        guard.publish(MapRunStatus::Running, None);
        let succeeded = status == ExecutionStatus::Succeeded;
        if self.results.is_some() {
            let kind = if succeeded { RecordKind::Succeeded } else { RecordKind::Failed };
            let mut records = Vec::new();
            match (succeeded, self.transformation) {
                (true, WriterTransformation::Compact) => {
                    records.push(done.outcome.output.clone().unwrap_or(Value::Null));
                    self.write_records(kind, &records).await?;
                }
                (true, WriterTransformation::Flatten) => {
                    match done.outcome.output.clone() {
                        Some(Value::Array(a)) => records.extend(a),
                        other => records.push(other.unwrap_or(Value::Null)),
                    }
                    self.write_records(kind, &records).await?;
                }
                _ => {
                    // The record goes to the file as it is serialised, with no JSON value built for
                    // it unless a durable store keeps it.
                    let record = child_record(&done, stop, &self.child_machine_arn, self.express);
                    if let Some(files) = self.results.as_mut() {
                        files
                            .write(kind, &record)
                            .await
                            .map_err(|e| RunError::Failed(Failure::new(names::RESULT_WRITER_FAILED, e.cause)))?;
                    }
                    if succeeded && self.journal.is_some() {
                        records.push(self.record(&done, stop));
                    }
                }
            }
            if let (true, Some(store)) = (succeeded, &self.journal) {
                store.map_child_succeeded(&self.exec.info.arn, done.ordinal as u64, Value::Array(records));
            }
            if succeeded && self.memo.is_some() {
                self.written.insert(done.ordinal);
            }
        } else if !self.too_large {
            let value = match (succeeded, self.transformation) {
                (true, WriterTransformation::None) | (false, WriterTransformation::None) => self.record(&done, stop),
                (true, _) => done.outcome.output.clone().unwrap_or(Value::Null),
                (false, _) => {
                    let mut e = Map::new();
                    e.insert("Error".into(), json!(done.outcome.error));
                    e.insert("Cause".into(), json!(done.outcome.cause));
                    Value::Object(e)
                }
            };
            self.collected_bytes += json_size(&value) as usize + 1;
            if self.collected_bytes > MAX_PAYLOAD_BYTES || payload_too_large(&value) {
                self.too_large = true;
                self.collected = Vec::new();
            } else {
                if let (true, Some(memo)) = (succeeded, &self.memo) {
                    memo.succeeded(done.ordinal, &value);
                }
                if let (true, Some(store)) = (succeeded, &self.journal) {
                    store.map_child_succeeded(&self.exec.info.arn, done.ordinal as u64, value.clone());
                }
                if let Some(slot) = self.collected.get_mut(done.ordinal) {
                    *slot = Some(value);
                }
            }
        }
        if check && !succeeded && self.threshold_exceeded(guard) {
            return Err(RunError::Failed(exceeded()));
        }
        Ok(())
    }

    /// Counts a child that succeeded before the redrive as succeeded again: its records are in the
    /// earlier SUCCEEDED files (with a `ResultWriter`), or `result` is its value in the state output.
    fn reuse(&mut self, guard: &mut RunGuard, ordinal: usize, n: u64, result: Value) {
        let (items, executions) = (&mut guard.items, &mut guard.executions);
        items.total += n;
        items.succeeded += n;
        items.results_written += n;
        executions.total += 1;
        executions.succeeded += 1;
        executions.results_written += 1;
        guard.publish(MapRunStatus::Running, None);
        if self.results.is_some() {
            self.written.insert(ordinal);
            return;
        }
        self.collected.push(None);
        if let Some(memo) = &self.memo {
            memo.succeeded(ordinal, &result);
        }
        self.collected_bytes += json_size(&result) as usize + 1;
        if let Some(slot) = self.collected.get_mut(ordinal) {
            *slot = Some(result);
        }
    }

    /// Counts a child that had succeeded before a restart as succeeded, without running it again: its
    /// records go into this attempt's result files, or its value into the state output.
    async fn reuse_recovered(
        &mut self,
        guard: &mut RunGuard,
        ordinal: usize,
        n: u64,
        result: Value,
    ) -> Result<(), RunError> {
        if self.results.is_some() {
            let records = match result {
                Value::Array(records) => records,
                other => vec![other],
            };
            self.write_records(RecordKind::Succeeded, &records).await?;
            self.reuse(guard, ordinal, n, Value::Null);
            // The files of this attempt hold it, not earlier ones: the memo learns it with them.
            return Ok(());
        }
        self.reuse(guard, ordinal, n, result);
        Ok(())
    }

    /// Writes records to the result files.
    async fn write_records(&mut self, kind: RecordKind, records: &[Value]) -> Result<(), RunError> {
        if let Some(files) = self.results.as_mut() {
            for r in records {
                files
                    .write(kind, r)
                    .await
                    .map_err(|e| RunError::Failed(Failure::new(names::RESULT_WRITER_FAILED, e.cause)))?;
            }
        }
        Ok(())
    }

    /// Takes UpdateMapRun's limits in place of the state's.
    fn apply_limits(&mut self, l: RunLimits) {
        self.limits.concurrency = if l.max_concurrency == 0 { MAX_CHILDREN } else { l.max_concurrency as usize };
        self.limits.tolerated_count = l.tolerated_count;
        self.limits.tolerated_percentage = l.tolerated_percentage;
    }

    /// Checks the percentage threshold once the number of items is known.
    fn check_total(&mut self, guard: &mut RunGuard) -> Result<(), RunError> {
        if self.threshold_exceeded(guard) {
            return Err(RunError::Failed(exceeded()));
        }
        Ok(())
    }

    /// Whether failed (and timed-out) items are past the tolerated count or percentage.
    fn threshold_exceeded(&self, guard: &RunGuard) -> bool {
        let failed = guard.items.failed + guard.items.timed_out;
        if failed == 0 {
            return false;
        }
        let (count, pct) = (self.limits.tolerated_count, self.limits.tolerated_percentage);
        if count.is_none() && pct.is_none() {
            return true;
        }
        let by_count = count.is_some_and(|c| failed > c);
        // The percentage is of all items: only decidable once their number is known.
        let total = if self.source_done {
            Some(guard.items.total)
        } else {
            let held = u64::from(self.held.is_some());
            self.source.len_hint().map(|rest| guard.items.total + rest + held)
        };
        let by_pct = match (pct, total) {
            (Some(p), Some(total)) if total > 0 => (failed as f64) * 100.0 / (total as f64) > p,
            _ => false,
        };
        by_count || by_pct
    }

    /// The full record of a child, as written with `Transformation: NONE`.
    fn record(&self, done: &Done, stop: OffsetDateTime) -> Value {
        serde_json::to_value(child_record(done, stop, &self.child_machine_arn, self.express)).unwrap_or(Value::Null)
    }

    /// Reads the items that will never run, counting them pending and writing them to PENDING files.
    async fn drain_pending(&mut self, guard: &mut RunGuard) -> Result<(), Failure> {
        loop {
            let work = match self.next_work().await {
                Ok(Some(w)) => w,
                Ok(None) => break,
                Err(RunError::Failed(f)) => return Err(f),
                Err(RunError::Eval(e)) => return Err(Failure { error: e.error, cause: Some(e.detail) }),
            };
            guard.items.pending += work.item_count;
            guard.items.total += work.item_count;
            if let Some(files) = self.results.as_mut() {
                let record = json!({
                    "Input": crate::history::compact(&work.input),
                    "InputDetails": {"Included": true},
                    "Status": "PENDING",
                });
                files
                    .write(RecordKind::Pending, &record)
                    .await
                    .map_err(|e| Failure::new(names::RESULT_WRITER_FAILED, e.cause))?;
            }
        }
        self.source_done = true;
        guard.publish(MapRunStatus::Running, None);
        Ok(())
    }

    /// The state output when results are not exported.
    fn output(&mut self) -> Value {
        let values = std::mem::take(&mut self.collected).into_iter().map(|v| v.unwrap_or(Value::Null));
        match self.transformation {
            WriterTransformation::Flatten => {
                let mut out = Vec::new();
                for v in values {
                    match v {
                        Value::Array(a) => out.extend(a),
                        other => out.push(other),
                    }
                }
                Value::Array(out)
            }
            _ => Value::Array(values.collect()),
        }
    }
}

/// Offers a child to every engine sharing the queue and waits for its result (or for the map run to
/// stop it: it then ends ABORTED, and the queue withdraws it when the run ends). Like a local child,
/// it records its end in the map-run store, with the history the engine that ran it recorded.
async fn await_offered(
    queue: Arc<dyn ChildQueue>,
    child: QueuedChild,
    history: History,
    cancel: CancellationToken,
    store: Arc<dyn MapRunStore>,
) -> Outcome {
    let (map_run_arn, ordinal, arn) = (child.map_run_arn.clone(), child.ordinal, child.execution_arn.clone());
    queue.offer(child);
    let result = tokio::select! {
        result = queue.result(&map_run_arn, ordinal) => result.unwrap_or_else(|e| ChildResult::new(
            Outcome {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(names::RUNTIME.to_owned()),
                cause: Some(format!("The child's result could not be read: {e}")),
            },
            Vec::new(),
        )),
        _ = cancel.cancelled() => ChildResult::new(
            Outcome { status: ExecutionStatus::Aborted, output: None, error: None, cause: None },
            Vec::new(),
        ),
    };
    let outcome = result.outcome();
    history.append(result.history);
    store.finish_child(&arn, outcome.status, OffsetDateTime::now_utc());
    outcome
}

/// The next limits UpdateMapRun set; `None` once the channel has closed (pending while there is none).
async fn limits_changed(rx: &mut Option<watch::Receiver<RunLimits>>) -> Option<RunLimits> {
    match rx {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

fn exceeded() -> Failure {
    Failure::new(names::EXCEED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded")
}

/// The size of a value's compact JSON text, counted without building it.
fn json_size(v: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(outcome: Outcome) -> Done {
        Done {
            ordinal: 0,
            item_count: 1,
            arn: "arn:aws:states:us-east-1:123456789012:express:m/run:c:1".into(),
            name: "c".into(),
            start: time::macros::datetime!(2026-12-06 10:00:00.123456 UTC),
            input_text: Some(r#"{"a":1}"#.to_owned()),
            outcome,
        }
    }

    #[test]
    fn child_records_keep_aws_field_order() {
        let stop = time::macros::datetime!(2026-12-06 10:00:01.5 UTC);
        let ok = done(Outcome {
            status: ExecutionStatus::Succeeded,
            output: Some(json!({"b": [1, "x"]})),
            error: None,
            cause: None,
        });
        let text = serde_json::to_string(&child_record(&ok, stop, "arn:sm", true)).expect("a record");
        assert_eq!(
            text,
            r#"{"ExecutionArn":"arn:aws:states:us-east-1:123456789012:express:m/run:c:1","Input":"{\"a\":1}","InputDetails":{"Included":true},"Name":"c","Output":"{\"b\":[1,\"x\"]}","OutputDetails":{"Included":true},"RedriveCount":0,"RedriveStatus":"NOT_REDRIVABLE","RedriveStatusReason":"Execution is SUCCEEDED and cannot be redriven","StartDate":"2026-12-06T10:00:00.123Z","StateMachineArn":"arn:sm","Status":"SUCCEEDED","StopDate":"2026-12-06T10:00:01.500Z"}"#
        );
        let failed = done(Outcome {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some("E".to_owned()),
            cause: Some("C".to_owned()),
        });
        let value = serde_json::to_value(child_record(&failed, stop, "arn:sm", false)).expect("a record");
        let keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "ExecutionArn",
                "Input",
                "InputDetails",
                "Name",
                "Error",
                "Cause",
                "RedriveCount",
                "RedriveStatus",
                "StartDate",
                "StateMachineArn",
                "Status",
                "StopDate"
            ]
        );
        assert_eq!(value["RedriveStatus"], "REDRIVABLE");
        assert_eq!(value["Error"], "E");
    }
}
