//! Tests of the whole harness with fake runners: over the small case files in `fixtures/`, and (when
//! they are there) over every recorded case.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use crate::case::{self, Case, Spec, TestRule};
use crate::compare::HistoryCheck;
use crate::{run, run_cli, Actual, ApiError, BoxFuture, ExecutionStatus, Options, Outcome, Report, Runner};

/// The harness's own case files, one or two of each kind.
fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn load(category: &str, key: &str) -> Case {
    let path = cases_root().join(category).join(format!("{key}.json"));
    match Case::load(&path) {
        Ok(case) => case,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("legion-conformance-{}-{n}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn status(s: &str) -> ExecutionStatus {
    match s {
        "SUCCEEDED" => ExecutionStatus::Succeeded,
        "FAILED" => ExecutionStatus::Failed,
        "TIMED_OUT" => ExecutionStatus::TimedOut,
        "ABORTED" => ExecutionStatus::Aborted,
        other => panic!("unexpected status {other}"),
    }
}

fn is_plain(pattern: &str) -> bool {
    !pattern.contains(|c| "\\.+*?()|[]{}^$".contains(c))
}

/// Turns recorded (rewritten) text back into what an engine would produce: real names, region,
/// partition and UUIDs in place of the placeholders.
fn denormalize_text(case: &Case, text: &str) -> String {
    let mut out = text.replace("arn:<partition>:", "arn:aws:").replace("<region>", case::REGION);
    for rule in &case.normalize.test_rules {
        if let TestRule::Regex { pattern, replacement } = rule {
            if replacement.starts_with('<') && replacement.ends_with('>') && is_plain(pattern) {
                out = out.replace(replacement.as_str(), pattern);
            }
        }
    }
    for n in 1..10 {
        out = out.replace(&format!("<uuid:{n}>"), &format!("0a1b2c3d-0000-4000-8000-00000000000{n}"));
    }
    out
}

fn denormalize(case: &Case, value: &Value) -> Value {
    serde_json::from_str(&denormalize_text(case, &value.to_string())).unwrap()
}

/// Serialises the fields AWS returns as JSON text, as a TestState response has them on the wire.
fn to_wire(response: &mut Value) {
    let Some(map) = response.as_object_mut() else { return };
    if let Some(output) = map.get_mut("output") {
        if !output.is_string() {
            *output = Value::String(output.to_string());
        }
    }
    if let Some(Value::Object(data)) = map.get_mut("inspectionData") {
        for v in data.values_mut() {
            if v.is_object() {
                *v = Value::String(v.to_string());
            }
        }
    }
}

/// What AWS answered, rebuilt from the case.
fn recorded(case: &Case) -> Actual {
    match &case.spec {
        Spec::Execution(spec) => {
            let e = &spec.expected;
            Actual::Execution {
                status: status(&e.status),
                output: (!e.output.is_null()).then(|| denormalize(case, &e.output)),
                error: e.error.as_ref().map(|s| denormalize_text(case, s)),
                cause: e.cause.as_ref().map(|c| match c {
                    Value::String(s) => denormalize_text(case, s),
                    other => denormalize(case, other).to_string(),
                }),
                history: spec.expected_history.clone().unwrap_or_default(),
            }
        }
        Spec::TestState(spec) => match &spec.expected.api_error {
            Some(e) => Actual::TestState(Err(ApiError {
                error_type: e.code.clone(),
                message: denormalize_text(case, &e.message),
            })),
            None => {
                let mut response = denormalize(case, &spec.expected_response);
                to_wire(&mut response);
                Actual::TestState(Ok(response))
            }
        },
        Spec::Validation(spec) => Actual::Validation(Err(denormalize_text(case, &spec.expected.message))),
    }
}

/// A runner answering what AWS answered, then changed by `change`.
struct Replay<F>(F);

impl<F> Runner for Replay<F>
where
    F: Fn(&Case, Actual) -> Actual + Send + Sync,
{
    fn run<'a>(&'a self, case: &'a Case) -> BoxFuture<'a, Actual> {
        let actual = (self.0)(case, recorded(case));
        Box::pin(async move { actual })
    }
}

fn faithful() -> Replay<impl Fn(&Case, Actual) -> Actual + Send + Sync> {
    Replay(|_: &Case, a: Actual| a)
}

fn options(filter: &str) -> Options {
    Options { filter: Some(filter.into()), ..Options::default() }
}

fn outcome<'r>(report: &'r Report, key: &str) -> (&'r Outcome, Option<&'r str>) {
    let r = report.results.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("{key} not in report"));
    (&r.outcome, r.reason.as_deref())
}

const CATCH: &str = "lambda_catch_exception";
const CAUSE_JSON: &str = "lambda_fail_exception";
const CONTEXT: &str = "pass_context_object";
const CHOICE_TRUE: &str = "choice_assign_true";
const CHOICE_FALSE: &str = "choice_assign_false";
const VALIDATION_ARN: &str = "validation_unknown_integration";
const TEST_STATE_OK: &str = "test_state_pass_next";
const TEST_STATE_API: &str = "test_state_mock_on_pass";

/// Every case file under `root` loads, in the folder its category names.
fn check_every_case_file_loads(root: PathBuf) -> Vec<case::Discovered> {
    let (found, errors) = case::discover(&[root]);
    assert!(errors.is_empty(), "{errors:?}");
    for d in &found {
        let case = d.case.as_ref().unwrap_or_else(|e| panic!("{}: {e}", d.key));
        assert_eq!(case.category, d.category, "{}", d.key);
    }
    found
}

fn count_kind(found: &[case::Discovered], kind: case::CaseKind) -> usize {
    found.iter().filter(|d| d.case.as_ref().is_ok_and(|c| c.kind() == kind)).count()
}

#[test]
fn every_fixture_loads() {
    let found = check_every_case_file_loads(cases_root());
    assert_eq!(found.len(), 8);
    assert_eq!(count_kind(&found, case::CaseKind::Execution), 5);
    assert_eq!(count_kind(&found, case::CaseKind::TestState), 2);
    assert_eq!(count_kind(&found, case::CaseKind::Validation), 1);
}

#[test]
fn every_recorded_case_file_loads() {
    let Some(root) = crate::corpus::for_test("every_recorded_case_file_loads") else { return };
    let found = check_every_case_file_loads(root);
    assert!(found.len() > 900, "only {} case files", found.len());
    assert!(count_kind(&found, case::CaseKind::Execution) > 700);
    assert!(count_kind(&found, case::CaseKind::TestState) > 100);
    assert!(count_kind(&found, case::CaseKind::Validation) >= 10);
}

/// A runner answering what AWS answered passes every case under `root`, history included.
async fn check_faithful_runner(root: PathBuf) -> usize {
    let report = run(&[root], &faithful(), &Options::default()).await;
    let failures: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| format!("{}: {}", r.key, r.reason.as_deref().unwrap_or("")))
        .collect();
    assert!(failures.is_empty(), "{} failures, first: {:#?}", failures.len(), &failures[..failures.len().min(10)]);
    let (matched, compared) = report.history_counts();
    assert_eq!(matched, compared);
    assert_eq!(report.exit_code(), 0);
    let last = report.render().lines().last().unwrap_or_default().to_owned();
    assert_eq!(last, format!("{} passed, 0 failed, 0 skipped", report.results.len()));
    compared
}

#[tokio::test]
async fn a_faithful_runner_passes_every_fixture() {
    assert_eq!(check_faithful_runner(cases_root()).await, 3);
}

#[tokio::test]
async fn a_faithful_runner_passes_every_recorded_case() {
    let Some(root) = crate::corpus::for_test("a_faithful_runner_passes_every_recorded_case") else { return };
    assert!(check_faithful_runner(root).await > 400);
}

#[tokio::test]
async fn a_wrong_status_fails_every_execution_case() {
    let runner = Replay(|_: &Case, a: Actual| match a {
        Actual::Execution { status, output, error, cause, history } => Actual::Execution {
            status: if status == ExecutionStatus::Aborted {
                ExecutionStatus::Succeeded
            } else {
                ExecutionStatus::Aborted
            },
            output,
            error,
            cause,
            history,
        },
        other => other,
    });
    let report = run(&[cases_root().join("pure")], &runner, &Options::default()).await;
    assert_eq!(report.tally().passed, 0);
    assert!(report.results.iter().all(|r| r.reason.as_deref().is_some_and(|s| s.starts_with("status: expected "))));
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn output_error_and_cause_differences_are_reported() {
    let runner = Replay(|case: &Case, a: Actual| match a {
        Actual::Execution { status, output, error, cause, history } if case.key == CONTEXT => Actual::Execution {
            status,
            output: output.map(|mut o| {
                o["extra"] = json!(1);
                o
            }),
            error,
            cause,
            history,
        },
        Actual::Execution { status, output, error, cause, history } if case.key == CAUSE_JSON => Actual::Execution {
            status,
            output,
            error: error.map(|e| e + "X"),
            cause: cause.map(|c| c.replace("Some exception", "Another exception")),
            history,
        },
        other => other,
    });
    let report = run(&[cases_root()], &runner, &Options::default()).await;
    let (o, why) = outcome(&report, CONTEXT);
    assert_eq!((o, why), (&Outcome::Fail, Some("output.extra: expected nothing, got 1")));
    let (o, why) = outcome(&report, CAUSE_JSON);
    assert_eq!(o, &Outcome::Fail);
    let why = why.unwrap_or_default();
    assert!(
        why.starts_with("error: expected \"Exception\", got \"ExceptionX\"; cause.errorMessage: expected"),
        "{why}"
    );
    assert_eq!(report.tally().failed, 2);
}

#[tokio::test]
async fn lambda_error_causes_match_with_other_spacing_and_real_request_ids() {
    let case = load("lambda", CATCH);
    let cause = |id: &str| {
        json!({
            "errorMessage": "Some exception was raised.",
            "errorType": "Exception",
            "requestId": id,
            "stackTrace": ["  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n"],
        })
        .to_string()
    };
    let actual = |first: &str, second: &str| Actual::Execution {
        status: ExecutionStatus::Succeeded,
        output: Some(json!({
            "FunctionName": "fixture_fn_0001",
            "Error": "Exception",
            "Cause": cause(first),
            "caught": {"Error": "Exception", "Cause": cause(second)},
        })),
        error: None,
        cause: None,
        history: Vec::new(),
    };
    let id = "6f1c2b4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f";
    assert_eq!(crate::compare::check(&case, &actual(id, id)), crate::Verdict::Pass);
    // The same placeholder stands for the same request id in both places.
    let other = "7f1c2b4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f";
    let v = crate::compare::check(&case, &actual(id, other));
    assert!(matches!(v, crate::Verdict::Fail(_)), "{v:?}");
}

#[tokio::test]
async fn test_state_and_validation_cases_compare_responses_and_messages() {
    let runner = Replay(|case: &Case, a: Actual| match a {
        Actual::TestState(Ok(mut r)) if case.key == TEST_STATE_OK => {
            r["nextState"] = json!("Elsewhere");
            Actual::TestState(Ok(r))
        }
        Actual::TestState(Err(mut e)) if case.key == TEST_STATE_API => {
            e.message.push('!');
            Actual::TestState(Err(e))
        }
        Actual::Validation(Err(m)) if case.key == VALIDATION_ARN => Actual::Validation(Err(m + ".")),
        other => other,
    });
    let report = run(&[cases_root()], &runner, &Options::default()).await;
    assert_eq!(
        outcome(&report, TEST_STATE_OK),
        (&Outcome::Fail, Some("response.nextState: expected \"Later\", got \"Elsewhere\""))
    );
    let (o, why) = outcome(&report, TEST_STATE_API);
    assert_eq!(o, &Outcome::Fail);
    assert!(why.unwrap_or_default().starts_with("API error message: expected"));
    let (o, why) = outcome(&report, VALIDATION_ARN);
    assert_eq!(o, &Outcome::Fail);
    assert!(why.unwrap_or_default().starts_with("message: expected \"Invalid State Machine Definition"));
    assert_eq!(report.tally().failed, 3);

    // The message is compared after rewriting: `arn:aws:` in the engine's message is expected.
    let case = load("validation", VALIDATION_ARN);
    let Actual::Validation(Err(message)) = recorded(&case) else { panic!("not a validation result") };
    assert!(message.contains("arn:aws:states:::dynamodb:query"));
    assert_eq!(crate::compare::check(&case, &Actual::Validation(Ok(()))), crate::Verdict::Fail(
        "definition accepted; expected InvalidDefinition: Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided arn:<partition>:s…".into()
    ));
}

#[tokio::test]
async fn known_failures_ratchet() {
    let dir = scratch("ratchet");
    let list = dir.join("known-failures.txt");
    fs::write(&list, format!("# header\n{CONTEXT}  # output differs\n{CAUSE_JSON}\n")).unwrap();
    // CONTEXT fails, CAUSE_JSON passes.
    let runner = Replay(|case: &Case, a: Actual| match a {
        Actual::Execution { status, error, cause, history, .. } if case.key == CONTEXT => {
            Actual::Execution { status, output: Some(json!({})), error, cause, history }
        }
        other => other,
    });
    let dirs = [cases_root().join("pure"), cases_root().join("lambda")];
    let opts = Options { known_failures: Some(list.clone()), ..Options::default() };
    let report = run(&dirs, &runner, &opts).await;
    assert_eq!(outcome(&report, CONTEXT).0, &Outcome::XFail);
    assert_eq!(outcome(&report, CAUSE_JSON).0, &Outcome::XPass);
    let text = report.render();
    assert!(text.contains(&format!("XFAIL {CONTEXT}: output.")), "{text}");
    assert!(text.contains(&format!("XPASS {CAUSE_JSON}: remove it from the known-failures list")), "{text}");
    let t = report.tally();
    assert_eq!((t.failed, t.xfail), (1, 1));
    assert_eq!(report.exit_code(), 1);

    // A key that matches no case file is an error.
    fs::write(&list, format!("{CONTEXT}\nno_such_case  # gone\n")).unwrap();
    let report = run(&dirs, &runner, &opts).await;
    assert_eq!(report.known_failure_errors.len(), 1, "{:?}", report.known_failure_errors);
    assert!(report.render().contains("ERROR known-failures lists no_such_case, but no case file has that key"));
    assert_eq!(report.tally().failed, 1);
    assert_eq!(report.tally().xfail, 1);

    // Without the list the failure counts.
    let report = run(&dirs, &runner, &Options::default()).await;
    assert_eq!(outcome(&report, CONTEXT).0, &Outcome::Fail);
    assert_eq!(report.exit_code(), 1);

    // A malformed list is an error too.
    fs::write(&list, "two words\n").unwrap();
    let report = run(&dirs, &runner, &opts).await;
    assert_eq!(report.known_failure_errors.len(), 1);
    assert_eq!(report.exit_code(), 1);
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn updating_the_known_failures_list() {
    let dir = scratch("update");
    let list = dir.join("known-failures.txt");
    fs::write(&list, format!("# kept header\n{CAUSE_JSON}  # old reason\nno_such_case\n{CATCH}  # still failing\n"))
        .unwrap();
    let runner = Replay(|case: &Case, a: Actual| match a {
        Actual::Execution { error, cause, history, .. } if case.key == CONTEXT || case.key == CATCH => {
            Actual::Execution { status: ExecutionStatus::Aborted, output: None, error, cause, history }
        }
        other => other,
    });
    let json_path = dir.join("results.json");
    let opts = Options {
        known_failures: Some(list.clone()),
        update_known_failures: true,
        json: Some(json_path.clone()),
        ..Options::default()
    };
    let dirs = [cases_root().join("pure"), cases_root().join("lambda")];
    assert_eq!(run_cli(&dirs, &runner, &opts).await, 0);
    let text = fs::read_to_string(&list).unwrap();
    assert_eq!(
        text,
        format!("# kept header\n\n{CATCH}  # still failing\n{CONTEXT}  # status: expected SUCCEEDED, got ABORTED\n")
    );
    let results: Value = serde_json::from_str(&fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(results["summary"]["failed"], json!(0));
    assert_eq!(results["summary"]["xfail"], json!(2));
    let case = results["cases"].as_array().unwrap().iter().find(|c| c["key"] == json!(CONTEXT)).unwrap();
    assert_eq!(case["outcome"], json!("xfail"));
    assert_eq!(case["category"], json!("pure"));

    // The rewritten list is accepted as is.
    let opts = Options { known_failures: Some(list.clone()), ..Options::default() };
    let report = run(&dirs, &runner, &opts).await;
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    let _ = fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn skips_timeouts_and_panics() {
    struct Odd;
    impl Runner for Odd {
        fn run<'a>(&'a self, case: &'a Case) -> BoxFuture<'a, Actual> {
            Box::pin(async move {
                if case.key == CHOICE_TRUE {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                if case.key == CHOICE_FALSE {
                    panic!("engine bug");
                }
                Actual::Skipped("no such integration".into())
            })
        }
    }
    let opts = Options { timeout: Duration::from_millis(100), ..Options::default() };
    let dirs = [
        cases_root().join("pure").join(format!("{CHOICE_TRUE}.json")),
        cases_root().join("pure").join(format!("{CHOICE_FALSE}.json")),
        cases_root().join("pure").join(format!("{CONTEXT}.json")),
        cases_root().join("lambda").join(format!("{CATCH}.json")),
    ];
    let report = run(&dirs, &Odd, &opts).await;
    let reasons: Vec<(Outcome, String)> =
        report.results.iter().map(|r| (r.outcome, r.reason.clone().unwrap_or_default())).collect();
    assert_eq!(
        reasons,
        vec![
            (Outcome::Skip, "no such integration".into()),
            (Outcome::Fail, "runner panicked: engine bug".into()),
            (Outcome::Fail, "timed out after 100ms".into()),
            (Outcome::Fail, "skipped, but the case needs no external service (no such integration)".into()),
        ]
    );
    assert_eq!(report.render().lines().last(), Some("0 passed, 3 failed, 1 skipped"));
}

#[tokio::test]
async fn history_differences_are_counted_apart_from_failures() {
    let runner = Replay(|_: &Case, a: Actual| match a {
        Actual::Execution { status, output, error, cause, mut history } => {
            history.pop();
            Actual::Execution { status, output, error, cause, history }
        }
        other => other,
    });
    let report = run(&[cases_root()], &runner, &options(CHOICE_FALSE)).await;
    assert_eq!(report.tally().passed, 1);
    assert_eq!(
        report.results[0].history,
        HistoryCheck::Mismatch(
            "event 5: expected ExecutionFailed, got end of history (5 events expected, 4 recorded)".into()
        )
    );
    assert_eq!(report.history_counts(), (0, 1));
    assert!(report.render().contains("history: 0 of 1 recorded event-type sequences match (1 differ)"));
}

#[tokio::test]
async fn broken_and_duplicate_case_files_fail() {
    let dir = scratch("broken");
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::create_dir_all(dir.join("b")).unwrap();
    fs::write(dir.join("a").join("broken.json"), "{ not json").unwrap();
    fs::write(dir.join("a").join("shape.json"), r#"{"id": "x", "kind": "execution", "expected": {}}"#).unwrap();
    let good = fs::read_to_string(cases_root().join("pure").join(format!("{CONTEXT}.json"))).unwrap();
    fs::write(dir.join("a").join("twice.json"), &good).unwrap();
    fs::write(dir.join("b").join("twice.json"), &good).unwrap();
    let report = run(&[dir.clone(), dir.join("missing")], &faithful(), &Options::default()).await;
    let reasons: Vec<String> = report.results.iter().map(|r| r.reason.clone().unwrap_or_default()).collect();
    assert!(reasons[0].starts_with("invalid case file: "), "{reasons:?}");
    assert_eq!(reasons[1], "invalid case file: execution case without `state_machine`");
    assert_eq!(reasons[2], "");
    assert!(reasons[3].starts_with("duplicate case key (also "), "{reasons:?}");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.tally().failed, 4);
    let _ = fs::remove_dir_all(&dir);
}
