//! Managing executions after they start: start with a unique name, describe, list, read history, stop.
//!
//! These are the engine-side halves of StartExecution, DescribeExecution, ListExecutions,
//! GetExecutionHistory and StopExecution, in the engine's own types; the wire format is the server's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use legion_asl::model::{StateMachine, StateMachineType};
use time::OffsetDateTime;

use crate::engine::{Engine, Execution, ExecutionStatus, Launched, Outcome, StartRequest};
use crate::history::{History, HistoryEvent};
use crate::interp::checkpoint::CheckpointSlot;
use crate::interp::ExecutionInfo;
use crate::store::{
    Commit, ExecutionRecord, ExecutionStore, Launch, ListQuery, MemoryStore, Page, Reservation, SavedCheckpoint,
    StoreError,
};

/// Facts about a start that the execution itself does not need but describing it does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// The version that runs, when started through a version or an alias.
    pub version_arn: Option<String>,
    /// The alias it was started through.
    pub alias_arn: Option<String>,
    /// The Map Run the execution is a child of.
    pub map_run_arn: Option<String>,
    /// The X-Ray trace header.
    pub trace_header: Option<String>,
    /// The revision of the state machine that runs, as the caller names its revisions (kept in the
    /// record for DescribeStateMachineForExecution).
    pub revision_id: Option<String>,
}

/// The result of [`Engine::start_execution`].
#[derive(Clone)]
pub struct Started {
    /// The execution: a new one, or the one already running under that name with that input.
    pub execution: Execution,
    /// Whether this call started it (`false` for an idempotent start of a running execution).
    pub new: bool,
}

impl Started {
    /// The execution ARN.
    pub fn arn(&self) -> &str {
        self.execution.arn()
    }

    /// When it started.
    pub fn start_date(&self) -> OffsetDateTime {
        self.execution.start_date()
    }
}

/// The result of [`Engine::redrive`].
#[derive(Clone)]
pub struct Redriven {
    /// When the redrive started.
    pub redrive_date: OffsetDateTime,
    /// How many times the execution has now been redriven.
    pub redrive_count: u32,
    /// The running execution (same ARN, same history).
    pub execution: Execution,
}

/// Why an execution could not be stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopError {
    /// No execution has this ARN.
    #[error("Execution Does Not Exist: '{0}'")]
    DoesNotExist(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl Engine {
    /// The ARN an execution of `state_machine_name` named `name` gets (Standard executions; Express
    /// ARNs carry a fresh UUID and are only known once started).
    pub fn execution_arn(&self, state_machine_name: &str, name: &str) -> String {
        let c = self.config();
        format!("arn:aws:states:{}:{}:execution:{}:{}", c.region, c.account_id, state_machine_name, name)
    }

    /// Starts an execution under AWS's naming rule: a Standard execution's name is unique per state
    /// machine; starting the same name with the same input while it runs returns the running one, and
    /// any other reuse is [`StoreError::AlreadyExists`]. Every start goes through here.
    pub async fn start_execution(
        &self,
        mut request: StartRequest,
        options: StartOptions,
    ) -> Result<Started, StoreError> {
        let name = request.execution_name.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        request.execution_name = Some(name.clone());
        if request.machine_type == StateMachineType::Standard && self.shared.executions.durable() {
            // A durable store reserves the name and records the execution in one write.
            return match self.launch(request, Some(&options)).await? {
                Launched::Started(execution) => Ok(Started { execution, new: true }),
                Launched::Found(arn) => {
                    let execution = self.running_execution(&arn).ok_or(StoreError::AlreadyExists(arn))?;
                    Ok(Started { execution, new: false })
                }
            };
        }
        if request.machine_type == StateMachineType::Standard {
            let arn = self.execution_arn(&request.state_machine_name, &name);
            let mut record = ExecutionRecord::new(
                arn.clone(),
                name,
                self.state_machine_arn(&request.state_machine_name),
                request.state_machine_name.clone(),
                request.input.clone(),
            );
            record.machine_type = request.machine_type;
            record.apply(&options);
            if let Reservation::Existing(_) = self.shared.executions.store.reserve(record).await? {
                // It may have ended since: then the name is taken for good.
                let execution = self.running_execution(&arn).ok_or(StoreError::AlreadyExists(arn))?;
                return Ok(Started { execution, new: false });
            }
        }
        // An Express execution is not kept once started (see `Executions::started`), so its start
        // options have no record to go into.
        match self.launch(request, None).await? {
            Launched::Started(execution) => Ok(Started { execution, new: true }),
            Launched::Found(arn) => Err(StoreError::AlreadyExists(arn)),
        }
    }

    /// What is known about an execution.
    pub async fn describe_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.shared.executions.store.get(arn).await
    }

    /// A page of executions, newest first.
    pub async fn list_executions(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        self.shared.executions.store.list(query).await
    }

    /// An execution's history, oldest event first: a running execution's as it is now, a closed
    /// one's as the store keeps it.
    pub async fn execution_history(&self, arn: &str) -> Result<Option<Vec<HistoryEvent>>, StoreError> {
        if let Some(execution) = self.shared.executions.live(arn) {
            return Ok(Some(execution.history()));
        }
        self.shared.executions.store.history(arn).await
    }

    /// The handle of a running execution.
    pub fn running_execution(&self, arn: &str) -> Option<Execution> {
        self.shared.executions.live(arn)
    }

    /// Stops a running execution (status ABORTED) and waits until it has ended; returns its stop date.
    /// Stopping an execution that has already ended changes nothing and returns when it ended.
    pub async fn stop_execution(
        &self,
        arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<OffsetDateTime, StopError> {
        if let Some(execution) = self.shared.executions.live(arn) {
            execution.stop(error, cause);
            execution.outcome().await;
        } else if self.shared.executions.store.lease().is_some() {
            self.stop_elsewhere(arn, error, cause).await.map_err(StopError::Store)?;
        }
        let record = self
            .describe_execution(arn)
            .await
            .map_err(StopError::Store)?
            .ok_or_else(|| StopError::DoesNotExist(arn.to_owned()))?;
        Ok(match (record.status, record.stop_date) {
            (ExecutionStatus::Running, _) | (_, None) => OffsetDateTime::now_utc(),
            (_, Some(d)) => d,
        })
    }

    /// Stops an execution that another engine sharing the store runs, and waits (up to two leases)
    /// until it has ended there.
    async fn stop_elsewhere(&self, arn: &str, error: Option<String>, cause: Option<String>) -> Result<(), StoreError> {
        let store = &self.shared.executions.store;
        let running = |r: Option<ExecutionRecord>| r.is_some_and(|r| r.status == ExecutionStatus::Running);
        if !running(store.get(arn).await?) {
            return Ok(());
        }
        store.send(crate::store::Signal::Stop { arn: arn.to_owned(), error, cause }).await?;
        let patience = store.lease().unwrap_or_default() * 2;
        let deadline = tokio::time::Instant::now() + patience;
        while running(store.get(arn).await?) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// RedriveExecution: runs a failed, timed-out or aborted Standard execution again from the
    /// top-level state it stopped in, with that state's original input and the variables as they were
    /// when it was entered; retry counts and timers start afresh and so does the execution timeout.
    /// A Parallel or inline Map state reruns only the branches or iterations that did not succeed
    /// (all of them after `States.DataLimitExceeded`). The history goes on after an
    /// `ExecutionRedriven` event.
    pub async fn redrive(&self, arn: &str) -> Result<Redriven, RedriveError> {
        let (resumable, redrive_count, redrive_date) = self.shared.executions.begin_redrive(arn).await?;
        let mut info = resumable.info;
        info.redrive_count = redrive_count;
        info.redrive_time = Some(redrive_date);
        let run = crate::engine::RunMode::Redrive;
        let execution = self.spawn_run(resumable.machine, info, resumable.history, Some(resumable.checkpoints), run);
        Ok(Redriven { redrive_date, redrive_count, execution })
    }
}

/// What a redrive (or a resumption after a restart) needs to run an execution again: its machine,
/// facts, history and checkpoint.
#[derive(Clone)]
pub(crate) struct Resumable {
    pub(crate) machine: Arc<StateMachine>,
    pub(crate) info: ExecutionInfo,
    pub(crate) history: History,
    pub(crate) checkpoints: CheckpointSlot,
}

/// Why RedriveExecution was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    /// No execution has this ARN.
    #[error("Execution Does Not Exist: '{0}'")]
    DoesNotExist(String),
    /// The execution cannot be redriven, for this reason.
    #[error("{0}")]
    NotRedrivable(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// The engine's view of its executions: the store plus the live handles of those still running and
/// what redriving the others needs.
pub(crate) struct Executions {
    pub(crate) store: Arc<dyn ExecutionStore>,
    /// Whether the store outlives the process (then executions commit at state boundaries).
    durable: bool,
    live: Mutex<HashMap<String, Execution>>,
    /// Standard executions that have not succeeded (they may be redriven).
    resumable: Mutex<HashMap<String, Resumable>>,
    /// Held while a redrive checks and reopens an execution, so two redrives cannot both pass.
    redrive_gate: tokio::sync::Mutex<()>,
}

impl Default for Executions {
    fn default() -> Executions {
        Executions::new(Arc::new(MemoryStore::new()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Executions {
    pub(crate) fn new(store: Arc<dyn ExecutionStore>) -> Executions {
        Executions {
            durable: store.durable(),
            store,
            live: Mutex::new(HashMap::new()),
            resumable: Mutex::new(HashMap::new()),
            redrive_gate: tokio::sync::Mutex::new(()),
        }
    }

    /// Registers an execution that `Engine::start` is starting; a Standard one comes with what a
    /// redrive would need, and, in a durable store, with what resuming it after a restart needs.
    pub(crate) async fn started(
        &self,
        info: &ExecutionInfo,
        history: History,
        resumable: Option<Resumable>,
        reserving: Option<&StartOptions>,
    ) -> Result<Reservation, StoreError> {
        // As on AWS, an Express execution is not kept for DescribeExecution, ListExecutions or
        // GetExecutionHistory: its caller has its handle (outcome and history), and a map run keeps
        // its children's records itself. Keeping them would grow memory with every StartSyncExecution.
        if info.express {
            return Ok(Reservation::Reserved);
        }
        let mut record = ExecutionRecord::new(
            info.arn.to_string(),
            info.name.to_string(),
            info.state_machine_arn.to_string(),
            info.state_machine_name.to_string(),
            info.input.clone(),
        );
        record.machine_type = StateMachineType::Standard;
        record.start_date = info.start_time;
        let launch = match (&resumable, self.durable) {
            (Some(r), true) => {
                let token_seed = info.token_seed.map(|s| s.to_string());
                r.machine.source.clone().map(|definition| Launch {
                    definition,
                    role_arn: info.role_arn.to_string(),
                    token_seed,
                })
            }
            _ => None,
        };
        let reservation = match reserving {
            Some(options) => {
                record.apply(options);
                self.store.start(record, history, launch).await?
            }
            None => {
                self.store.insert(record, history, launch).await?;
                Reservation::Reserved
            }
        };
        if let (Reservation::Reserved, Some(r)) = (&reservation, resumable) {
            lock(&self.resumable).insert(info.arn.to_string(), r);
        }
        Ok(reservation)
    }

    /// Whether executions commit at state boundaries.
    pub(crate) fn durable(&self) -> bool {
        self.durable
    }

    /// Registers the live handle of a run (the first one, a redrive, or a resumption after a restart).
    pub(crate) fn running(&self, execution: &Execution) {
        lock(&self.live).insert(execution.arn().to_owned(), execution.clone());
    }

    /// Registers what a redrive of an execution resumed after a restart needs.
    pub(crate) fn resumable(&self, arn: &str, resumable: Resumable) {
        lock(&self.resumable).insert(arn.to_owned(), resumable);
    }

    /// Records the end of an execution (with the events since its last commit) and forgets its live
    /// handle (and, once it has succeeded, what a redrive would need); returns the ARNs retention removed.
    pub(crate) async fn finished(&self, arn: &str, outcome: &Outcome, tail: Vec<HistoryEvent>) -> Vec<String> {
        if outcome.status == ExecutionStatus::Succeeded {
            lock(&self.resumable).remove(arn);
        }
        let now = OffsetDateTime::now_utc();
        let finish = || self.store.finish(arn, outcome, now, tail.clone());
        let recorded = match self.store.lease() {
            Some(_) => while_unavailable(arn, finish).await,
            None => self.store.finish(arn, outcome, now, tail).await,
        };
        if let Err(e) = recorded {
            // The execution has ended in this process; a durable store that missed it resumes it at
            // the next start, from its last committed state boundary.
            tracing::error!(execution = arn, error = %e, "could not record the end of an execution");
        }
        lock(&self.live).remove(arn);
        let purged = match self.store.purge(now).await {
            Ok(purged) => purged,
            Err(e) => {
                tracing::warn!(error = %e, "retention could not remove closed executions");
                Vec::new()
            }
        };
        if !purged.is_empty() {
            let mut resumable = lock(&self.resumable);
            for arn in &purged {
                resumable.remove(arn);
            }
        }
        purged
    }

    /// The live handle of a running execution.
    pub(crate) fn live(&self, arn: &str) -> Option<Execution> {
        lock(&self.live).get(arn).cloned()
    }

    /// Checks that an execution may be redriven and marks it running again: returns what the redrive
    /// runs, its redrive count and date. Two redrives at once cannot both pass.
    pub(crate) async fn begin_redrive(&self, arn: &str) -> Result<(Resumable, u32, OffsetDateTime), RedriveError> {
        let _gate = self.redrive_gate.lock().await;
        let store_error = |e: StoreError| RedriveError::Store(e);
        let record = self.store.get(arn).await.map_err(store_error)?;
        let record = record.ok_or_else(|| RedriveError::DoesNotExist(arn.to_owned()))?;
        if let Some(reason) = record.not_redrivable_reason() {
            return Err(RedriveError::NotRedrivable(reason));
        }
        let known = lock(&self.resumable).get(arn).cloned();
        let r = match known {
            Some(r) => r,
            None => self.resumable_from_store(arn).await?,
        };
        let date = OffsetDateTime::now_utc();
        let count = self.store.redriven(arn, date).await.map_err(store_error)?;
        let count = count.ok_or_else(|| RedriveError::DoesNotExist(arn.to_owned()))?;
        Ok((r, count, date))
    }

    /// What a redrive of an execution that ended in an earlier process needs, from a durable store.
    async fn resumable_from_store(&self, arn: &str) -> Result<Resumable, RedriveError> {
        let not_here = || {
            RedriveError::NotRedrivable("Execution was not started by this engine and cannot be redriven".to_owned())
        };
        let saved = self.store.resumable(arn).await.map_err(RedriveError::Store)?.ok_or_else(not_here)?;
        Resumable::restore(saved).map_err(RedriveError::NotRedrivable)
    }

    /// A journal through which `info`'s execution commits at state boundaries, when the store is
    /// durable and the execution is kept.
    pub(crate) fn journal(&self, info: &ExecutionInfo, history: &History) -> Option<Journal> {
        (self.durable && !info.express && info.record_history).then(|| Journal {
            store: self.store.clone(),
            arn: info.arn.to_string(),
            history: history.clone(),
            committed: AtomicUsize::new(history.len()),
            published: AtomicUsize::new(history.len()),
        })
    }
}

/// How long a write waits for a shared store that is unavailable before the execution gives up.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `write` again while it fails with [`StoreError::Unavailable`] (a database restarting, a network
/// cut), backing off from 100 ms to 5 s, for at most [`PATIENCE`].
pub(crate) async fn while_unavailable<F, Fut>(arn: &str, mut write: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let give_up = tokio::time::Instant::now() + PATIENCE;
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match write().await {
            Err(StoreError::Unavailable(e)) if tokio::time::Instant::now() < give_up => {
                tracing::warn!(execution = arn, error = %e, "the store is unavailable; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
            done => return done,
        }
    }
}

/// Writes an execution's progress to a durable store: the events since the previous commit with
/// each checkpoint, and the rest with its end.
pub(crate) struct Journal {
    store: Arc<dyn ExecutionStore>,
    arn: String,
    history: History,
    /// How many events the store has.
    committed: AtomicUsize,
    /// How many events other engines can read (committed or published).
    published: AtomicUsize,
}

impl Journal {
    fn take_events(&self) -> Vec<HistoryEvent> {
        let events = self.history.events_from(self.committed.load(Ordering::Acquire));
        self.committed.fetch_add(events.len(), Ordering::AcqRel);
        events
    }

    /// Commits a state boundary. On a store several engines share, a database that is away is waited
    /// for (see [`while_unavailable`]).
    pub(crate) async fn commit(&self, checkpoint: SavedCheckpoint) -> Result<(), StoreError> {
        if self.store.lease().is_none() {
            let events = self.take_events();
            return self.store.commit(&self.arn, Commit { events, checkpoint }).await;
        }
        let from = self.committed.load(Ordering::Acquire);
        let mut written = 0;
        while_unavailable(&self.arn, || {
            let events = self.history.events_from(from);
            written = events.len();
            self.store.commit(&self.arn, Commit { events, checkpoint: checkpoint.clone() })
        })
        .await?;
        self.committed.store(from + written, Ordering::Release);
        Ok(())
    }

    /// Publishes the events recorded since the last commit or publication (shared stores).
    pub(crate) fn publish(&self) {
        let from = self.committed.load(Ordering::Acquire).max(self.published.load(Ordering::Acquire));
        if self.history.len() <= from {
            return;
        }
        let events = self.history.events_from(from);
        self.published.store(from + events.len(), Ordering::Release);
        self.store.publish(&self.arn, events);
    }

    /// The events not committed yet, for the record of the execution's end.
    pub(crate) fn tail(&self) -> Vec<HistoryEvent> {
        self.take_events()
    }
}

impl Resumable {
    /// Rebuilds what resuming an execution kept in a durable store needs; the reason when it cannot.
    pub(crate) fn restore(saved: crate::store::Recovered) -> Result<Resumable, String> {
        let record = saved.record;
        let options = legion_asl::parse::ParseOptions { state_machine_type: record.machine_type };
        let machine = legion_asl::parse::parse_str(&saved.launch.definition, options).map_err(|d| {
            format!("The stored definition no longer parses: {}", d.first().map(|d| d.message.as_str()).unwrap_or(""))
        })?;
        let info = ExecutionInfo {
            arn: record.arn.into(),
            name: record.name.into(),
            state_machine_arn: record.state_machine_arn.into(),
            state_machine_name: record.state_machine_name.into(),
            role_arn: saved.launch.role_arn.into(),
            start_time: record.start_date,
            input: record.input,
            express: false,
            redrive_count: record.redrive_count,
            redrive_time: record.redrive_date,
            record_history: true,
            token_seed: saved.launch.token_seed.as_deref().and_then(|s| uuid::Uuid::parse_str(s).ok()),
        };
        Ok(Resumable {
            machine: Arc::new(machine),
            info,
            history: History::from_events(saved.history),
            checkpoints: CheckpointSlot::restore(saved.checkpoint),
        })
    }
}
