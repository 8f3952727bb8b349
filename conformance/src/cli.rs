//! `legion-conformance`: command-line arguments and the entry point.

use std::path::PathBuf;
use std::time::Duration;

use legion_engine::Engine;

use crate::case::{ACCOUNT_ID, REGION};
use crate::report::{run_cli, Options};
use crate::{ApiRunner, RouterTestState};

/// Runs recorded AWS Step Functions behaviours (case files) against Legion and reports how closely
/// it matches them.
#[derive(Debug, clap::Parser)]
#[command(name = "legion-conformance", version)]
pub struct Args {
    /// Folders (or case files) to run.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Write per-case results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The known-failures list: listed cases may fail (XFAIL) and must not pass (XPASS).
    #[arg(long)]
    pub known_failures: Option<PathBuf>,
    /// Rewrite the known-failures list with the current failures.
    #[arg(long, requires = "known_failures")]
    pub update_known_failures: bool,
    /// Run only cases whose key contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// How many cases run at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds one case may take.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// Runs the cases and prints the report; returns the process exit code. TestState cases go through
/// the API's router, the others through the engine.
pub async fn run(args: Args) -> u8 {
    let options = Options {
        filter: args.filter,
        known_failures: args.known_failures,
        update_known_failures: args.update_known_failures,
        json: args.json,
        concurrency: args.concurrency.max(1),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let engine = Engine::builder().account(ACCOUNT_ID, REGION).time_scale(0.0).build();
    let runner = ApiRunner::new(RouterTestState::new(legion_server::app(legion_server::AppState::new(engine))));
    let code = run_cli(&args.dirs, &runner, &options).await;
    u8::try_from(code).unwrap_or(2)
}
