//! The [`Runner`] backed by Legion's engine.
//!
//! Each execution case runs on its own single-threaded tokio runtime with a paused clock, so Wait
//! states, Retry back-off and timeouts keep their real ordering while taking no wall-clock time.

use std::sync::Arc;

use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse, ParseOptions};
use legion_engine::{Engine, StartRequest};

use crate::case::{Case, Spec, StateMachineSpec, ACCOUNT_ID, REGION};
use crate::runner::{Actual, BoxFuture, ExecutionStatus, Runner};

/// Runs cases on the in-process engine.
#[derive(Debug, Default, Clone)]
pub struct EngineRunner;

fn machine_type(spec: &StateMachineSpec) -> StateMachineType {
    if spec.machine_type.eq_ignore_ascii_case("EXPRESS") {
        StateMachineType::Express
    } else {
        StateMachineType::Standard
    }
}

impl Runner for EngineRunner {
    fn run<'a>(&'a self, case: &'a Case) -> BoxFuture<'a, Actual> {
        Box::pin(async move {
            match &case.spec {
                Spec::Validation(v) => {
                    let options = ParseOptions { state_machine_type: machine_type(&v.state_machine) };
                    Actual::Validation(
                        parse(&v.definition, options).map(|_| ()).map_err(|d| invalid_definition_message(&d)),
                    )
                }
                Spec::TestState(_) => Actual::Skipped("the TestState API is served by `legion serve`".to_owned()),
                Spec::Execution(e) if crate::service_setup::handles(case) => {
                    let options = ParseOptions { state_machine_type: machine_type(&e.state_machine) };
                    let machine = match parse(&e.definition, options) {
                        Ok(m) => Arc::new(m),
                        Err(d) => return Actual::Validation(Err(invalid_definition_message(&d))),
                    };
                    let mut request = StartRequest::new(machine, e.state_machine.name.clone(), e.input.clone());
                    request.execution_name = e.state_machine.execution_name.clone();
                    request.machine_type = options.state_machine_type;
                    crate::service_setup::run(case, e, request).await
                }
                Spec::Execution(e) => {
                    let activity = case.needs.iter().any(|n| n == "activity");
                    let known = |n: &str| matches!(n, "none" | "s3" | "lambda") || (activity && n == "activity");
                    if let Some(service) = case.needs.iter().find(|n| !known(n.as_str())) {
                        return Actual::Skipped(format!("needs the '{service}' integration"));
                    }
                    let options = ParseOptions { state_machine_type: machine_type(&e.state_machine) };
                    let machine = match parse(&e.definition, options) {
                        Ok(m) => Arc::new(m),
                        Err(d) => return Actual::Validation(Err(invalid_definition_message(&d))),
                    };
                    let mut request = StartRequest::new(machine, e.state_machine.name.clone(), e.input.clone());
                    request.execution_name = e.state_machine.execution_name.clone();
                    request.machine_type = options.state_machine_type;
                    if case.needs.iter().any(|n| n == "lambda") {
                        return crate::lambda_setup::run(&e.resources.lambda_functions, request).await;
                    }
                    if case.needs.iter().any(|n| n == "s3") {
                        return match crate::s3_setup::S3Setup::shared().await {
                            Ok(s3) => s3.run(&e.resources, request).await,
                            Err(e) => Actual::Skipped(format!("needs the 's3' integration: no S3 endpoint ({e})")),
                        };
                    }
                    let calls = e.resources.setup_calls.clone();
                    let handle = tokio::task::spawn_blocking(move || {
                        if activity {
                            crate::activity_setup::run_paused(&calls, request)
                        } else {
                            run_paused(request)
                        }
                    });
                    match handle.await {
                        Ok(actual) => actual,
                        Err(e) => Actual::Execution {
                            status: ExecutionStatus::Failed,
                            output: None,
                            error: Some("Legion.Panic".to_owned()),
                            cause: Some(e.to_string()),
                            history: Vec::new(),
                        },
                    }
                }
            }
        })
    }
}

/// Runs one execution to its end on a paused-clock runtime.
fn run_paused(request: StartRequest) -> Actual {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build() {
        Ok(rt) => rt,
        Err(e) => return Actual::Skipped(format!("cannot start a runtime: {e}")),
    };
    runtime.block_on(async move {
        let engine = Engine::builder().account(ACCOUNT_ID, REGION).time_scale(1.0).build();
        let (execution, outcome) = engine.run(request).await.expect("the execution starts");
        actual(&execution, outcome)
    })
}

/// An ended execution as the comparison sees it.
pub(crate) fn actual(execution: &legion_engine::Execution, outcome: legion_engine::Outcome) -> Actual {
    let status = match outcome.status {
        legion_engine::ExecutionStatus::Running => ExecutionStatus::Running,
        legion_engine::ExecutionStatus::Succeeded => ExecutionStatus::Succeeded,
        legion_engine::ExecutionStatus::Failed => ExecutionStatus::Failed,
        legion_engine::ExecutionStatus::TimedOut => ExecutionStatus::TimedOut,
        legion_engine::ExecutionStatus::Aborted => ExecutionStatus::Aborted,
    };
    Actual::Execution {
        status,
        output: outcome.output,
        error: outcome.error,
        cause: outcome.cause,
        history: execution.history().iter().map(legion_server::history_json::event).collect(),
    }
}
