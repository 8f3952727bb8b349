//! Runs the recorded AWS behaviours through the engine, holding the known-failures ratchet: an
//! unlisted failure or a listed pass fails this test. `pure` and `validation` need no external
//! service; `lambda` runs its functions on the Lambda stand-in of `legion-testkit`; `test_state` goes
//! through the TestState operation of the API's router; `s3` loads its buckets into the embedded S3
//! endpoint (unless `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` names another server). Without the
//! recorded cases (see `legion_conformance::corpus`), it says so in one line and skips.

use std::path::PathBuf;

use legion_conformance::case::{ACCOUNT_ID, REGION};
use legion_conformance::{corpus, run, ApiRunner, Options, RouterTestState};
use legion_engine::Engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_and_validation_cases_hold_the_ratchet() {
    let Some(cases) = corpus::for_test("pure_and_validation_cases_hold_the_ratchet") else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let options = Options { known_failures: Some(root.join("known-failures.txt")), ..Options::default() };
    let engine = Engine::builder().account(ACCOUNT_ID, REGION).time_scale(0.0).build();
    let runner = ApiRunner::new(RouterTestState::new(legion_server::app(legion_server::AppState::new(engine))));
    let folders = [
        cases.join("pure"),
        cases.join("validation"),
        cases.join("lambda"),
        cases.join("test_state"),
        cases.join("s3"),
    ];
    let report = run(&folders, &runner, &options).await;
    let text = report.render();
    println!("{text}");
    let tally = report.tally();
    assert!(tally.passed >= 600, "too few cases ran: {text}");
    assert_eq!(report.exit_code(), 0, "conformance regressed:\n{text}");
}
