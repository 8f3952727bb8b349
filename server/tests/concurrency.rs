//! 1000 concurrent StartExecution calls through the SDK on a real socket: every one succeeds, and every
//! execution is then listed once and described correctly.

mod common;

use std::collections::HashSet;

use aws_sdk_sfn::types::ExecutionStatus;
use common::{client, create_machine, start, wait_until_done};
use legion_engine::LocalHandlers;
use serde_json::{json, Value};

const CALLS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_starts_all_succeed_and_are_listed() {
    let server = start(LocalHandlers::new()).await;
    let sfn = client(&server);
    let definition =
        r#"{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "End": true}}}"#;
    let machine = create_machine(&sfn, "small", definition, false).await;

    let mut calls = tokio::task::JoinSet::new();
    for n in 0..CALLS {
        let (sfn, machine) = (sfn.clone(), machine.clone());
        calls.spawn(async move {
            let out = sfn
                .start_execution()
                .state_machine_arn(machine)
                .name(format!("run-{n}"))
                .input(json!({"n": n}).to_string())
                .send()
                .await;
            (n, out)
        });
    }
    let mut started = Vec::with_capacity(CALLS);
    while let Some(joined) = calls.join_next().await {
        let (n, out) = joined.expect("the call task does not panic");
        let out = out.unwrap_or_else(|e| panic!("StartExecution {n} failed: {e:?}"));
        assert!(out.execution_arn.ends_with(&format!(":run-{n}")));
        started.push((n, out.execution_arn));
    }
    assert_eq!(started.len(), CALLS);

    for (n, arn) in &started {
        let d = wait_until_done(&sfn, arn, 500).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{arn}");
        assert_eq!(d.name.as_deref(), Some(format!("run-{n}").as_str()));
        let output: Value = serde_json::from_str(d.output.as_deref().expect("an output")).expect("JSON");
        assert_eq!(output, json!({"n": n}));
        let input: Value = serde_json::from_str(d.input.as_deref().expect("an input")).expect("JSON");
        assert_eq!(input, json!({"n": n}));
    }

    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("ListExecutions succeeds");
        assert!(page.executions.len() <= 100);
        listed.extend(page.executions.into_iter().map(|e| (e.execution_arn, e.status)));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(listed.len(), CALLS, "every execution is listed exactly once");
    let unique: HashSet<&String> = listed.iter().map(|(arn, _)| arn).collect();
    assert_eq!(unique.len(), CALLS);
    let expected: HashSet<&String> = started.iter().map(|(_, arn)| arn).collect();
    assert_eq!(unique, expected);
    assert!(listed.iter().all(|(_, s)| *s == ExecutionStatus::Succeeded));
}
