//! `legion validate` on CloudFormation and SAM templates (YAML with short-form tags, and JSON) and on
//! a definition with `${KEY}` placeholders filled by `--subst`: the files in `tests/templates/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn legion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_legion")).current_dir(repo()).args(args).output().expect("legion runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

#[test]
fn a_sam_template_in_yaml_validates_each_state_machine() {
    let o = legion(&["validate", "server/tests/templates/orders.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "OrderFlow: valid\n\
         Retries: valid\n\
         Callbacks: SCHEMA_VALIDATION_FAILED: Express state machine does not support '.waitForTaskToken' service integration  at /States/Wait/Resource"
    );
    assert_eq!(text(&o.stderr), "");
}

#[test]
fn the_machine_type_can_be_given() {
    let o = legion(&["validate", "server/tests/templates/orders.yaml", "--type", "standard"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert_eq!(text(&o.stdout), "OrderFlow: valid\nRetries: valid\nCallbacks: valid");
}

#[test]
fn a_json_template_applies_definition_substitutions() {
    let o = legion(&["validate", "server/tests/templates/stack.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout), "Greeter: SCHEMA_VALIDATION_FAILED: Field 'Nxet' is not supported at /States/Greet");
}

#[test]
fn placeholders_in_a_definition_are_filled_by_subst() {
    let file = "server/tests/templates/placeholders.asl.json";
    let o = legion(&["validate", file]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).starts_with("INVALID_JSON_DESCRIPTION: "), "{}", text(&o.stdout));
    let worker = "WorkerArn=arn:aws:lambda:us-east-1:123456789012:function:worker";
    let o = legion(&["validate", file, "--subst", worker, "--subst", "Timeout=5"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert_eq!(text(&o.stdout), "valid");
    let o = legion(&["validate", file, "--subst", "Timeout"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("expected KEY=VALUE"), "{}", text(&o.stderr));
}

#[test]
fn unresolved_placeholders_in_a_template_are_named() {
    let dir = std::env::temp_dir().join(format!("legion-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let template = dir.join("template.yaml");
    std::fs::write(
        &template,
        "Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n      DefinitionString: !Sub '{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"Result\":\"${Missing}\",\"End\":true}}}'\n",
    )
    .expect("the template");
    let path = template.to_string_lossy().into_owned();
    let o = legion(&["validate", &path]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), "M: valid");
    assert_eq!(text(&o.stderr), "M: ${Missing} is left as it is (give it a value with --subst Missing=VALUE)");
    let o = legion(&["validate", &path, "--subst", "Missing=here"]);
    assert_eq!(text(&o.stderr), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sam_definition_uri_is_read_beside_the_template() {
    let dir = std::env::temp_dir().join(format!("legion-validate-uri-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("statemachine")).expect("a temporary folder");
    std::fs::write(
        dir.join("statemachine/flow.asl.yaml"),
        "StartAt: Work\nStates:\n  Work:\n    Type: Task\n    Resource: ${WorkerArn}\n    Nxet: Done\n    End: true\n",
    )
    .expect("the definition");
    std::fs::write(
        dir.join("template.yaml"),
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Worker:\n    Type: AWS::Serverless::Function\n  Flow:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      DefinitionUri: statemachine/flow.asl.yaml\n      DefinitionSubstitutions:\n        WorkerArn: !GetAtt Worker.Arn\n",
    )
    .expect("the template");
    let template = dir.join("template.yaml").to_string_lossy().into_owned();
    let o = legion(&["validate", &template]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "Flow: SCHEMA_VALIDATION_FAILED: Field 'Nxet' is not supported at /States/Work");
    assert_eq!(text(&o.stderr), "");
    let _ = std::fs::remove_dir_all(&dir);
}
