//! The execution store: every Standard execution an [`Engine`](crate::Engine) starts, for describing,
//! listing, reading the history of and resuming it later.
//!
//! [`ExecutionStore`] is the persistence boundary: records ([`ExecutionRecord`]), their history and,
//! in a durable store, what resuming them after a restart needs ([`Launch`], [`SavedCheckpoint`]).
//! [`MemoryStore`] keeps them in memory; the `legion-store` crate has the SQLite and PostgreSQL
//! backends. Every method is async and fallible, so that a backend may be a database.
//!
//! Creation is two-step so that names are unique without a race: [`ExecutionStore::reserve`] claims an
//! ARN atomically (AWS's idempotency rule for Standard executions), then the engine registers the
//! running execution under it ([`ExecutionStore::insert`]), commits at every top-level state boundary
//! ([`ExecutionStore::commit`]) and reports its end ([`ExecutionStore::finish`]).

mod documents;
mod memory;
mod ordinals;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use legion_asl::model::StateMachineType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::engine::{ExecutionStatus, Outcome};
use crate::executions::StartOptions;
use crate::history::{History, HistoryEvent};

pub use documents::{DocumentChange, DocumentChanges, DocumentKind, DocumentStore};
pub use memory::MemoryStore;
pub use ordinals::Ordinals;

/// What the store knows about one execution (DescribeExecution's facts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution ARN.
    pub arn: String,
    /// The execution name.
    pub name: String,
    /// The ARN of the state machine (never a version or alias ARN).
    pub state_machine_arn: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// The version that ran, when started through a version or an alias.
    pub version_arn: Option<String>,
    /// The alias it was started through.
    pub alias_arn: Option<String>,
    /// The Map Run this execution is a child of.
    pub map_run_arn: Option<String>,
    /// Standard or Express.
    pub machine_type: StateMachineType,
    /// The execution input.
    pub input: Value,
    /// The X-Ray trace header given at start.
    pub trace_header: Option<String>,
    /// When it started.
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    pub start_date: OffsetDateTime,
    /// Its status.
    pub status: ExecutionStatus,
    /// When it ended.
    #[serde(with = "time::serde::timestamp::nanoseconds::option")]
    pub stop_date: Option<OffsetDateTime>,
    /// The output, on success.
    pub output: Option<Value>,
    /// The error, on failure.
    pub error: Option<String>,
    /// The cause, on failure.
    pub cause: Option<String>,
    /// How many times it has been redriven.
    pub redrive_count: u32,
    /// When it was last redriven.
    #[serde(with = "time::serde::timestamp::nanoseconds::option")]
    pub redrive_date: Option<OffsetDateTime>,
    /// The revision of the state machine that ran ([`StartOptions::revision_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_id: Option<String>,
}

impl ExecutionRecord {
    /// A record for an execution that is starting now.
    pub fn new(
        arn: impl Into<String>,
        name: impl Into<String>,
        state_machine_arn: impl Into<String>,
        state_machine_name: impl Into<String>,
        input: Value,
    ) -> ExecutionRecord {
        ExecutionRecord {
            arn: arn.into(),
            name: name.into(),
            state_machine_arn: state_machine_arn.into(),
            state_machine_name: state_machine_name.into(),
            version_arn: None,
            alias_arn: None,
            map_run_arn: None,
            machine_type: StateMachineType::Standard,
            input,
            trace_header: None,
            start_date: OffsetDateTime::now_utc(),
            status: ExecutionStatus::Running,
            stop_date: None,
            output: None,
            error: None,
            cause: None,
            redrive_count: 0,
            redrive_date: None,
            revision_id: None,
        }
    }

    /// Why RedriveExecution refuses this execution (AWS's wording where known), or `None` when it
    /// may be redriven: a Standard execution that failed, timed out or was aborted.
    pub fn not_redrivable_reason(&self) -> Option<String> {
        if self.machine_type == StateMachineType::Express {
            // AWS's wording for this case is not known; Express executions are never redrivable.
            return Some("Execution is an EXPRESS execution and cannot be redriven".to_owned());
        }
        match self.status {
            ExecutionStatus::Running | ExecutionStatus::Succeeded => {
                Some(format!("Execution is {} and cannot be redriven", self.status.as_str()))
            }
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => None,
        }
    }

    /// Copies start metadata into the record.
    pub fn apply(&mut self, options: &StartOptions) {
        self.version_arn = options.version_arn.clone();
        self.alias_arn = options.alias_arn.clone();
        self.map_run_arn = options.map_run_arn.clone();
        self.trace_header = options.trace_header.clone();
        self.revision_id = options.revision_id.clone();
    }

    /// Marks the record as ended with `outcome` at `stop_date`.
    pub fn close(&mut self, outcome: &Outcome, stop_date: OffsetDateTime) {
        self.status = outcome.status;
        self.stop_date = Some(stop_date);
        self.output = outcome.output.clone();
        self.error = outcome.error.clone();
        self.cause = outcome.cause.clone();
    }

    /// Marks the record as running again after a redrive at `date`; returns the new redrive count.
    pub fn reopen(&mut self, date: OffsetDateTime) -> u32 {
        self.status = ExecutionStatus::Running;
        self.stop_date = None;
        self.output = None;
        self.error = None;
        self.cause = None;
        self.redrive_count += 1;
        self.redrive_date = Some(date);
        self.redrive_count
    }

    /// Whether a reservation of `candidate` finds this record as the same running Standard execution
    /// (AWS's idempotent start).
    pub fn same_running_start(&self, candidate: &ExecutionRecord) -> bool {
        self.status == ExecutionStatus::Running
            && self.machine_type == StateMachineType::Standard
            && self.input == candidate.input
    }
}

/// The answer to [`ExecutionStore::reserve`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// The ARN is now claimed for a new execution.
    Reserved,
    /// The same Standard execution (same name, same input) is still running: its record.
    Existing(Box<ExecutionRecord>),
}

/// Which executions to list, and which page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Executions of this state machine (any version or alias).
    pub state_machine_arn: Option<String>,
    /// Only executions started through this version.
    pub version_arn: Option<String>,
    /// Only executions started through this alias.
    pub alias_arn: Option<String>,
    /// Only children of this Map Run.
    pub map_run_arn: Option<String>,
    /// Only executions with this status.
    pub status: Option<ExecutionStatus>,
    /// Only executions that have (or have not) been redriven.
    pub redrive_filter: Option<RedriveFilter>,
    /// The page size (at least 1).
    pub max_results: usize,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

impl ListQuery {
    /// Whether `record` passes every filter of the query.
    pub fn matches(&self, record: &ExecutionRecord) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let eq_opt = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        eq(&self.state_machine_arn, &record.state_machine_arn)
            && eq_opt(&self.version_arn, &record.version_arn)
            && eq_opt(&self.alias_arn, &record.alias_arn)
            && eq_opt(&self.map_run_arn, &record.map_run_arn)
            && self.status.is_none_or(|s| s == record.status)
            && match self.redrive_filter {
                None => true,
                Some(RedriveFilter::Redriven) => record.redrive_count > 0,
                Some(RedriveFilter::NotRedriven) => record.redrive_count == 0,
            }
    }

    /// The token that continues this listing after the item with sequence number `seq`.
    pub fn token_after(&self, seq: u64) -> String {
        format!("{seq:016x}{:016x}", self.fingerprint())
    }

    /// The sequence number the query's `next_token` continues after (`None` for the first page);
    /// [`StoreError::InvalidToken`] for a token that this query did not issue.
    pub fn after(&self) -> Result<Option<u64>, StoreError> {
        let Some(token) = self.next_token.as_deref() else { return Ok(None) };
        let bad = || StoreError::InvalidToken(token.to_owned());
        if token.len() != 32 || !token.is_ascii() {
            return Err(bad());
        }
        let seq = u64::from_str_radix(&token[..16], 16).map_err(|_| bad())?;
        let print = u64::from_str_radix(&token[16..], 16).map_err(|_| bad())?;
        if print != self.fingerprint() {
            return Err(bad());
        }
        Ok(Some(seq))
    }

    /// A fingerprint of the filters, so that a token only continues the listing it came from
    /// (FNV-1a: stable across processes, as a durable store's tokens must be).
    fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut add = |s: &str| {
            for b in s.bytes().chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for field in [&self.state_machine_arn, &self.version_arn, &self.alias_arn, &self.map_run_arn] {
            add(field.as_deref().unwrap_or("\u{0}"));
        }
        add(self.status.map(|s| s.as_str()).unwrap_or("-"));
        add(match self.redrive_filter {
            None => "-",
            Some(RedriveFilter::Redriven) => "R",
            Some(RedriveFilter::NotRedriven) => "N",
        });
        h
    }
}

/// ListExecutions' `redriveFilter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedriveFilter {
    /// Executions redriven at least once.
    Redriven,
    /// Executions never redriven.
    NotRedriven,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next_token: Option<String>,
}

/// Why the store refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An execution with this ARN exists and is not the same running execution.
    #[error("Execution Already Exists: '{0}'")]
    AlreadyExists(String),
    /// The pagination token is not one this store issued for this query.
    #[error("Invalid Token: '{0}'")]
    InvalidToken(String),
    /// The backend failed (a database error, a full disk); the request may succeed later.
    #[error("the execution store is unavailable: {0}")]
    Unavailable(String),
    /// The backend holds data this Legion cannot read (a newer schema, a damaged row).
    #[error("the execution store holds data this Legion cannot read: {0}")]
    Corrupt(String),
    /// Another engine sharing the store has taken the execution over (its lease ran out here).
    #[error("the execution {0} is now run by another instance")]
    LeaseLost(String),
}

/// A message for the engine that runs an execution, routed through a store that several engines
/// share (see [`ExecutionStore::lease`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Signal {
    /// SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat for a task waiting on `token`.
    Token {
        /// The task token.
        token: String,
        /// What to tell the task.
        signal: crate::tokens::TokenSignal,
    },
    /// GetActivityTask on another engine took the activity task of `token`.
    ActivityTaken {
        /// The activity.
        activity_arn: String,
        /// The task token.
        token: String,
        /// The worker's name.
        worker_name: Option<String>,
    },
    /// StopExecution.
    Stop {
        /// The execution ARN.
        arn: String,
        /// The error to stop it with.
        error: Option<String>,
        /// The cause to stop it with.
        cause: Option<String>,
    },
}

/// What [`ExecutionStore::send`] did with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sent {
    /// It is queued for the engine that runs its execution (or the one that takes it over).
    Queued,
    /// No running execution waits for it: an unknown or closed token, an ended execution.
    NoRecipient,
}

/// Receives the signals a shared store routes to this engine; returns whether it could deliver one
/// (a task may not be waiting yet on an execution just taken over: the store offers it again).
pub type Inbox = Arc<dyn Fn(Signal) -> bool + Send + Sync>;

/// What resuming an execution after a restart needs beside its record: the definition it runs and
/// the role it runs as. Kept by durable stores only.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// The definition text.
    pub definition: Arc<str>,
    /// The role ARN in the context object and history.
    pub role_arn: String,
    /// The secret its task tokens derive from.
    pub token_seed: Option<String>,
}

/// Where an execution stands at a top-level state boundary, in a form a durable store can write: the
/// state it is entering, that state's input, the variables, and the outputs of the branches (or
/// iterations) of a top-level Parallel or inline Map that had succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCheckpoint {
    /// The state's index in the top-level program.
    pub state: usize,
    /// When the state was entered (a Wait resumed after a restart waits only for what was left).
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    pub entered_at: OffsetDateTime,
    /// The state's input.
    pub input: Value,
    /// The top-level variables when it was entered.
    pub vars: Map<String, Value>,
    /// Outputs of branches or iterations that succeeded, by index.
    #[serde(default)]
    pub done: HashMap<usize, Value>,
    /// Children of a Distributed Map whose results its (complete) result files hold.
    #[serde(default, skip_serializing_if = "Ordinals::is_empty")]
    pub written: Ordinals,
    /// The Retry back-off the state is in, when it has failed and waits to try again.
    #[serde(default)]
    pub retry: Option<SavedRetry>,
}

/// A state waiting out a Retry back-off: its entry and failures are committed, and it tries again at
/// `resume_at` with these counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRetry {
    /// The id of the state's `…StateEntered` event.
    pub entered_id: u64,
    /// Attempts used per retrier, in the state's `Retry` order.
    pub counts: Vec<u64>,
    /// Retries so far (the context object's `RetryCount`).
    pub retry_count: u64,
    /// When the next attempt starts.
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    pub resume_at: OffsetDateTime,
}

/// What the interpreter commits at a top-level state boundary, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The history events recorded since the previous commit, oldest first.
    pub events: Vec<HistoryEvent>,
    /// Where the execution now stands.
    pub checkpoint: SavedCheckpoint,
}

/// A Distributed Map's progress in the top-level state a durable execution is in, so that a restart
/// continues the same map run without running again the children that had succeeded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapProgress {
    /// The map run.
    pub map_run_arn: String,
    /// What each child that succeeded gave, by ordinal: its value in the state output, or (with a
    /// `ResultWriter`) the array of records its success writes to the result files.
    pub succeeded: HashMap<u64, Value>,
}

/// A RUNNING execution found in a durable store at start, with what resuming it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// Its record.
    pub record: ExecutionRecord,
    /// Its definition and role.
    pub launch: Launch,
    /// Its committed history.
    pub history: Vec<HistoryEvent>,
    /// Its last committed checkpoint (`None` when it had not entered a state yet).
    pub checkpoint: Option<SavedCheckpoint>,
}

/// How long closed executions (and their history) are kept. Running ones are always kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Closed executions that stopped longer ago than this are removed.
    pub max_age: Option<Duration>,
    /// At most this many closed executions are kept; the ones that closed first go first.
    pub max_closed: Option<usize>,
}

impl Retention {
    /// Keeps everything (the default).
    pub fn forever() -> Retention {
        Retention::default()
    }

    /// Removes closed executions older than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Retention {
        self.max_age = Some(max_age);
        self
    }

    /// Keeps at most `count` closed executions.
    pub fn max_closed(mut self, count: usize) -> Retention {
        self.max_closed = Some(count);
        self
    }

    /// Whether it keeps everything.
    pub fn keeps_everything(&self) -> bool {
        self.max_age.is_none() && self.max_closed.is_none()
    }
}

/// Persists execution records and their history.
///
/// A store that is not [`durable`](ExecutionStore::durable) reads the live [`History`] handed to
/// [`insert`](ExecutionStore::insert) and ignores commits; a durable one writes what it is given and
/// returns RUNNING executions from [`recover`](ExecutionStore::recover) after a restart.
#[async_trait]
pub trait ExecutionStore: Send + Sync + 'static {
    /// Claims `record.arn` for a new execution, applying AWS's idempotency rule: a Standard execution
    /// whose name is taken may be started again only while the first one runs with the same input, and
    /// then nothing new starts.
    async fn reserve(&self, record: ExecutionRecord) -> Result<Reservation, StoreError>;
    /// Registers a started execution; a reserved record keeps the metadata it was reserved with.
    /// `launch` is given when the store is durable and the definition text is known.
    async fn insert(&self, record: ExecutionRecord, history: History, launch: Option<Launch>)
        -> Result<(), StoreError>;
    /// Reserves a Standard execution's name (as [`reserve`](ExecutionStore::reserve)) and records
    /// it as started (as [`insert`](ExecutionStore::insert)), in one write where the store can; the
    /// record is inserted only when the answer is [`Reservation::Reserved`].
    async fn start(
        &self,
        record: ExecutionRecord,
        history: History,
        launch: Option<Launch>,
    ) -> Result<Reservation, StoreError> {
        match self.reserve(record.clone()).await? {
            Reservation::Reserved => {
                self.insert(record, history, launch).await?;
                Ok(Reservation::Reserved)
            }
            found => Ok(found),
        }
    }
    /// Writes the events and checkpoint of a state boundary in one transaction (durable stores). A
    /// store may return once the write is queued, provided it applies an execution's writes in order.
    async fn commit(&self, _arn: &str, _commit: Commit) -> Result<(), StoreError> {
        Ok(())
    }
    /// Notes the map run of the Distributed Map the execution's top-level state runs (durable
    /// stores); the next commit forgets it.
    async fn map_run_started(&self, _arn: &str, _map_run_arn: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Queues a child's success in that map run (durable stores). Not awaited: a success lost in a
    /// crash only means that child runs again.
    fn map_child_succeeded(&self, _arn: &str, _ordinal: u64, _result: Value) {}
    /// The map run and successes noted since the last commit.
    async fn map_progress(&self, _arn: &str) -> Result<Option<MapProgress>, StoreError> {
        Ok(None)
    }
    /// Marks an ended execution as running again after a redrive at `date`; returns its new redrive
    /// count (`None` for an unknown execution).
    async fn redriven(&self, arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError>;
    /// Records how an execution ended, with the events recorded since the last commit.
    async fn finish(
        &self,
        arn: &str,
        outcome: &Outcome,
        stop_date: OffsetDateTime,
        events: Vec<HistoryEvent>,
    ) -> Result<(), StoreError>;
    /// Removes the closed executions its retention no longer keeps at `now`; returns their ARNs.
    async fn purge(&self, now: OffsetDateTime) -> Result<Vec<String>, StoreError>;
    /// The record of an execution.
    async fn get(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError>;
    /// The history of an execution, oldest event first.
    async fn history(&self, arn: &str) -> Result<Option<Vec<HistoryEvent>>, StoreError>;
    /// A page of executions, newest first.
    async fn list(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError>;
    /// The RUNNING executions to resume after a restart (durable stores), and the checkpoints a
    /// redrive of the others resumes from.
    async fn recover(&self) -> Result<Vec<Recovered>, StoreError> {
        Ok(Vec::new())
    }
    /// The last checkpoint and definition of an ended execution, for a redrive in a process that did
    /// not run it (durable stores).
    async fn resumable(&self, _arn: &str) -> Result<Option<Recovered>, StoreError> {
        Ok(None)
    }
    /// Whether what it holds outlives the process: then the engine commits at every state boundary.
    fn durable(&self) -> bool {
        false
    }
    /// For a store several engines share: how long an engine owns the executions it runs without
    /// renewing its lease. [`recover`](ExecutionStore::recover) then claims only executions whose
    /// lease ran out, and the engine calls it again every half lease to take over those of an engine
    /// that stopped. `None` (the default) for a store one process owns.
    fn lease(&self) -> Option<Duration> {
        None
    }
    /// Registers where the signals for this engine's executions go (shared stores).
    fn subscribe(&self, _inbox: Inbox) {}
    /// Notes that a task of `arn` waits on `token`, so that another engine can route its answer here
    /// (shared stores).
    async fn token_opened(&self, _arn: &str, _token: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Makes the events an execution recorded since its last commit readable by other engines before
    /// the next commit (shared stores; not awaited). They are provisional: an engine that takes the
    /// execution over discards them, and records them again as it resumes.
    fn publish(&self, _arn: &str, _events: Vec<HistoryEvent>) {}
    /// Notes that the task of `token` no longer waits (shared stores; not awaited).
    fn token_closed(&self, _token: &str) {}
    /// Offers the activity task of `token` (scheduled on `activity_arn`) to the workers of every
    /// engine (shared stores); it is withdrawn when its token closes.
    async fn activity_scheduled(&self, _activity_arn: &str, _token: &str, _input: &Value) -> Result<(), StoreError> {
        Ok(())
    }
    /// Takes the oldest activity task offered on `activity_arn` that no worker took yet, as its
    /// token and input (shared stores).
    async fn take_activity(&self, _activity_arn: &str) -> Result<Option<(String, Value)>, StoreError> {
        Ok(None)
    }
    /// Routes a signal to the engine that runs its execution (shared stores).
    async fn send(&self, _signal: Signal) -> Result<Sent, StoreError> {
        Ok(Sent::NoRecipient)
    }
}
