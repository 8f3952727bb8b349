//! The embedding API: build an [`Engine`], start executions, await their outcome, read their history.

use std::sync::Arc;

use futures::FutureExt;
use legion_asl::model::{StateMachine, StateMachineType};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::dispatch::{LocalHandlers, TaskDispatcher};
use crate::executions::{Executions, Resumable, StartOptions};
use crate::history::{History, HistoryEvent};
use crate::interp;
use crate::interp::checkpoint::CheckpointSlot;
use crate::store::{ExecutionStore, MemoryStore, Reservation, Retention, StoreError};
use crate::tokens::TaskTokens;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The account id in ARNs.
    pub account_id: String,
    /// The region in ARNs.
    pub region: String,
    /// Multiplies every Wait and Retry delay: `0.0` skips them, `1.0` is real time.
    pub time_scale: f64,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig { account_id: "123456789012".to_owned(), region: "us-east-1".to_owned(), time_scale: 1.0 }
    }
}

/// Runs state machines. Cheap to clone; clones share configuration and dispatcher.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) config: EngineConfig,
    pub(crate) dispatcher: Arc<dyn TaskDispatcher>,
    pub(crate) tokens: TaskTokens,
    /// Every execution started, for describing, listing and stopping it later.
    pub(crate) executions: Executions,
    /// Distributed Map: S3 access and map-run records.
    pub(crate) map_runs: crate::map_run::MapRunServices,
    /// Activity tasks waiting for a worker.
    pub(crate) activities: crate::activities::ActivityQueues,
    /// Told which executions the store's retention removed.
    pub(crate) on_purged: Option<PurgeHook>,
}

/// Called with the ARNs of the executions the store's retention has removed.
pub type PurgeHook = Arc<dyn Fn(&[String]) + Send + Sync>;

/// What [`Engine::launch`] did.
pub(crate) enum Launched {
    /// A new execution runs.
    Started(Execution),
    /// The same start of this ARN is running already.
    Found(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The parsed machine.
    pub machine: Arc<StateMachine>,
    /// The state machine's name (for ARNs and the context object).
    pub state_machine_name: String,
    /// The execution's name; a UUID when absent.
    pub execution_name: Option<String>,
    /// The execution input.
    pub input: Value,
    /// Standard or Express.
    pub machine_type: StateMachineType,
    /// The role ARN reported in the context object and history.
    pub role_arn: Option<String>,
    /// Whether an Express execution records its history (by default it does). A Standard execution
    /// always does: DescribeExecution, GetExecutionHistory and redrive read it. AWS records no history
    /// for Express executions, so the API starts them with `false`.
    pub record_history: bool,
}

impl StartRequest {
    /// A request to run `machine` named `name` with `input`.
    pub fn new(machine: Arc<StateMachine>, name: impl Into<String>, input: Value) -> StartRequest {
        StartRequest {
            machine,
            state_machine_name: name.into(),
            execution_name: None,
            input,
            machine_type: StateMachineType::Standard,
            role_arn: None,
            record_history: true,
        }
    }
}

/// An execution's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExecutionStatus {
    /// Still going.
    Running,
    /// Reached a Succeed state or an End.
    Succeeded,
    /// An error was not caught.
    Failed,
    /// TimeoutSeconds elapsed.
    TimedOut,
    /// Stopped from outside.
    Aborted,
}

impl ExecutionStatus {
    /// AWS's spelling (`SUCCEEDED`…).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The final status.
    pub status: ExecutionStatus,
    /// The output, on success.
    pub output: Option<Value>,
    /// The error name, on failure.
    pub error: Option<String>,
    /// The cause, on failure.
    pub cause: Option<String>,
}

/// A running or finished execution.
#[derive(Clone)]
pub struct Execution {
    arn: String,
    name: String,
    start_date: OffsetDateTime,
    history: History,
    outcome: watch::Receiver<Option<Outcome>>,
    cancel: CancellationToken,
    stop: StopSlot,
}

impl Execution {
    /// The execution ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The execution name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When it started.
    pub fn start_date(&self) -> OffsetDateTime {
        self.start_date
    }

    /// Waits for the execution to end.
    pub async fn outcome(&self) -> Outcome {
        let mut rx = self.outcome.clone();
        loop {
            if let Some(o) = rx.borrow_and_update().clone() {
                return o;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone().unwrap_or(Outcome {
                    status: ExecutionStatus::Failed,
                    output: None,
                    error: Some("States.Runtime".to_owned()),
                    cause: Some("The execution ended unexpectedly".to_owned()),
                });
            }
        }
    }

    /// The outcome if the execution has ended.
    pub fn try_outcome(&self) -> Option<Outcome> {
        self.outcome.borrow().clone()
    }

    /// The history recorded so far.
    pub fn history(&self) -> Vec<HistoryEvent> {
        self.history.events()
    }

    /// Stops the execution (status ABORTED) with an optional error and cause.
    pub fn stop(&self, error: Option<String>, cause: Option<String>) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = Some(StopReason { error, cause });
        self.cancel.cancel();
    }
}

/// Why an execution was stopped: the error and cause given to StopExecution.
#[derive(Debug, Clone, Default)]
pub(crate) struct StopReason {
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
}

/// How a run of an execution begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunMode {
    /// A new execution: `ExecutionStarted`, then its first state.
    Start,
    /// RedriveExecution: `ExecutionRedriven`, then the checkpoint's state.
    Redrive,
    /// A restart on a durable store: the checkpoint's state, with no new event.
    Recover,
}

/// Where StopExecution leaves its reason for the interpreter to report.
pub(crate) type StopSlot = Arc<std::sync::Mutex<Option<StopReason>>>;

/// Builds an [`Engine`].
pub struct EngineBuilder {
    config: EngineConfig,
    dispatcher: Arc<dyn TaskDispatcher>,
    tokens: TaskTokens,
    store: Option<Arc<dyn ExecutionStore>>,
    on_purged: Option<PurgeHook>,
    pub(crate) map_runs: crate::map_run::MapRunServices,
}

impl EngineBuilder {
    /// Sets the configuration.
    pub fn config(mut self, config: EngineConfig) -> EngineBuilder {
        self.config = config;
        self
    }

    /// Sets the time scale for Wait and Retry delays.
    pub fn time_scale(mut self, scale: f64) -> EngineBuilder {
        self.config.time_scale = scale.max(0.0);
        self
    }

    /// Sets the account id and region used in ARNs.
    pub fn account(mut self, account_id: impl Into<String>, region: impl Into<String>) -> EngineBuilder {
        self.config.account_id = account_id.into();
        self.config.region = region.into();
        self
    }

    /// Sets how Task states are carried out.
    pub fn dispatcher(mut self, dispatcher: Arc<dyn TaskDispatcher>) -> EngineBuilder {
        self.dispatcher = dispatcher;
        self
    }

    /// Shares a task-token registry with connectors that complete callback tasks.
    pub fn task_tokens(mut self, tokens: TaskTokens) -> EngineBuilder {
        self.tokens = tokens;
        self
    }

    /// Keeps executions in `store` (a [`MemoryStore`](crate::store::MemoryStore) by default).
    pub fn store(mut self, store: Arc<dyn ExecutionStore>) -> EngineBuilder {
        self.store = Some(store);
        self
    }

    /// Keeps closed executions in memory only as long as `retention` says (the default keeps them for
    /// the engine's life). Their map runs and children go with them.
    pub fn retention(self, retention: Retention) -> EngineBuilder {
        self.store(Arc::new(MemoryStore::with_retention(retention)))
    }

    /// Calls `hook` with the ARNs of the executions that retention removed, so that an embedder can
    /// drop what it keeps beside them.
    pub fn on_purged(mut self, hook: impl Fn(&[String]) + Send + Sync + 'static) -> EngineBuilder {
        self.on_purged = Some(Arc::new(hook));
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Engine {
        let executions = match self.store {
            Some(store) => Executions::new(store),
            None => Executions::default(),
        };
        let engine = Engine {
            shared: Arc::new(Shared {
                config: self.config,
                dispatcher: self.dispatcher,
                tokens: self.tokens,
                executions,
                map_runs: self.map_runs,
                activities: Default::default(),
                on_purged: self.on_purged,
            }),
        };
        if engine.shared.executions.store.lease().is_some() {
            engine.shared.executions.store.subscribe(engine.inbox());
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            engine.claim_children();
        }
        engine
    }
}

/// On a store several engines share, publishes what an execution records every half second, so that
/// the other engines show its history as it goes (commits come only at top-level state boundaries).
async fn publish_until_done(journal: Arc<crate::executions::Journal>, mut done: watch::Receiver<Option<Outcome>>) {
    loop {
        tokio::select! {
            _ = done.changed() => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => journal.publish(),
        }
    }
}

impl Engine {
    /// A builder with default configuration and no task handlers.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            config: EngineConfig::default(),
            dispatcher: Arc::new(LocalHandlers::new()),
            tokens: TaskTokens::new(),
            store: None,
            on_purged: None,
            map_runs: Default::default(),
        }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The ARN of a state machine with this name.
    pub fn state_machine_arn(&self, name: &str) -> String {
        let c = &self.shared.config;
        format!("arn:aws:states:{}:{}:stateMachine:{}", c.region, c.account_id, name)
    }

    /// Starts an execution on the current tokio runtime, under AWS's naming rule (see
    /// [`Engine::start_execution`]): a Standard execution's name is unique per state machine.
    pub async fn start(&self, request: StartRequest) -> Result<Execution, StoreError> {
        Ok(self.start_execution(request, StartOptions::default()).await?.execution)
    }

    /// Runs a new execution whose name, for a Standard one, is already reserved, or is reserved
    /// with these options as the execution is recorded (`reserving`); a name found taken by the same
    /// running start is [`Launched::Found`].
    pub(crate) async fn launch(
        &self,
        request: StartRequest,
        reserving: Option<&StartOptions>,
    ) -> Result<Launched, StoreError> {
        let c = &self.shared.config;
        let name = request.execution_name.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let arn = match request.machine_type {
            StateMachineType::Standard => {
                format!(
                    "arn:aws:states:{}:{}:execution:{}:{}",
                    c.region, c.account_id, request.state_machine_name, name
                )
            }
            // Express executions carry a third part that makes them unique.
            StateMachineType::Express => format!(
                "arn:aws:states:{}:{}:express:{}:{}:{}",
                c.region,
                c.account_id,
                request.state_machine_name,
                name,
                uuid::Uuid::new_v4()
            ),
        };
        let history = History::default();
        let start_date = OffsetDateTime::now_utc();
        let shared = self.shared.clone();
        let info = interp::ExecutionInfo {
            arn: arn.into(),
            name: name.into(),
            state_machine_arn: self.state_machine_arn(&request.state_machine_name).into(),
            state_machine_name: request.state_machine_name.into(),
            role_arn: request
                .role_arn
                .unwrap_or_else(|| format!("arn:aws:iam::{}:role/StepFunctionsRole", shared.config.account_id))
                .into(),
            start_time: start_date,
            input: request.input,
            express: request.machine_type == StateMachineType::Express,
            redrive_count: 0,
            redrive_time: None,
            record_history: request.record_history || request.machine_type == StateMachineType::Standard,
            token_seed: (shared.executions.durable() && request.machine_type == StateMachineType::Standard)
                .then(uuid::Uuid::new_v4),
        };
        // A Standard execution records where it stands, so that it can be redriven.
        let resumable = (!info.express).then(|| Resumable {
            machine: request.machine.clone(),
            info: info.clone(),
            history: history.clone(),
            checkpoints: CheckpointSlot::default(),
        });
        let checkpoints = resumable.as_ref().map(|r| r.checkpoints.clone());
        match shared.executions.started(&info, history.clone(), resumable, reserving).await? {
            Reservation::Reserved => {
                Ok(Launched::Started(self.spawn_run(request.machine, info, history, checkpoints, RunMode::Start)))
            }
            Reservation::Existing(_) => Ok(Launched::Found(info.arn.to_string())),
        }
    }

    /// Resumes every execution a durable store holds as RUNNING (after a restart), each from its last
    /// committed state boundary; returns how many were resumed. An execution whose stored definition
    /// no longer parses ends as FAILED (`States.Runtime`) instead. Call once, before starting others.
    ///
    /// On a store several engines share ([`ExecutionStore::lease`]), only executions whose owner
    /// stopped renewing its lease are resumed, and a task goes on doing so every half lease, taking
    /// over the executions of any engine that stops.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        self.claim_children();
        let resumed = self.resume_orphans().await?;
        if let Some(lease) = self.shared.executions.store.lease() {
            let shared = Arc::downgrade(&self.shared);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(lease / 2);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(shared) = shared.upgrade() else { return };
                    if let Err(e) = (Engine { shared }).resume_orphans().await {
                        tracing::warn!(error = %e, "could not look for executions to take over");
                    }
                }
            });
        }
        Ok(resumed)
    }

    /// With a child queue, starts claiming the children it offers (once).
    fn claim_children(&self) {
        let services = &self.shared.map_runs;
        if let Some(queue) = services.queue.clone() {
            if !services.claiming.swap(true, std::sync::atomic::Ordering::SeqCst) {
                tokio::spawn(crate::map_run::workers::serve(
                    Arc::downgrade(&self.shared),
                    queue,
                    services.slots.clone(),
                ));
            }
        }
    }

    /// Resumes what [`ExecutionStore::recover`] hands this engine.
    async fn resume_orphans(&self) -> Result<usize, StoreError> {
        let executions = &self.shared.executions;
        let mut resumed = 0;
        for saved in executions.store.recover().await? {
            let arn = saved.record.arn.clone();
            if executions.live(&arn).is_some() {
                continue;
            }
            match Resumable::restore(saved) {
                Ok(r) => {
                    executions.resumable(&arn, r.clone());
                    self.spawn_run(r.machine, r.info, r.history, Some(r.checkpoints), RunMode::Recover);
                    resumed += 1;
                }
                Err(cause) => {
                    let outcome = Outcome {
                        status: ExecutionStatus::Failed,
                        output: None,
                        error: Some(legion_asl::error::names::RUNTIME.to_owned()),
                        cause: Some(cause),
                    };
                    executions.store.finish(&arn, &outcome, OffsetDateTime::now_utc(), Vec::new()).await?;
                }
            }
        }
        Ok(resumed)
    }

    /// Where a shared store delivers the signals for this engine's executions.
    fn inbox(&self) -> crate::store::Inbox {
        let shared = Arc::downgrade(&self.shared);
        Arc::new(move |signal| {
            let Some(shared) = shared.upgrade() else { return false };
            match signal {
                crate::store::Signal::Token { token, signal } => shared.tokens.signal(&token, signal).is_ok(),
                crate::store::Signal::ActivityTaken { activity_arn, token, worker_name } => {
                    shared.activities.take_token(&activity_arn, &token, worker_name.as_deref())
                }
                crate::store::Signal::Stop { arn, error, cause } => match shared.executions.live(&arn) {
                    Some(execution) => {
                        execution.stop(error, cause);
                        true
                    }
                    None => false,
                },
            }
        })
    }

    /// Runs `info`'s execution on a new task (its first run, or a redrive) and returns its handle.
    pub(crate) fn spawn_run(
        &self,
        machine: Arc<StateMachine>,
        info: interp::ExecutionInfo,
        history: History,
        checkpoints: Option<CheckpointSlot>,
        mode: RunMode,
    ) -> Execution {
        let (tx, rx) = watch::channel(None);
        let cancel = CancellationToken::new();
        let stop: StopSlot = Arc::new(std::sync::Mutex::new(None));
        let execution = Execution {
            arn: info.arn.to_string(),
            name: info.name.to_string(),
            start_date: info.start_time,
            history: history.clone(),
            outcome: rx,
            cancel: cancel.clone(),
            stop: stop.clone(),
        };
        let shared = self.shared.clone();
        shared.executions.running(&execution);
        let (registry, finished_arn) = (shared.clone(), info.arn.clone());
        let journal = shared.executions.journal(&info, &history).map(Arc::new);
        if let (Some(journal), Some(_)) = (&journal, shared.executions.store.lease()) {
            tokio::spawn(publish_until_done(journal.clone(), execution.outcome.clone()));
        }
        tokio::spawn(async move {
            let top = interp::Top { checkpoints, journal: journal.clone(), mode };
            // Boxed, so that this task's future stays small: it is copied whole on its way into the task.
            let run = Box::pin(interp::run_execution(shared, machine, info, history, cancel, stop, top));
            // `run_execution` turns a panic in a state into a failure; this catches one outside them,
            // so the record is finished whatever happens.
            let outcome = std::panic::AssertUnwindSafe(run).catch_unwind().await.unwrap_or_else(|panic| {
                let f = interp::internal_error(&*panic);
                Outcome { status: ExecutionStatus::Failed, output: None, error: Some(f.error), cause: f.cause }
            });
            let tail = journal.map(|j| j.tail()).unwrap_or_default();
            let purged = registry.executions.finished(&finished_arn, &outcome, tail).await;
            if !purged.is_empty() {
                for arn in &purged {
                    registry.map_runs.store.forget_execution(arn);
                }
                if let Some(hook) = &registry.on_purged {
                    hook(&purged);
                }
            }
            let _ = tx.send(Some(outcome));
        });
        execution
    }

    /// Starts an execution (as [`Engine::start`]) and waits for its end.
    pub async fn run(&self, request: StartRequest) -> Result<(Execution, Outcome), StoreError> {
        let execution = self.start(request).await?;
        let outcome = execution.outcome().await;
        Ok((execution, outcome))
    }
}
