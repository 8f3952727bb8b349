//! The project's own cases (`conformance/cases-local/`), written from AWS's documentation and
//! recorded messages for behaviours the recorded corpus does not cover: every one must pass, through
//! the same runner as the recorded cases (TestState through the API's router, the rest through the
//! engine). They are part of the repository, so this test never skips.

use std::path::PathBuf;

use legion_conformance::case::{ACCOUNT_ID, REGION};
use legion_conformance::{run, ApiRunner, Options, Outcome, RouterTestState};
use legion_engine::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_local_case_passes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases-local");
    let engine = Engine::builder().account(ACCOUNT_ID, REGION).time_scale(0.0).build();
    let runner = ApiRunner::new(RouterTestState::new(legion_server::app(legion_server::AppState::new(engine))));
    let report = run(&[root], &runner, &Options::default()).await;
    let text = report.render();
    println!("{text}");
    assert!(report.results.len() >= 10, "{text}");
    assert!(report.results.iter().all(|r| r.outcome == Outcome::Pass), "{text}");
    assert_eq!(report.exit_code(), 0, "{text}");
}
