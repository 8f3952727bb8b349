//! `legion run --s3-root DIR` carries `aws-sdk:s3` tasks out on the same embedded endpoint its
//! Distributed Maps read from.

use std::process::Command;

#[test]
fn sdk_s3_tasks_use_the_embedded_endpoint() {
    let root = std::env::temp_dir().join(format!("legion-run-s3-tasks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("reports")).expect("a bucket folder");
    let definition = root.join("report.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "Put", "States": {
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                    "Parameters": {"Bucket": "reports", "Key": "daily/summary.txt", "Body.$": "$.text"},
                    "ResultPath": null, "Next": "Get"},
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": "reports", "Key": "daily/summary.txt"},
                    "ResultSelector": {"body.$": "$.Body", "length.$": "$.ContentLength"}, "Next": "Missing"},
            "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": "reports", "Key": "nope"}, "ResultPath": null,
                    "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing", "Next": "Done"}],
                    "Next": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"body.$": "$.body", "length.$": "$.length", "missing.$": "$.missing.Error"}, "End": true}}}"#,
    )
    .expect("the definition is written");
    let o = Command::new(env!("CARGO_BIN_EXE_legion"))
        .arg("run")
        .arg(&definition)
        .args(["--input", r#"{"text": "all systems nominal"}"#, "--s3-root"])
        .arg(&root)
        .output()
        .expect("legion runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // As on AWS, `Body` is written as JSON: a string keeps its quotes (the recorded ETag of a
    // putObject of "text data" is the MD5 of "\"text data\"").
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        r#"{"body":"\"all systems nominal\"","length":21,"missing":"S3.NoSuchKeyException"}"#
    );
    let written = std::fs::read_to_string(root.join("reports/daily/summary.txt")).expect("the object is a file");
    assert_eq!(written, "\"all systems nominal\"");
    let _ = std::fs::remove_dir_all(&root);
}
