//! Managing executions after they start: start with a unique name, describe, list, read history, stop.
//!
//! These are the engine-side halves of StartExecution, DescribeExecution, ListExecutions,
//! GetExecutionHistory and StopExecution, in the engine's own types; the wire format is the server's.

use legion_asl::model::StateMachineType;
use time::OffsetDateTime;

use crate::engine::{Engine, Execution, ExecutionStatus, StartRequest};
use crate::history::HistoryEvent;
use crate::store::{ExecutionRecord, ListQuery, Page, RedriveError, Reservation, StoreError};

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
            if let Reservation::Existing(_) = self.shared.executions.store.reserve(record)? {
                // It may have ended since: then the name is taken for good.
                let execution = self.running_execution(&arn).ok_or(StoreError::AlreadyExists(arn))?;
                return Ok(Started { execution, new: false });
            }
        }
        // An Express execution is not kept once started (see `Executions::started`), so its start
        // options have no record to go into.
        Ok(Started { execution: self.launch(request), new: true })
    }

    /// What is known about an execution.
    pub fn describe_execution(&self, arn: &str) -> Option<ExecutionRecord> {
        self.shared.executions.store.get(arn)
    }

    /// A page of executions, newest first.
    pub fn list_executions(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        self.shared.executions.store.list(query)
    }

    /// An execution's history, oldest event first.
    pub fn execution_history(&self, arn: &str) -> Option<Vec<HistoryEvent>> {
        self.shared.executions.store.history(arn)
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
        }
        let record = self.describe_execution(arn).ok_or_else(|| StopError::DoesNotExist(arn.to_owned()))?;
        Ok(match (record.status, record.stop_date) {
            (ExecutionStatus::Running, _) | (_, None) => OffsetDateTime::now_utc(),
            (_, Some(d)) => d,
        })
    }

    /// RedriveExecution: runs a failed, timed-out or aborted Standard execution again from the
    /// top-level state it stopped in, with that state's original input and the variables as they were
    /// when it was entered; retry counts and timers start afresh and so does the execution timeout.
    /// A Parallel or inline Map state reruns only the branches or iterations that did not succeed
    /// (all of them after `States.DataLimitExceeded`). The history goes on after an
    /// `ExecutionRedriven` event.
    pub fn redrive(&self, arn: &str) -> Result<Redriven, RedriveError> {
        let (resumable, redrive_count, redrive_date) = self.shared.executions.begin_redrive(arn)?;
        let mut info = resumable.info;
        info.redrive_count = redrive_count;
        info.redrive_time = Some(redrive_date);
        let execution = self.spawn_run(resumable.machine, info, resumable.history, Some(resumable.checkpoints));
        Ok(Redriven { redrive_date, redrive_count, execution })
    }
}
