//! Runs the recorded AWS behaviours through the engine, holding the known-failures ratchet: an
//! unlisted failure or a listed pass fails this test. `pure` and `validation` need no external
//! service; `lambda` runs its functions on the Lambda stand-in of `legion-testkit`.

use std::path::PathBuf;

use legion_conformance::{run, EngineRunner, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_and_validation_cases_hold_the_ratchet() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cases = root.join("../../shared/conformance/cases");
    assert!(cases.is_dir(), "the conformance cases are expected at {}", cases.display());
    let options = Options { known_failures: Some(root.join("known-failures.txt")), ..Options::default() };
    let report =
        run(&[cases.join("pure"), cases.join("validation"), cases.join("lambda")], &EngineRunner, &options).await;
    let text = report.render();
    println!("{text}");
    let tally = report.tally();
    assert!(tally.passed >= 600, "too few cases ran: {text}");
    assert_eq!(report.exit_code(), 0, "conformance regressed:\n{text}");
}
