//! `legion run` with a Step Functions Local mock configuration: `--mock-config` and `--test-case`,
//! or `SFN_MOCK_CONFIG`.

use std::path::PathBuf;
use std::process::Command;

fn files() -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("legion-run-mocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let mock = dir.join("MockConfigFile.json");
    std::fs::write(
        &mock,
        r#"{"StateMachines": {"orders": {"TestCases": {"HappyPath": {"Charge": "ChargeOk"}, "Declined": {"Charge": "ChargeDeclined"}}}},
            "MockedResponses": {"ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"charged": true}}}},
                                "ChargeDeclined": {"0": {"Throw": {"Error": "PaymentDeclined", "Cause": "card expired"}}}}}"#,
    )
    .expect("the mock file is written");
    let definition = dir.join("orders.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "Charge", "States": {"Charge": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true}}}"#,
    )
    .expect("the definition is written");
    (dir, mock, definition)
}

#[test]
fn mock_flags_pick_the_test_case() {
    let (dir, mock, definition) = files();
    let legion = env!("CARGO_BIN_EXE_legion");
    let ok = Command::new(legion)
        .args(["run", definition.to_str().unwrap_or_default(), "--name", "orders", "--test-case", "HappyPath"])
        .arg("--mock-config")
        .arg(&mock)
        .env_remove("SFN_MOCK_CONFIG")
        .output()
        .expect("legion runs");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), r#"{"charged":true}"#);

    let declined = Command::new(legion)
        .args(["run", definition.to_str().unwrap_or_default(), "--name", "orders", "--test-case", "Declined"])
        .env("SFN_MOCK_CONFIG", &mock)
        .output()
        .expect("legion runs");
    assert_eq!(declined.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&declined.stderr).expect("the failure report is JSON on standard error");
    assert_eq!(report["error"], "PaymentDeclined");
    assert_eq!(report["cause"], "card expired");
    let _ = std::fs::remove_dir_all(dir);
}
