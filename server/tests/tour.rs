//! The README's five-minute tour, command by command, on the files in `examples/tour/`: what the
//! README shows is what `legion` prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn legion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_legion"))
        .current_dir(repo())
        .args(args)
        .env_remove("SFN_MOCK_CONFIG")
        .output()
        .expect("legion runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// `legion run` of the tour's order workflow with the mock test case `case`.
fn mocked(case: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "examples/tour/order.asl.json",
        "--name",
        "Orders",
        "--mock-config",
        "examples/tour/MockConfigFile.json",
        "--test-case",
        case,
        "--time-scale",
        "0",
    ];
    args.extend_from_slice(extra);
    legion(&args)
}

#[test]
fn validate_reports_every_problem_with_its_path() {
    let o = legion(&["validate", "examples/tour/broken.asl.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "SCHEMA_VALIDATION_FAILED: Field 'Nxet' is not supported at /States/Start\n\
         SCHEMA_VALIDATION_FAILED: These fields are required: [Next, End] at /States/Start\n\
         MISSING_TRANSITION_TARGET: Missing 'Next' target: Finsh at /States/Wait/Next\n\
         SCHEMA_VALIDATION_FAILED: Field 'Seconds' should be a number at /States/Wait/Seconds"
    );
}

#[test]
fn run_with_time_scale_zero_skips_the_wait() {
    let o = legion(&["run", "examples/tour/hello.asl.json", "--input", r#"{"name": "world"}"#, "--time-scale", "0"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), r#"{"greeting":"Hello, world!","name":"world","closing":"Greetings to all of you."}"#);
}

#[test]
fn distributed_map_over_a_local_folder() {
    let o = legion(&["run", "examples/tour/logs.asl.json", "--s3-root", "examples/tour/data"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), r#"{"files":3,"bytes":165,"largest":"2026/11/22.log"}"#);
}

#[test]
fn mocked_test_cases() {
    let case = |name: &str| mocked(name, &[]);
    for ok in ["HappyPath", "Throttled"] {
        let o = case(ok);
        assert!(o.status.success(), "{ok}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(stdout(&o), r#"{"charged":true,"amountCents":4200}"#, "{ok}");
    }
    let o = case("Declined");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        r#"{"status":"FAILED","error":"OrderDeclined","cause":"The card was declined."}"#
    );
}

#[test]
fn history_shows_the_throttled_attempts() {
    let o = mocked("Throttled", &["--history"]);
    assert!(o.status.success());
    let history: serde_json::Value = serde_json::from_slice(&o.stderr).expect("the history is JSON");
    let failed = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| {
            e["type"] == "TaskFailed" && e["taskFailedEventDetails"]["error"] == "Lambda.TooManyRequestsException"
        })
        .count();
    assert_eq!(failed, 2, "two throttled attempts before the charge goes through");
}
