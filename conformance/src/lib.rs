//! Conformance harness: runs recorded AWS Step Functions behaviours (case files) against an engine and
//! reports how closely the engine matches them.
//!
//! A case file is one recorded behaviour: a definition, an input and what AWS answered (see [`case`]).
//! The harness does not know the engine: it drives a [`Runner`], which turns a [`Case`] into an
//! [`Actual`] result. The harness then rewrites volatile values in the actual result the same way they
//! were rewritten before recording ([`normalize`]), compares ([`compare`]), applies the known-failures
//! list ([`known_failures`]) and prints a report ([`report`]).
//!
//! ```no_run
//! use legion_conformance::{run_cli, Actual, BoxFuture, Case, Options, Runner};
//!
//! struct NothingSupported;
//!
//! impl Runner for NothingSupported {
//!     fn run<'a>(&'a self, _case: &'a Case) -> BoxFuture<'a, Actual> {
//!         Box::pin(async { Actual::Skipped("no integration yet".into()) })
//!     }
//! }
//!
//! # async fn example() {
//! let dirs = vec!["shared/conformance/cases".into()];
//! let exit_code = run_cli(&dirs, &NothingSupported, &Options::default()).await;
//! # let _ = exit_code;
//! # }
//! ```

mod activity_setup;
pub mod case;
pub mod cli;
pub mod compare;
pub mod corpus;
mod engine_runner;
pub mod known_failures;
pub mod lambda_setup;
pub mod normalize;
pub mod report;
mod router_api;
mod runner;
mod s3_setup;
mod service_setup;
pub mod test_state_runner;

pub use case::{Case, CaseError, CaseKind, Spec};
pub use compare::{HistoryCheck, Verdict};
pub use engine_runner::EngineRunner;
pub use known_failures::{KnownFailures, KnownFailuresError};
pub use report::{run, run_cli, CaseResult, Options, Outcome, Report, Tally};
pub use router_api::RouterTestState;
pub use runner::{Actual, ApiError, BoxFuture, ExecutionStatus, Runner};
pub use test_state_runner::{ApiRunner, TestStateApi};

#[cfg(test)]
mod tests;
