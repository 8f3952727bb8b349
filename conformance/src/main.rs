//! `legion-conformance DIR…`: runs recorded AWS behaviours against Legion. It is a binary of its own
//! so that the `legion` binary carries none of the test stand-ins the cases need.

use std::process::ExitCode;

use clap::Parser;
use legion_conformance::cli::{run, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => ExitCode::from(runtime.block_on(run(args))),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(2)
        }
    }
}
