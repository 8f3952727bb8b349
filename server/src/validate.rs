//! `legion validate`: a definition file (JSON or YAML, `${KEY}` placeholders filled by `--subst`), or
//! every state machine of a CloudFormation or SAM template.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_server::cfn::{self, TemplateMachine};

/// Validates `file` and prints what it finds; exits 1 when a definition is invalid.
pub fn run(
    file: &Path,
    text: &str,
    machine_type: Option<StateMachineType>,
    substitutions: &[(String, String)],
) -> anyhow::Result<ExitCode> {
    if let Ok(document) = cfn::read_document(text) {
        if cfn::is_template(&document) {
            let base = file.parent().unwrap_or(Path::new("."));
            return template(&cfn::state_machines(&document, base, substitutions), machine_type);
        }
    }
    let text = cfn::substitute(text, substitutions);
    let body = text.trim_start_matches('\u{feff}').trim_start();
    let json = if body.starts_with(['{', '[']) || body.is_empty() {
        text.clone()
    } else {
        let document = cfn::read_document(&text).with_context(|| format!("cannot read {}", file.display()))?;
        document.to_string()
    };
    let lines = diagnostics(&json, machine_type.unwrap_or_default());
    let valid = lines.is_empty();
    for line in lines {
        println!("{line}");
    }
    if valid {
        println!("valid");
        return Ok(ExitCode::SUCCESS);
    }
    Ok(ExitCode::from(1))
}

/// Every diagnostic of a definition, one line each (none when it is valid).
fn diagnostics(json: &str, machine_type: StateMachineType) -> Vec<String> {
    match parse_str(json, ParseOptions { state_machine_type: machine_type }) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.iter().map(ToString::to_string).collect(),
    }
}

/// The state machines of a template, each line prefixed with the resource's logical id.
fn template(machines: &[TemplateMachine], machine_type: Option<StateMachineType>) -> anyhow::Result<ExitCode> {
    if machines.is_empty() {
        anyhow::bail!("the template has no AWS::StepFunctions::StateMachine or AWS::Serverless::StateMachine");
    }
    let mut invalid = false;
    for machine in machines {
        let id = &machine.logical_id;
        let text = match &machine.definition {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{id}: not checked: {e}");
                continue;
            }
        };
        for name in &machine.unresolved {
            eprintln!("{id}: ${{{name}}} is left as it is (give it a value with --subst {name}=VALUE)");
        }
        let lines = diagnostics(text, machine_type.unwrap_or(machine.machine_type));
        if lines.is_empty() {
            println!("{id}: valid");
        }
        for line in &lines {
            println!("{id}: {line}");
        }
        invalid |= !lines.is_empty();
    }
    Ok(if invalid { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
