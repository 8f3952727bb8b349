//! `legion run`'s Distributed Map progress: live lines and a summary on a terminal (a pseudo-terminal
//! made by util-linux's `script`), nothing when standard error is not a terminal or with `--quiet`.

use std::path::Path;
use std::process::Command;

const DEFINITION: &str = r#"{"StartAt": "Each", "States": {"Each": {
  "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10, "ToleratedFailurePercentage": 100, "End": true,
  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Work", "States": {
    "Work": {"Type": "Wait", "Seconds": 1, "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 89, "Next": "Too big"}], "Default": "Fine"},
    "Fine": {"Type": "Succeed"},
    "Too big": {"Type": "Fail", "Error": "TooBig"}}}}}}"#;

/// Writes the definition and an input of 200 items, 20 of which fail.
fn files(dir: &Path) -> (String, String) {
    let definition = dir.join("map.asl.json");
    std::fs::write(&definition, DEFINITION).unwrap();
    let items: Vec<String> = (0..200).map(|i| format!(r#"{{"n": {}}}"#, i % 100)).collect();
    let input = dir.join("input.json");
    std::fs::write(&input, format!(r#"{{"items": [{}]}}"#, items.join(","))).unwrap();
    (definition.display().to_string(), input.display().to_string())
}

/// Runs `legion run` on a pseudo-terminal; returns what the terminal showed.
fn on_terminal(dir: &Path, extra: &str) -> String {
    let (definition, input) = files(dir);
    let log = dir.join("terminal.log");
    let command = format!(
        "{} run {definition} --input @{input} --time-scale 0.05 {extra} > {}",
        env!("CARGO_BIN_EXE_legion"),
        dir.join("stdout.json").display()
    );
    let status = Command::new("script")
        .args(["-qec", &command, &log.display().to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("util-linux's script runs a command on a pseudo-terminal");
    assert!(status.success());
    std::fs::read_to_string(&log).unwrap()
}

#[test]
fn a_terminal_shows_live_lines_then_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let screen = on_terminal(dir.path(), "");
    assert!(screen.contains("Map run Each ["), "{screen}");
    let redraws = screen.matches("\r\u{1b}[2K").count();
    assert!(redraws >= 3, "the line is redrawn in place ({redraws} times): {screen}");
    assert!(screen.contains("items/s"), "{screen}");
    let summary = "Map run Each SUCCEEDED: 180 succeeded, 20 failed of 200 items in ";
    assert!(screen.contains(summary), "{screen}");
    let output = std::fs::read_to_string(dir.path().join("stdout.json")).unwrap();
    assert!(output.starts_with('['), "standard output keeps only the result: {output}");
}

#[test]
fn quiet_silences_the_progress() {
    let dir = tempfile::tempdir().unwrap();
    let screen = on_terminal(dir.path(), "--quiet");
    assert!(!screen.contains("Map run"), "{screen}");
}

#[test]
fn nothing_extra_when_standard_error_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (definition, input) = files(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_legion"))
        .args(["run", &definition, "--input", &format!("@{input}"), "--time-scale", "0.05"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.stdout.starts_with(b"["));
}
