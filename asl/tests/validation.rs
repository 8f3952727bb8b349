//! Definition validation: each invalid definition yields exactly AWS's diagnostics, in order.

use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse, parse_str, ParseOptions};
use serde_json::json;

#[track_caller]
fn diagnostics(definition: serde_json::Value) -> Vec<String> {
    match parse(&definition, ParseOptions::default()) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn valid_definitions_have_no_diagnostics() {
    let ok = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "C"}], "Default": "D"},
        "C": {"Type": "Succeed"},
        "D": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "End": true}
    }});
    assert_eq!(diagnostics(ok), Vec::<String>::new());
}

#[test]
fn every_problem_is_reported_with_its_location() {
    let d = diagnostics(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Nxet": "B", "Next": "Missing"},
        "B": {"Type": "Succeed"}
    }}));
    assert_eq!(
        d,
        vec![
            "SCHEMA_VALIDATION_FAILED: Field 'Nxet' is not supported at /States/A",
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Missing at /States/A/Next",
        ]
    );
}

#[test]
fn top_level_shape() {
    assert_eq!(diagnostics(json!([])), vec!["SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object"]);
    assert_eq!(
        diagnostics(json!({"Comment": "x"})),
        vec!["SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /"]
    );
    assert_eq!(
        diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Pause", "End": true}}})),
        vec!["SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/A/Type"]
    );
}

#[test]
fn unreachable_states_and_missing_end() {
    assert_eq!(
        diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}})),
        vec!["MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B"]
    );
    assert_eq!(
        diagnostics(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}})
        ),
        vec!["MISSING_END_STATE: Workflow has no terminal state at null"]
    );
}

#[test]
fn query_language_rules() {
    assert_eq!(
        diagnostics(json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": "$.x", "End": true}}})),
        vec!["SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage at /States/A"]
    );
    assert_eq!(
        diagnostics(json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}})),
        vec!["SCHEMA_VALIDATION_FAILED: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine at /States/A/QueryLanguage"]
    );
}

#[test]
fn field_values() {
    assert_eq!(
        diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "not a path"}, "End": true}}})),
        vec!["SCHEMA_VALIDATION_FAILED: The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call at /States/A/Parameters"]
    );
    assert_eq!(
        diagnostics(
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Timestamp": "2016-13-05T21:29:29Z", "End": true}}})
        ),
        vec!["SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at /States/A/Timestamp"]
    );
    assert_eq!(
        diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [], "End": true}}})),
        vec!["SCHEMA_VALIDATION_FAILED: Value cannot be empty at /States/A/Branches"]
    );
    assert_eq!(
        diagnostics(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t", "End": true}}})),
        vec!["SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath] at /States/A"]
    );
}

#[test]
fn express_restrictions() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": true}}});
    let d = parse(&def, ParseOptions { state_machine_type: StateMachineType::Express }).unwrap_err();
    assert_eq!(
        invalid_definition_message(&d),
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support '.waitForTaskToken' service integration  at /States/A/Resource'"
    );
    assert!(parse(&def, ParseOptions::default()).is_ok());
}

#[test]
fn text_that_is_not_json() {
    let d = parse_str("{\"StartAt\": ", ParseOptions::default()).unwrap_err();
    assert_eq!(d.len(), 1);
    assert!(d[0].to_string().starts_with("INVALID_JSON_DESCRIPTION: "), "{}", d[0]);
}

fn task(resource: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut state = json!({"Type": "Task", "Resource": resource, "End": true});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"StartAt": "T", "States": {"T": state}})
}

#[test]
fn every_documented_optimized_integration_is_accepted() {
    for resource in [
        "arn:aws:states:::elasticmapreduce:createCluster.sync",
        "arn:aws:states:::elasticmapreduce:setClusterTerminationProtection",
        "arn:aws:states:::elasticmapreduce:terminateCluster",
        "arn:aws:states:::sagemaker:createModel",
        "arn:aws:states:::bedrock:createModelCustomizationJob",
        "arn:aws:states:::emr-containers:startJobRun.sync",
        "arn:aws:states:::eks:runJob.sync",
        "arn:aws:states:::codebuild:startBuildBatch.sync",
        "arn:aws:states:::databrew:startJobRun.sync",
        "arn:aws:states:::mediaconvert:createJob.sync",
        "arn:aws:states:::states:startExecution.sync:2",
    ] {
        assert_eq!(diagnostics(task(resource, json!({}))), Vec::<String>::new(), "{resource}");
    }
}

#[test]
fn a_pattern_the_api_does_not_support_is_not_recognised() {
    assert_eq!(
        diagnostics(task("arn:aws:states:::dynamodb:getItem.sync", json!({}))),
        vec!["SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::dynamodb:getItem.sync is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/T/Resource"]
    );
}

#[test]
fn credentials_need_one_role_arn_and_nothing_else() {
    let lambda = "arn:aws:states:::lambda:invoke";
    assert_eq!(
        diagnostics(task(lambda, json!({"Credentials": {"RoleArn": "arn:aws:iam::1:role/r"}}))),
        Vec::<String>::new()
    );
    assert_eq!(diagnostics(task(lambda, json!({"Credentials": {"RoleArn.$": "$.role"}}))), Vec::<String>::new());
    assert_eq!(
        diagnostics(task(lambda, json!({"Credentials": {}}))),
        vec!["SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/T/Credentials"]
    );
    assert_eq!(
        diagnostics(task(lambda, json!({"Credentials": {"RoleArn": "r", "Other": 1}}))),
        vec!["SCHEMA_VALIDATION_FAILED: Field 'Other' is not supported at /States/T/Credentials"]
    );
    assert_eq!(
        diagnostics(task(lambda, json!({"Credentials": {"RoleArn.$": "not a path"}}))),
        vec!["SCHEMA_VALIDATION_FAILED: The value for the field 'RoleArn.$' must be a valid JSONPath or a valid intrinsic function call at /States/T/Credentials"]
    );
    let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda,
        "Credentials": {"RoleArn.$": "$.role"}, "End": true}}});
    assert_eq!(
        diagnostics(jsonata),
        vec![
            "SCHEMA_VALIDATION_FAILED: Field 'RoleArn.$' is not supported at /States/T/Credentials",
            "SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/T/Credentials",
        ]
    );
}

#[test]
fn jayway_path_forms_and_pass_parameter_arrays_are_accepted() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.[0] ",
        "Parameters": [{"a.$": "$.x[0]y"}, 1], "ResultPath": "$.r ", "End": true}}});
    assert_eq!(diagnostics(def), Vec::<String>::new());
    let filter = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"es.$": "$.items[?(@.Lang==es)]"}, "End": true}}});
    assert_eq!(diagnostics(filter), Vec::<String>::new());
    let task_array = task("arn:aws:states:::lambda:invoke", json!({"Parameters": [1]}));
    assert_eq!(
        diagnostics(task_array),
        vec!["SCHEMA_VALIDATION_FAILED: Field should be an object at /States/T/Parameters"]
    );
}
