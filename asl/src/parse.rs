//! Parsing and validation: definition JSON in, a [`StateMachine`] or every diagnostic out.
//!
//! Validation never stops at the first problem: it walks the whole definition and reports each
//! problem with AWS's code, wording and location (`/States/A/Next`).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::choice::Condition;
use crate::diagnostic::{Code, Diagnostic};
use crate::integrations::{self, Pattern};
use crate::model::*;
use crate::path::{is_variable_name, Path};
use crate::template::Template;

/// Options that change what a definition may contain.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Express machines may not use `.sync`, `.waitForTaskToken` or activities.
    pub state_machine_type: StateMachineType,
}

/// Parses definition text. On failure, returns every diagnostic found.
pub fn parse_str(text: &str, options: ParseOptions) -> Result<StateMachine, Vec<Diagnostic>> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => parse(&value, options).map(|mut machine| {
            machine.source = Some(text.into());
            machine
        }),
        Err(e) => Err(vec![Diagnostic::new(
            Code::InvalidJsonDescription,
            format!("{e}"),
            format!("[Source: (String)\"{}\"; line: {}, column: {}]", abbreviate(text), e.line(), e.column()),
        )]),
    }
}

fn abbreviate(text: &str) -> String {
    let mut s: String = text.chars().take(500).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

/// Parses a definition already read as JSON. On failure, returns every diagnostic found.
pub fn parse(definition: &Value, options: ParseOptions) -> Result<StateMachine, Vec<Diagnostic>> {
    let mut p =
        Parser { diags: Vec::new(), options, all_names: HashSet::new(), root_language: QueryLanguage::JsonPath };
    let machine = p.machine(definition);
    if p.diags.is_empty() {
        machine.ok_or_else(|| vec![Diagnostic::schema("Definition must be a valid JSON object", "")])
    } else {
        Err(p.diags)
    }
}

struct Parser {
    diags: Vec<Diagnostic>,
    options: ParseOptions,
    all_names: HashSet<String>,
    root_language: QueryLanguage,
}

const STATE_TYPES: &str = "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]";

/// Fields each state type accepts (in either language).
fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Next",
            "End",
            "Assign",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "Result",
            "Output",
        ],
        "Task" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Next",
            "End",
            "Assign",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Output",
            "Arguments",
            "Resource",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        "Choice" => {
            &["Type", "Comment", "QueryLanguage", "Choices", "Default", "InputPath", "OutputPath", "Assign", "Output"]
        }
        "Wait" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Next",
            "End",
            "Assign",
            "InputPath",
            "OutputPath",
            "Output",
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
        ],
        "Succeed" => &["Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Output"],
        "Fail" => &["Type", "Comment", "QueryLanguage", "Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Next",
            "End",
            "Assign",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Output",
            "Arguments",
            "Branches",
            "Retry",
            "Catch",
        ],
        "Map" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Next",
            "End",
            "Assign",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "ResultSelector",
            "Output",
            "ItemsPath",
            "Items",
            "ItemSelector",
            "ItemProcessor",
            "Iterator",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "Label",
            "Retry",
            "Catch",
        ],
        _ => &[],
    }
}

/// Fields only JSONPath states may use.
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultPath",
    "ResultSelector",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
/// Fields only JSONata states may use.
const JSONATA_ONLY: &[&str] = &["Output", "Arguments", "Items"];

impl Parser {
    fn err(&mut self, message: impl Into<String>, location: impl Into<String>) {
        self.diags.push(Diagnostic::schema(message, location));
    }

    fn machine(&mut self, def: &Value) -> Option<StateMachine> {
        let Some(obj) = def.as_object() else {
            self.err("Definition must be a valid JSON object", "");
            return None;
        };
        for key in obj.keys() {
            if !["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"].contains(&key.as_str()) {
                self.err(format!("Field '{key}' is not supported"), "/");
            }
        }
        let query_language = match obj.get("QueryLanguage") {
            None => QueryLanguage::JsonPath,
            Some(v) => self.query_language(v, "/QueryLanguage"),
        };
        self.root_language = query_language;
        let timeout_seconds = obj.get("TimeoutSeconds").and_then(|v| self.positive_int(v, "/TimeoutSeconds"));
        if let Some(v) = obj.get("Comment") {
            if !v.is_string() {
                self.err("Field 'Comment' should be a string", "/Comment");
            }
        }
        let program = self.program(obj, "", query_language)?;
        let comment = obj.get("Comment").and_then(Value::as_str).map(str::to_owned);
        Some(StateMachine {
            comment,
            query_language,
            timeout_seconds,
            program,
            reads_context: reads_context(def),
            source: None,
        })
    }

    fn query_language(&mut self, v: &Value, location: &str) -> QueryLanguage {
        match v.as_str() {
            Some("JSONPath") => QueryLanguage::JsonPath,
            Some("JSONata") => QueryLanguage::Jsonata,
            _ => {
                self.err("The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]", location);
                QueryLanguage::Jsonata
            }
        }
    }

    /// Parses `StartAt` + `States` at `base` (`""` for the top level, `/States/M/ItemProcessor`…).
    fn program(&mut self, obj: &Map<String, Value>, base: &str, language: QueryLanguage) -> Option<Program> {
        let loc = if base.is_empty() { "/".to_owned() } else { base.to_owned() };
        let (start_at, states) = match (obj.get("StartAt"), obj.get("States")) {
            (Some(s), Some(st)) => (s, st),
            (s, st) => {
                let mut missing = Vec::new();
                if st.is_none() {
                    missing.push("States");
                }
                if s.is_none() {
                    missing.push("StartAt");
                }
                self.err(format!("These fields are required: [{}]", missing.join(", ")), loc);
                return None;
            }
        };
        let Some(start_at) = start_at.as_str() else {
            self.err("Field 'StartAt' should be a string", format!("{base}/StartAt"));
            return None;
        };
        let Some(states) = states.as_object() else {
            self.err("Field 'States' should be an object", format!("{base}/States"));
            return None;
        };
        if states.is_empty() {
            self.err("Value cannot be empty", format!("{base}/States"));
            return None;
        }
        let names: HashMap<&str, StateId> = states.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        for name in states.keys() {
            if !self.all_names.insert(name.clone()) {
                self.diags.push(Diagnostic::new(
                    Code::DuplicateStateName,
                    format!("Duplicate State name: {name}"),
                    format!("{base}/States/{name}"),
                ));
            }
            if name.chars().count() > 80 {
                self.err("State name is too long (maximum is 80 characters)", format!("{base}/States/{name}"));
            }
        }
        let start = match names.get(start_at) {
            Some(i) => *i,
            None => {
                self.diags.push(Diagnostic::new(
                    Code::MissingTransitionTarget,
                    format!("Missing 'Next' target: {start_at}"),
                    format!("{base}/StartAt"),
                ));
                0
            }
        };
        let mut parsed = Vec::with_capacity(states.len());
        for (name, state) in states {
            let location = format!("{base}/States/{name}");
            if let Some(s) = self.state(name, state, &location, language, &names) {
                parsed.push(s);
            }
        }
        if parsed.len() != states.len() {
            return None;
        }
        let program = Program { start_at: start, states: parsed };
        self.check_graph(&program, base);
        Some(program)
    }

    /// Reachability and the existence of a terminal state.
    fn check_graph(&mut self, program: &Program, base: &str) {
        let mut seen = vec![false; program.states.len()];
        let mut stack = vec![program.start_at];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let state = &program.states[i];
            if let Transition::Next(n) = state.transition {
                stack.push(n);
            }
            if let StateKind::Choice(c) = &state.kind {
                stack.extend(c.rules.iter().map(|r| r.next));
                stack.extend(c.default);
            }
            stack.extend(state.catch.iter().map(|c| c.next));
        }
        let terminal = program.states.iter().any(|s| {
            matches!(s.transition, Transition::End) || matches!(s.kind, StateKind::Succeed | StateKind::Fail(_))
        });
        if !terminal {
            // AWS reports no location here (its message ends "at null") and skips the reachability check.
            self.diags.push(Diagnostic::new(Code::MissingEndState, "Workflow has no terminal state", "null"));
            return;
        }
        for (i, reached) in seen.iter().enumerate() {
            if !reached {
                let name = &program.states[i].name;
                self.diags.push(Diagnostic::new(
                    Code::MissingTransitionTarget,
                    format!("State \"{name}\" is not reachable."),
                    format!("{base}/States/{name}"),
                ));
            }
        }
    }

    fn target(&mut self, names: &HashMap<&str, StateId>, v: &Value, location: String) -> Option<StateId> {
        let Some(name) = v.as_str() else {
            self.err("Field should be a string", location);
            return None;
        };
        match names.get(name) {
            Some(i) => Some(*i),
            None => {
                self.diags.push(Diagnostic::new(
                    Code::MissingTransitionTarget,
                    format!("Missing 'Next' target: {name}"),
                    location,
                ));
                None
            }
        }
    }

    fn state(
        &mut self,
        name: &str,
        v: &Value,
        loc: &str,
        inherited: QueryLanguage,
        names: &HashMap<&str, StateId>,
    ) -> Option<State> {
        let Some(obj) = v.as_object() else {
            self.err("State must be a JSON object", loc);
            return None;
        };
        let ty = match obj.get("Type").and_then(Value::as_str) {
            Some(t) if allowed_fields(t).contains(&"Type") => t,
            Some(_) => {
                self.err(
                    format!("The field 'Type' should have one of these values: {STATE_TYPES}"),
                    format!("{loc}/Type"),
                );
                return None;
            }
            None => {
                self.err("These fields are required: [Type]", loc);
                return None;
            }
        };
        let language = match obj.get("QueryLanguage") {
            None => inherited,
            Some(v) => {
                let l = self.query_language(v, &format!("{loc}/QueryLanguage"));
                if l == QueryLanguage::JsonPath && self.root_language == QueryLanguage::Jsonata {
                    self.err(
                        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                        format!("{loc}/QueryLanguage"),
                    );
                }
                l
            }
        };
        let allowed = allowed_fields(ty);
        let mut ok = true;
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.err(format!("Field '{key}' is not supported"), loc);
                ok = false;
            } else if language == QueryLanguage::Jsonata && JSONPATH_ONLY.contains(&key.as_str()) {
                self.err(
                    format!(
                        "The QueryLanguage is set to 'JSONata', but field '{key}' is only supported for the 'JSONPath' QueryLanguage"
                    ),
                    loc,
                );
                ok = false;
            } else if language == QueryLanguage::JsonPath && JSONATA_ONLY.contains(&key.as_str()) {
                self.err(
                    format!(
                        "The QueryLanguage is set to 'JSONPath', but field '{key}' is only supported for the 'JSONata' QueryLanguage"
                    ),
                    loc,
                );
                ok = false;
            }
        }
        let transition = self.transition(ty, obj, loc, names);
        let io = self.io(ty, obj, loc, language);
        let assign = obj.get("Assign").map(|a| self.assign(a, &format!("{loc}/Assign"), language));
        let (retry, catch) = if ["Task", "Parallel", "Map"].contains(&ty) {
            (self.retriers(obj.get("Retry"), loc), self.catchers(obj.get("Catch"), loc, language, names))
        } else {
            (Vec::new(), Vec::new())
        };
        let kind = match ty {
            "Pass" => Some(StateKind::Pass { result: obj.get("Result").cloned() }),
            "Task" => self.task(obj, loc, language).map(StateKind::Task),
            "Choice" => self.choice(obj, loc, language, names).map(StateKind::Choice),
            "Wait" => self.wait(obj, loc, language).map(StateKind::Wait),
            "Succeed" => Some(StateKind::Succeed),
            "Fail" => Some(StateKind::Fail(self.fail(obj, loc, language))),
            "Parallel" => self.parallel(obj, loc).map(StateKind::Parallel),
            "Map" => self.map(obj, loc, language).map(|m| StateKind::Map(Box::new(m))),
            _ => None,
        }?;
        ok.then(|| State {
            name: name.into(),
            query_language: language,
            kind,
            io,
            assign,
            transition: transition.unwrap_or(Transition::End),
            retry,
            catch,
        })
    }

    fn transition(
        &mut self,
        ty: &str,
        obj: &Map<String, Value>,
        loc: &str,
        names: &HashMap<&str, StateId>,
    ) -> Option<Transition> {
        if matches!(ty, "Choice" | "Succeed" | "Fail") {
            return Some(Transition::None);
        }
        match (obj.get("Next"), obj.get("End")) {
            (Some(_), Some(Value::Bool(true))) => {
                self.err("There should only be one of the following fields: [Next, End]", loc);
                None
            }
            (Some(next), _) => self.target(names, next, format!("{loc}/Next")).map(Transition::Next),
            (None, Some(Value::Bool(true))) => Some(Transition::End),
            (None, Some(_)) => {
                self.err("Field 'End' should be true", format!("{loc}/End"));
                None
            }
            (None, None) => {
                self.err("These fields are required: [Next, End]", loc);
                None
            }
        }
    }

    fn path_field(&mut self, obj: &Map<String, Value>, key: &str, loc: &str, reference: bool) -> PathField {
        match obj.get(key) {
            None => PathField::Default,
            Some(Value::Null) => PathField::Null,
            Some(Value::String(s)) => {
                let parsed = if reference { Path::parse_reference(s) } else { Path::parse(s) };
                match parsed {
                    Ok(p) => PathField::Path(p),
                    Err(_) => {
                        let what = if reference { "Reference Path" } else { "JSONPath" };
                        self.err(format!("Value is not a {what}"), format!("{loc}/{key}"));
                        PathField::Default
                    }
                }
            }
            Some(_) => {
                self.err(format!("Field '{key}' should be a string"), format!("{loc}/{key}"));
                PathField::Default
            }
        }
    }

    fn io(&mut self, ty: &str, obj: &Map<String, Value>, loc: &str, language: QueryLanguage) -> Io {
        let mut io = Io::default();
        if language == QueryLanguage::Jsonata {
            io.output = obj.get("Output").map(|v| self.jsonata(v, "Output", loc));
            io.parameters = obj.get("Arguments").map(|v| self.jsonata(v, "Arguments", loc));
            return io;
        }
        io.input_path = self.path_field(obj, "InputPath", loc, false);
        io.output_path = self.path_field(obj, "OutputPath", loc, false);
        io.result_path = self.path_field(obj, "ResultPath", loc, true);
        if let PathField::Path(p) = &io.result_path {
            if !matches!(p.root(), crate::path::Root::Data) {
                self.err("Value is not a Reference Path", format!("{loc}/ResultPath"));
            }
        }
        if ty != "Map" {
            io.parameters = obj.get("Parameters").map(|v| match v {
                // AWS accepts an array as a Pass state's Parameters (the specification says object):
                // each element is a payload template.
                Value::Array(_) if ty == "Pass" => Template::jsonpath(v, &format!("{loc}/Parameters"), &mut self.diags),
                _ => self.payload(v, &format!("{loc}/Parameters")),
            });
        }
        io.result_selector = obj.get("ResultSelector").map(|v| self.payload(v, &format!("{loc}/ResultSelector")));
        io
    }

    fn payload(&mut self, v: &Value, location: &str) -> Template {
        if !v.is_object() {
            self.err("Field should be an object", location);
        }
        Template::jsonpath(v, location, &mut self.diags)
    }

    fn jsonata(&mut self, v: &Value, field: &str, loc: &str) -> Template {
        Template::jsonata(v, field, &format!("{loc}/{field}"), &mut self.diags)
    }

    fn assign(&mut self, v: &Value, location: &str, language: QueryLanguage) -> Template {
        let Some(obj) = v.as_object() else {
            self.err("Field 'Assign' should be an object", location);
            return Template::Literal(Value::Null);
        };
        for key in obj.keys() {
            let name = key.strip_suffix(".$").filter(|_| language == QueryLanguage::JsonPath).unwrap_or(key);
            if !is_variable_name(name) || name == "states" || name.chars().count() > 80 {
                self.err(format!("The variable name '{name}' is invalid"), location);
            }
        }
        match language {
            QueryLanguage::JsonPath => Template::jsonpath(v, location, &mut self.diags),
            QueryLanguage::Jsonata => Template::jsonata(v, "Assign", location, &mut self.diags),
        }
    }

    fn positive_int(&mut self, v: &Value, location: &str) -> Option<u64> {
        match v.as_u64() {
            Some(n) if (1..=99_999_999).contains(&n) => Some(n),
            Some(0) => {
                self.err("Minimum value is 1", location);
                None
            }
            Some(_) => {
                self.err("Maximum value is 99999999", location);
                None
            }
            None => {
                self.err("Field should be a positive integer", location);
                None
            }
        }
    }

    /// A numeric field with optional `…Path` twin, or a JSONata expression in the base field.
    fn number_field(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        loc: &str,
        language: QueryLanguage,
        range: (f64, f64),
    ) -> Option<NumberField> {
        let path_key = format!("{key}Path");
        match (obj.get(key), obj.get(&path_key)) {
            (Some(_), Some(_)) => {
                self.err(format!("There should only be one of the following fields: [{key}, {path_key}]"), loc);
                None
            }
            (Some(Value::String(s)), None) if language == QueryLanguage::Jsonata => Some(NumberField::Expr(
                Template::jsonata(&Value::String(s.clone()), key, &format!("{loc}/{key}"), &mut self.diags),
            )),
            (Some(v), None) => match v.as_f64() {
                Some(n) if n < range.0 => {
                    self.err(format!("Minimum value is {}", fmt_num(range.0)), format!("{loc}/{key}"));
                    None
                }
                Some(n) if n > range.1 => {
                    self.err(format!("Maximum value is {}", fmt_num(range.1)), format!("{loc}/{key}"));
                    None
                }
                Some(n) => Some(NumberField::Literal(n)),
                None => {
                    self.err(format!("Field '{key}' should be a number"), format!("{loc}/{key}"));
                    None
                }
            },
            (None, Some(v)) => match v.as_str().map(Path::parse_reference) {
                Some(Ok(p)) if !matches!(p.root(), crate::path::Root::Context) => Some(NumberField::Path(p)),
                _ => {
                    self.err("Value is not a Reference Path", format!("{loc}/{path_key}"));
                    None
                }
            },
            (None, None) => None,
        }
    }

    fn task(&mut self, obj: &Map<String, Value>, loc: &str, language: QueryLanguage) -> Option<Task> {
        let Some(resource) = obj.get("Resource").and_then(Value::as_str) else {
            self.err("These fields are required: [Resource]", loc);
            return None;
        };
        self.check_resource(resource, &format!("{loc}/Resource"));
        let timeout_seconds = self.number_field(obj, "TimeoutSeconds", loc, language, (1.0, 99_999_999.0));
        let heartbeat_seconds = self.number_field(obj, "HeartbeatSeconds", loc, language, (1.0, 99_999_999.0));
        if let (Some(NumberField::Literal(t)), Some(NumberField::Literal(h))) = (&timeout_seconds, &heartbeat_seconds) {
            if h >= t {
                self.err("HeartbeatSeconds must be smaller than TimeoutSeconds", format!("{loc}/HeartbeatSeconds"));
            }
        }
        let credentials = obj.get("Credentials").map(|c| self.credentials(c, &format!("{loc}/Credentials"), language));
        let (kind, pattern) = (ResourceKind::of(resource), crate::integrations::Pattern::of_resource(resource));
        Some(Task { resource: resource.into(), kind, pattern, timeout_seconds, heartbeat_seconds, credentials })
    }

    /// A Task's `Credentials`: an object with `RoleArn` (a string, or a JSONata expression) or, in
    /// JSONPath, `RoleArn.$` (a path or an intrinsic), and nothing else.
    fn credentials(&mut self, c: &Value, location: &str, language: QueryLanguage) -> Template {
        let Some(obj) = c.as_object() else {
            // The wording follows AWS's other type checks; AWS's own for this field is not confirmed.
            self.err("Field 'Credentials' should be an object", location);
            return Template::Literal(Value::Null);
        };
        let keys: &[&str] = match language {
            QueryLanguage::JsonPath => &["RoleArn", "RoleArn.$"],
            QueryLanguage::Jsonata => &["RoleArn"],
        };
        for key in obj.keys().filter(|k| !keys.contains(&k.as_str())) {
            self.err(format!("Field '{key}' is not supported"), location);
        }
        match keys.iter().filter(|k| obj.contains_key(**k)).count() {
            0 => self.err("The field 'RoleArn' is required but was missing", location),
            1 => {}
            _ => self.err("There should only be one of the following fields: [RoleArn, RoleArn.$]", location),
        }
        if obj.get("RoleArn").is_some_and(|r| !r.is_string()) {
            self.err("Field 'RoleArn' should be a string", format!("{location}/RoleArn"));
        }
        match language {
            QueryLanguage::JsonPath => Template::jsonpath(c, location, &mut self.diags),
            QueryLanguage::Jsonata => Template::jsonata(c, "Credentials", location, &mut self.diags),
        }
    }

    fn check_resource(&mut self, resource: &str, location: &str) {
        let express = self.options.state_machine_type == StateMachineType::Express;
        if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
            let (_, pattern) = integrations::split_pattern(rest);
            if express {
                // AWS's message for '.waitForTaskToken' ends with a space, so that its diagnostic reads
                // "service integration  at /States/…" (two spaces); the '.sync' one does not.
                let message = match pattern {
                    Some(Pattern::WaitForTaskToken) => {
                        Some("Express state machine does not support '.waitForTaskToken' service integration ")
                    }
                    Some(Pattern::Sync | Pattern::Sync2) => {
                        Some("Express state machine does not support '.sync' service integration")
                    }
                    _ => None,
                };
                if let Some(message) = message {
                    self.err(message, location);
                }
            }
            if !integrations::is_recognised(rest) {
                self.err(
                    format!(
                        "The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
                    ),
                    location,
                );
            }
        } else if resource.contains(":activity:") && express {
            self.err("Express state machine does not support Activity ARN", location);
        }
    }

    fn choice(
        &mut self,
        obj: &Map<String, Value>,
        loc: &str,
        language: QueryLanguage,
        names: &HashMap<&str, StateId>,
    ) -> Option<Choice> {
        let Some(rules) = obj.get("Choices").and_then(Value::as_array) else {
            self.err("These fields are required: [Choices]", loc);
            return None;
        };
        if rules.is_empty() {
            self.err("Value cannot be empty", format!("{loc}/Choices"));
            return None;
        }
        let mut parsed = Vec::with_capacity(rules.len());
        let mut ok = true;
        for (i, rule) in rules.iter().enumerate() {
            let rloc = format!("{loc}/Choices[{i}]");
            let Some(robj) = rule.as_object() else {
                self.err("Choice rule must be an object", rloc);
                ok = false;
                continue;
            };
            let next = match robj.get("Next") {
                Some(n) => self.target(names, n, format!("{rloc}/Next")),
                None => {
                    self.err("These fields are required: [Next]", &rloc);
                    None
                }
            };
            let condition = match language {
                QueryLanguage::Jsonata => {
                    for key in robj.keys() {
                        if !["Condition", "Next", "Assign", "Output", "Comment"].contains(&key.as_str()) {
                            self.err(format!("Field '{key}' is not supported"), &rloc);
                        }
                    }
                    match robj.get("Condition") {
                        Some(c) => Some(ChoiceCondition::Jsonata(Template::jsonata(
                            c,
                            "Condition",
                            &format!("{rloc}/Condition"),
                            &mut self.diags,
                        ))),
                        None => {
                            self.err("These fields are required: [Condition]", &rloc);
                            None
                        }
                    }
                }
                QueryLanguage::JsonPath => {
                    Condition::parse(rule, &rloc, true, &mut self.diags).map(ChoiceCondition::JsonPath)
                }
            };
            let assign = robj.get("Assign").map(|a| self.assign(a, &format!("{rloc}/Assign"), language));
            let output =
                robj.get("Output").map(|o| Template::jsonata(o, "Output", &format!("{rloc}/Output"), &mut self.diags));
            match (condition, next) {
                (Some(condition), Some(next)) => parsed.push(ChoiceRule { condition, next, assign, output }),
                _ => ok = false,
            }
        }
        let default = obj.get("Default").and_then(|d| self.target(names, d, format!("{loc}/Default")));
        ok.then_some(Choice { rules: parsed, default })
    }

    fn wait(&mut self, obj: &Map<String, Value>, loc: &str, language: QueryLanguage) -> Option<Wait> {
        let present: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        if present.len() != 1 {
            self.err(
                "There should only be one of the following fields: [Seconds, Timestamp, SecondsPath, TimestampPath]",
                loc,
            );
            return None;
        }
        let key = present[0];
        let v = &obj[key];
        let location = format!("{loc}/{key}");
        match key {
            "Seconds" => self.number_field(obj, "Seconds", loc, language, (0.0, 99_999_999.0)).map(Wait::Seconds),
            "Timestamp" => match v.as_str() {
                Some(s) if language == QueryLanguage::Jsonata && crate::jsonata::strip_delimiters(s).is_some() => {
                    Some(Wait::TimestampExpr(Template::jsonata(v, "Timestamp", &location, &mut self.diags)))
                }
                Some(s) if crate::timestamp::parse(s).is_some() => Some(Wait::Timestamp(s.to_owned())),
                _ => {
                    self.err("String does not match RFC3339 timestamp", location);
                    None
                }
            },
            _ => match v.as_str().map(Path::parse_reference) {
                Some(Ok(p)) => Some(if key == "SecondsPath" { Wait::SecondsPath(p) } else { Wait::TimestampPath(p) }),
                _ => {
                    self.err("Value is not a Reference Path", location);
                    None
                }
            },
        }
    }

    fn fail(&mut self, obj: &Map<String, Value>, loc: &str, language: QueryLanguage) -> Fail {
        let field = |p: &mut Parser, key: &str| -> Option<StringField> {
            let path_key = format!("{key}Path");
            match (obj.get(key), obj.get(&path_key)) {
                (Some(_), Some(_)) => {
                    p.err(format!("There should only be one of the following fields: [{key}, {path_key}]"), loc);
                    None
                }
                (Some(Value::String(s)), None) => {
                    if language == QueryLanguage::Jsonata && crate::jsonata::strip_delimiters(s).is_some() {
                        Some(StringField::Expr(Template::jsonata(
                            &Value::String(s.clone()),
                            key,
                            &format!("{loc}/{key}"),
                            &mut p.diags,
                        )))
                    } else {
                        Some(StringField::Literal(s.clone()))
                    }
                }
                (Some(_), None) => {
                    p.err(format!("Field '{key}' should be a string"), format!("{loc}/{key}"));
                    None
                }
                (None, Some(v)) => {
                    let mut one = Map::new();
                    one.insert(format!("{path_key}.$"), v.clone());
                    match Template::jsonpath(&Value::Object(one), &format!("{loc}/{path_key}"), &mut p.diags) {
                        Template::Object(mut members) if members.len() == 1 => {
                            let (_, mut t) = members.remove(0);
                            if let Template::Path { field, .. } = &mut t {
                                *field = path_key.clone();
                            }
                            Some(StringField::Path(t))
                        }
                        _ => None,
                    }
                }
                (None, None) => None,
            }
        };
        let error = field(self, "Error");
        let cause = field(self, "Cause");
        Fail { error, cause }
    }

    fn parallel(&mut self, obj: &Map<String, Value>, loc: &str) -> Option<Parallel> {
        let Some(branches) = obj.get("Branches").and_then(Value::as_array) else {
            self.err("These fields are required: [Branches]", loc);
            return None;
        };
        if branches.is_empty() {
            self.err("Value cannot be empty", format!("{loc}/Branches"));
            return None;
        }
        let mut out = Vec::with_capacity(branches.len());
        for (i, b) in branches.iter().enumerate() {
            let bloc = format!("{loc}/Branches[{i}]");
            let Some(bobj) = b.as_object() else {
                self.err("Branch must be an object", bloc);
                return None;
            };
            self.nested_fields(bobj, &bloc, &["StartAt", "States", "Comment"]);
            out.push(self.program(bobj, &bloc, self.root_language)?);
        }
        Some(Parallel { branches: out })
    }

    fn nested_fields(&mut self, obj: &Map<String, Value>, loc: &str, allowed: &[&str]) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                self.err(format!("Field '{key}' is not supported"), loc);
            }
        }
    }

    fn map(&mut self, obj: &Map<String, Value>, loc: &str, language: QueryLanguage) -> Option<MapState> {
        let (key, processor) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(p)) => ("Iterator", p),
            (Some(_), Some(_)) => {
                self.err("There should only be one of the following fields: [ItemProcessor, Iterator]", loc);
                return None;
            }
            (None, None) => {
                self.err("These fields are required: [ItemProcessor]", loc);
                return None;
            }
        };
        let ploc = format!("{loc}/{key}");
        let Some(pobj) = processor.as_object() else {
            self.err("Field should be an object", ploc);
            return None;
        };
        self.nested_fields(pobj, &ploc, &["StartAt", "States", "Comment", "ProcessorConfig"]);
        let mode = match pobj.get("ProcessorConfig") {
            None => MapMode::Inline,
            Some(cfg) => match cfg.get("Mode").and_then(Value::as_str) {
                None | Some("INLINE") => MapMode::Inline,
                Some("DISTRIBUTED") => {
                    let execution_type = match cfg.get("ExecutionType").and_then(Value::as_str) {
                        Some("EXPRESS") => StateMachineType::Express,
                        _ => StateMachineType::Standard,
                    };
                    MapMode::Distributed { execution_type }
                }
                Some(_) => {
                    self.err(
                        "The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
                        format!("{ploc}/ProcessorConfig/Mode"),
                    );
                    MapMode::Inline
                }
            },
        };
        let program = self.program(pobj, &ploc, self.root_language)?;
        let items_path = match obj.get("ItemsPath") {
            None => None,
            Some(v) => match v.as_str().map(Path::parse_reference) {
                Some(Ok(p)) => Some(p),
                _ => {
                    self.err("Value is not a Reference Path", format!("{loc}/ItemsPath"));
                    None
                }
            },
        };
        let items = obj.get("Items").map(|v| self.jsonata(v, "Items", loc));
        let selector_key = if obj.contains_key("ItemSelector") { "ItemSelector" } else { "Parameters" };
        let item_selector = obj.get(selector_key).map(|v| match language {
            QueryLanguage::JsonPath => self.payload(v, &format!("{loc}/{selector_key}")),
            QueryLanguage::Jsonata => self.jsonata(v, selector_key, loc),
        });
        let max_concurrency = self.number_field(obj, "MaxConcurrency", loc, language, (0.0, f64::MAX));
        let tolerated_failure_count = self.number_field(obj, "ToleratedFailureCount", loc, language, (0.0, f64::MAX));
        let tolerated_failure_percentage =
            self.number_field(obj, "ToleratedFailurePercentage", loc, language, (0.0, 100.0));
        Some(MapState {
            processor: program,
            processor_reads_context: pobj.iter().any(|(k, v)| k.contains("$$") || reads_context(v)),
            mode,
            items_path,
            items,
            item_selector,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            item_reader: obj.get("ItemReader").cloned(),
            item_batcher: obj.get("ItemBatcher").cloned(),
            result_writer: obj.get("ResultWriter").cloned(),
            label: obj.get("Label").and_then(Value::as_str).map(str::to_owned),
        })
    }

    fn retriers(&mut self, v: Option<&Value>, loc: &str) -> Vec<Retrier> {
        let Some(v) = v else { return Vec::new() };
        let Some(items) = v.as_array() else {
            self.err("Field 'Retry' should be an array", format!("{loc}/Retry"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, r) in items.iter().enumerate() {
            let rloc = format!("{loc}/Retry[{i}]");
            let Some(obj) = r.as_object() else {
                self.err("Retrier must be an object", rloc);
                continue;
            };
            for key in obj.keys() {
                if ![
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ]
                .contains(&key.as_str())
                {
                    self.err(format!("Field '{key}' is not supported"), &rloc);
                }
            }
            let error_equals = self.error_equals(obj, &rloc, i + 1 == items.len());
            let num = |p: &mut Parser, key: &str, min: f64, max: f64, default: Option<f64>| -> Option<f64> {
                match obj.get(key) {
                    None => default,
                    Some(v) => match v.as_f64() {
                        Some(n) if n < min => {
                            p.err(format!("Minimum value is {}", fmt_num(min)), format!("{rloc}/{key}"));
                            default
                        }
                        Some(n) if n > max => {
                            p.err(format!("Maximum value is {}", fmt_num(max)), format!("{rloc}/{key}"));
                            default
                        }
                        Some(n) => Some(n),
                        None => {
                            p.err(format!("Field '{key}' should be a number"), format!("{rloc}/{key}"));
                            default
                        }
                    },
                }
            };
            let interval_seconds = num(self, "IntervalSeconds", 1.0, 99_999_999.0, Some(1.0)).unwrap_or(1.0);
            let max_attempts = num(self, "MaxAttempts", 0.0, 99_999_999.0, Some(3.0)).unwrap_or(3.0) as u64;
            let backoff_rate = num(self, "BackoffRate", 1.0, f64::MAX, Some(2.0)).unwrap_or(2.0);
            let max_delay_seconds = num(self, "MaxDelaySeconds", 1.0, 31_622_400.0, None);
            let full_jitter = match obj.get("JitterStrategy") {
                None => false,
                Some(Value::String(s)) if s == "FULL" => true,
                Some(Value::String(s)) if s == "NONE" => false,
                Some(_) => {
                    self.err(
                        "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
                        format!("{rloc}/JitterStrategy"),
                    );
                    false
                }
            };
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                full_jitter,
            });
        }
        out
    }

    fn error_equals(&mut self, obj: &Map<String, Value>, loc: &str, last: bool) -> Vec<String> {
        let Some(list) = obj.get("ErrorEquals").and_then(Value::as_array) else {
            self.err("These fields are required: [ErrorEquals]", loc);
            return Vec::new();
        };
        if list.is_empty() {
            self.err("Value cannot be empty", format!("{loc}/ErrorEquals"));
        }
        let names: Vec<String> = list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        if names.iter().any(|n| n == crate::error::names::ALL) && (names.len() > 1 || !last) {
            self.err("States.ALL must appear alone in the last ErrorEquals", format!("{loc}/ErrorEquals"));
        }
        names
    }

    fn catchers(
        &mut self,
        v: Option<&Value>,
        loc: &str,
        language: QueryLanguage,
        names: &HashMap<&str, StateId>,
    ) -> Vec<Catcher> {
        let Some(v) = v else { return Vec::new() };
        let Some(items) = v.as_array() else {
            self.err("Field 'Catch' should be an array", format!("{loc}/Catch"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, c) in items.iter().enumerate() {
            let cloc = format!("{loc}/Catch[{i}]");
            let Some(obj) = c.as_object() else {
                self.err("Catcher must be an object", cloc);
                continue;
            };
            for key in obj.keys() {
                let ok = match key.as_str() {
                    "ErrorEquals" | "Next" | "Comment" | "Assign" => true,
                    "ResultPath" => language == QueryLanguage::JsonPath,
                    "Output" => language == QueryLanguage::Jsonata,
                    _ => false,
                };
                if !ok {
                    self.err(format!("Field '{key}' is not supported"), &cloc);
                }
            }
            let error_equals = self.error_equals(obj, &cloc, i + 1 == items.len());
            let next = match obj.get("Next") {
                Some(n) => self.target(names, n, format!("{cloc}/Next")),
                None => {
                    self.err("These fields are required: [Next]", &cloc);
                    None
                }
            };
            let result_path = self.path_field(obj, "ResultPath", &cloc, true);
            let output =
                obj.get("Output").map(|o| Template::jsonata(o, "Output", &format!("{cloc}/Output"), &mut self.diags));
            let assign = obj.get("Assign").map(|a| self.assign(a, &format!("{cloc}/Assign"), language));
            if let Some(next) = next {
                out.push(Catcher { error_equals, next, result_path, output, assign });
            }
        }
        out
    }
}

/// Whether any string in the definition mentions `$$` or `$states`.
fn reads_context(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("$$") || s.contains("$states"),
        Value::Array(items) => items.iter().any(reads_context),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains("$$") || reads_context(v)),
        _ => false,
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Returns true when the only diagnostics are about a JSON value that was not an object.
pub fn is_not_object(diags: &[Diagnostic]) -> bool {
    diags.len() == 1 && diags[0].message == "Definition must be a valid JSON object"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map_of(definition: Value) -> MapState {
        let machine = parse(&definition, ParseOptions::default()).expect("valid");
        let (_, state) = machine.program.find_nested("M").expect("the Map state");
        match &state.kind {
            StateKind::Map(m) => (**m).clone(),
            _ => panic!("not a Map"),
        }
    }

    #[test]
    fn task_resources_are_classified_once_by_the_parser() {
        let service = |t: &str, r: &str| ResourceKind::Service { resource_type: t.into(), resource: r.into() };
        use crate::integrations::Pattern as P;
        let cases = [
            ("arn:aws:lambda:us-east-1:123456789012:function:f", ResourceKind::Lambda, P::RequestResponse),
            ("arn:aws:states:us-east-1:123456789012:activity:a", ResourceKind::Activity, P::RequestResponse),
            (
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                service("sqs", "sendMessage.waitForTaskToken"),
                P::WaitForTaskToken,
            ),
            ("arn:legion:states:::openfaas:invoke.sync", service("openfaas", "invoke.sync"), P::Sync),
            ("arn:aws:states:::states:startExecution.sync:2", service("states", "startExecution.sync:2"), P::Sync2),
            ("arn:aws:states:::http:invoke", service("http", "invoke"), P::RequestResponse),
        ];
        for (resource, kind, pattern) in cases {
            let definition =
                json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}});
            let machine = parse(&definition, ParseOptions::default()).expect("valid");
            let (_, state) = machine.program.find_nested("T").expect("the Task");
            match &state.kind {
                StateKind::Task(t) => assert_eq!((&t.kind, t.pattern), (&kind, pattern), "{resource}"),
                _ => panic!("not a Task"),
            }
        }
        assert_eq!(
            ResourceKind::of("arn:aws:states:us-east-1:1:activity:"),
            service("activity", "arn:aws:states:us-east-1:1:activity:")
        );
        assert_eq!(ResourceKind::of("my-handler"), service("custom", "my-handler"));
    }

    #[test]
    fn a_processor_reads_the_context_only_when_it_names_it() {
        let with = |processor_state: Value| {
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "ItemsPath": "$$.Execution.Input.items",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P", "States": {"P": processor_state}},
                "End": true}}})
        };
        let quiet = with(json!({"Type": "Pass", "End": true}));
        assert!(parse(&quiet, ParseOptions::default()).expect("valid").reads_context);
        assert!(!map_of(quiet).processor_reads_context, "the parent reads it, the processor does not");
        let reading = with(json!({"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": true}));
        assert!(map_of(reading).processor_reads_context);
    }
}
