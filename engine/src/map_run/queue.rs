//! The children of Distributed Maps, offered through a store that several engines share so that any
//! of them runs them (PostgreSQL's `legion-store`).
//!
//! The engine that runs a map run offers each child (at most `MaxConcurrency` at a time) and awaits
//! its result; every engine, that one included, claims offered children up to its capacity, runs
//! them as it would run its own and hands their results back. A claim is a lease: the children of an
//! engine that stops renewing are claimed again by another (so a child runs at least once, and more
//! than once only when an engine died or stalled while running it).

use std::time::Duration;

use async_trait::async_trait;
use legion_asl::model::StateMachineType;
use serde_json::Value;
use time::OffsetDateTime;

use crate::engine::{ExecutionStatus, Outcome};
use crate::history::HistoryEvent;
use crate::store::StoreError;

/// A child offered to every engine: what any of them needs to run it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct QueuedChild {
    /// The map run.
    pub map_run_arn: String,
    /// The child's place in the map run (from 0, in reading order).
    pub ordinal: u64,
    /// The execution that runs the map run; its stored definition holds the item processor.
    pub parent_arn: String,
    /// The Distributed Map state (state names are unique in a definition).
    pub state_name: String,
    /// The child execution's ARN.
    pub execution_arn: String,
    /// The child execution's name.
    pub name: String,
    /// The child state machine's ARN (`…:stateMachine:PARENT/LABEL`).
    pub state_machine_arn: String,
    /// The child state machine's name (`PARENT/LABEL`).
    pub state_machine_name: String,
    /// The role the parent runs with.
    pub role_arn: String,
    /// When the child was started.
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    pub start_date: OffsetDateTime,
    /// The child's input: one item, or a batch.
    pub input: Value,
    /// An EXPRESS child (the map's `ExecutionType`).
    pub express: bool,
    /// Whether the child's history is recorded (the map run keeps its children).
    pub record_history: bool,
}

/// How a child that an engine ran ended, with its history when it was recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChildResult {
    /// The final status.
    pub status: ExecutionStatus,
    /// The output, on success.
    pub output: Option<Value>,
    /// The error name, on failure.
    pub error: Option<String>,
    /// The cause, on failure.
    pub cause: Option<String>,
    /// The child's history (empty when not recorded).
    pub history: Vec<HistoryEvent>,
}

impl ChildResult {
    /// The result of a child that ended with `outcome`, recording `history`.
    pub fn new(outcome: Outcome, history: Vec<HistoryEvent>) -> ChildResult {
        let Outcome { status, output, error, cause } = outcome;
        ChildResult { status, output, error, cause, history }
    }

    /// The outcome, without the history.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            status: self.status,
            output: self.output.clone(),
            error: self.error.clone(),
            cause: self.cause.clone(),
        }
    }
}

/// Where the children of Distributed Maps are offered to, and claimed by, every engine that shares a
/// store. An engine built with one ([`crate::EngineBuilder::child_queue`]) runs every map run's
/// children through it, and claims children for as long as it lives.
#[async_trait]
pub trait ChildQueue: Send + Sync + 'static {
    /// Offers a child. An offer is kept once per map run and ordinal: offered again (by the engine
    /// that took the map run over), the first offer stands, and so does its result.
    fn offer(&self, child: QueuedChild);

    /// Waits for the result of an offered child; the result is handed out once.
    async fn result(&self, map_run_arn: &str, ordinal: u64) -> Result<ChildResult, StoreError>;

    /// Withdraws every child of a map run that ended: unclaimed ones never run, and the engines
    /// running claimed ones stop them.
    fn close_run(&self, map_run_arn: &str);

    /// Claims up to `max` offered children (or children whose claimer stopped renewing) for this
    /// engine.
    async fn claim(&self, max: usize) -> Result<Vec<QueuedChild>, StoreError>;

    /// Returns when a child may have been offered (cancel-safe; the engine also claims every second).
    async fn offered(&self);

    /// Renews this engine's claims on `running` (map run, ordinal); returns those still offered,
    /// so that the engine stops the others.
    async fn renew(&self, running: &[(String, u64)]) -> Result<Vec<(String, u64)>, StoreError>;

    /// Hands back the result of a claimed child.
    fn complete(&self, child: &QueuedChild, result: ChildResult);

    /// The definition and type of the execution that runs a map run, from which a claimed child's item
    /// processor is read.
    async fn definition(&self, parent_arn: &str) -> Result<Option<(String, StateMachineType)>, StoreError>;

    /// How many claimed children this engine runs at once at most.
    fn capacity(&self) -> usize;

    /// How often [`ChildQueue::renew`] must be called.
    fn renew_every(&self) -> Duration;
}
