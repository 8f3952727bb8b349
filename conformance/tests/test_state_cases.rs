//! The recorded TestState cases (`test_state` in the recorded cases) through the API's router, holding
//! the known-failures ratchet: an unlisted failure or a listed pass fails this test. Without the
//! recorded cases (see `legion_conformance::corpus`), it says so in one line and skips.

use std::path::PathBuf;

use legion_conformance::case::{ACCOUNT_ID, REGION};
use legion_conformance::{corpus, run, ApiRunner, Options, RouterTestState};
use legion_engine::Engine;
use legion_server::{app, AppState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_state_cases_hold_the_ratchet() {
    let Some(cases) = corpus::for_test("test_state_cases_hold_the_ratchet") else { return };
    let cases = cases.join("test_state");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let engine = Engine::builder().account(ACCOUNT_ID, REGION).time_scale(0.0).build();
    let runner = ApiRunner::new(RouterTestState::new(app(AppState::new(engine))));
    // The shared list covers every folder; the harness reports listed cases it did not load, so keep
    // the entries of this folder.
    let all = std::fs::read_to_string(root.join("known-failures.txt")).expect("the known-failures list");
    let ours: String = all.lines().filter(|l| l.starts_with("test_state_")).map(|l| format!("{l}\n")).collect();
    let list = std::env::temp_dir().join(format!("legion-test-state-known-failures-{}.txt", std::process::id()));
    std::fs::write(&list, ours).expect("a temporary file");
    let options = Options { known_failures: Some(list.clone()), ..Options::default() };
    let report = run(&[cases], &runner, &options).await;
    let _ = std::fs::remove_file(&list);
    let text = report.render();
    println!("{text}");
    let tally = report.tally();
    assert!(
        tally.passed * 10 >= (tally.passed + tally.failed + tally.skipped + tally.xfail) * 9,
        "under 90% pass: {text}"
    );
    assert_eq!(report.exit_code(), 0, "conformance regressed:\n{text}");
}
