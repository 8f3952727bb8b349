//! Legion's web console (the `/console/` pages of `legion serve`) and the state machine graph
//! drawing it shares with `legion graph`.
//!
//! The console reads executions, histories, map runs and state machines in the AWS API's own
//! shapes through [`api::ConsoleApi`], which the server implements with its API handlers, so the
//! pages show what DescribeExecution, GetExecutionHistory or DescribeMapRun return and nothing of
//! the engine's internals.

pub mod api;
pub mod colour;
pub mod escape;
pub mod graph;
pub mod html;
pub mod pages;
pub mod routes;

pub use api::{ApiFailure, ConsoleApi};
pub use routes::router;
