//! A definition as a graph: states as nodes, transitions as edges, Parallel branches and Map item
//! processors as nested scopes. Read from the definition's JSON (the shape DescribeStateMachine and
//! DescribeStateMachineForExecution return), so the console depends on the language, not on the
//! engine's model.

pub mod dot;
pub mod layout;
pub mod svg;

use serde_json::Value;

/// Why a definition cannot be drawn.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// The text is not JSON.
    #[error("the definition is not valid JSON: {0}")]
    Json(String),
    /// A scope (the definition, a branch, an item processor) lacks `StartAt` or `States`.
    #[error("{0}: a scope needs StartAt and States")]
    Scope(String),
}

/// The type of a state, as `Type` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Task,
    Pass,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
    /// A `Type` this drawing does not know (validation rejects it; the drawing still shows it).
    Other,
}

impl StateKind {
    fn parse(name: &str) -> StateKind {
        match name {
            "Task" => StateKind::Task,
            "Pass" => StateKind::Pass,
            "Choice" => StateKind::Choice,
            "Wait" => StateKind::Wait,
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail,
            "Parallel" => StateKind::Parallel,
            "Map" => StateKind::Map,
            _ => StateKind::Other,
        }
    }

    /// The `Type` name.
    pub fn name(self) -> &'static str {
        match self {
            StateKind::Task => "Task",
            StateKind::Pass => "Pass",
            StateKind::Choice => "Choice",
            StateKind::Wait => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail => "Fail",
            StateKind::Parallel => "Parallel",
            StateKind::Map => "Map",
            StateKind::Other => "State",
        }
    }
}

/// One end of an edge within a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The scope's start marker.
    Start,
    /// The scope's end marker.
    End,
    /// A state, by index in [`Scope::states`].
    State(usize),
}

/// What a transition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `StartAt`, `Next` or `End`.
    Next,
    /// A Choice rule.
    Choice,
    /// A Choice state's `Default`.
    Default,
    /// A Catcher.
    Catch,
}

/// A transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: End,
    pub to: End,
    pub kind: EdgeKind,
    /// The rule, `Default` or the caught errors.
    pub label: Option<String>,
}

/// A state.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    /// Parallel branches, or the Map item processor (one scope).
    pub children: Vec<Scope>,
    /// A Map whose processor runs in `DISTRIBUTED` mode.
    pub distributed: bool,
}

/// A `StartAt` + `States` scope: the definition, a branch or an item processor.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub states: Vec<State>,
    pub edges: Vec<Edge>,
}

/// A definition's graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub root: Scope,
}

const LABEL_CHARS: usize = 36;

impl Graph {
    /// The graph of a definition's JSON text.
    pub fn from_text(text: &str) -> Result<Graph, GraphError> {
        let value: Value = serde_json::from_str(text).map_err(|e| GraphError::Json(e.to_string()))?;
        Graph::from_definition(&value)
    }

    /// The graph of a parsed definition.
    pub fn from_definition(definition: &Value) -> Result<Graph, GraphError> {
        Ok(Graph { root: scope(definition, "the definition")? })
    }

    /// Every state name, nested ones included, in definition order.
    pub fn state_names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_names(&self.root, &mut out);
        out
    }
}

impl Graph {
    /// The states of Distributed Map item processors: they run in child executions, so the
    /// parent's history says nothing of them.
    pub fn child_execution_states(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_distributed(&self.root, false, &mut out);
        out
    }
}

fn collect_distributed<'a>(scope: &'a Scope, inside: bool, out: &mut Vec<&'a str>) {
    for state in &scope.states {
        if inside {
            out.push(&state.name);
        }
        for child in &state.children {
            collect_distributed(child, inside || state.distributed, out);
        }
    }
}

fn collect_names<'a>(scope: &'a Scope, out: &mut Vec<&'a str>) {
    for state in &scope.states {
        out.push(&state.name);
        for child in &state.children {
            collect_names(child, out);
        }
    }
}

fn scope(value: &Value, place: &str) -> Result<Scope, GraphError> {
    let start_at = value.get("StartAt").and_then(Value::as_str);
    let states = value.get("States").and_then(Value::as_object);
    let (Some(start_at), Some(states)) = (start_at, states) else {
        return Err(GraphError::Scope(place.to_owned()));
    };
    let names: Vec<&str> = states.keys().map(String::as_str).collect();
    let index = |name: &str| names.iter().position(|n| *n == name).map(End::State);
    let mut out = Scope { states: Vec::new(), edges: Vec::new() };
    if let Some(to) = index(start_at) {
        out.edges.push(Edge { from: End::Start, to, kind: EdgeKind::Next, label: None });
    }
    for (i, (name, body)) in states.iter().enumerate() {
        let kind = StateKind::parse(body.get("Type").and_then(Value::as_str).unwrap_or(""));
        let from = End::State(i);
        let mut push = |to: Option<End>, kind: EdgeKind, label: Option<String>| {
            if let Some(to) = to {
                out.edges.push(Edge { from, to, kind, label });
            }
        };
        if let Some(next) = body.get("Next").and_then(Value::as_str) {
            push(index(next), EdgeKind::Next, None);
        }
        let ends = body.get("End").and_then(Value::as_bool) == Some(true)
            || matches!(kind, StateKind::Succeed | StateKind::Fail);
        if ends {
            push(Some(End::End), EdgeKind::Next, None);
        }
        for rule in body.get("Choices").and_then(Value::as_array).into_iter().flatten() {
            let target = rule.get("Next").and_then(Value::as_str).and_then(index);
            push(target, EdgeKind::Choice, Some(shorten(&choice_label(rule))));
        }
        if let Some(default) = body.get("Default").and_then(Value::as_str) {
            push(index(default), EdgeKind::Default, Some("Default".to_owned()));
        }
        for catcher in body.get("Catch").and_then(Value::as_array).into_iter().flatten() {
            let target = catcher.get("Next").and_then(Value::as_str).and_then(index);
            push(target, EdgeKind::Catch, Some(shorten(&catch_label(catcher))));
        }
        let children = children(name, kind, body)?;
        let distributed =
            body.get("ItemProcessor").and_then(|p| p.pointer("/ProcessorConfig/Mode")).and_then(Value::as_str)
                == Some("DISTRIBUTED");
        out.states.push(State { name: name.clone(), kind, children, distributed });
    }
    Ok(out)
}

fn children(name: &str, kind: StateKind, body: &Value) -> Result<Vec<Scope>, GraphError> {
    match kind {
        StateKind::Parallel => body
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, b)| scope(b, &format!("branch {} of {name}", i + 1)))
            .collect(),
        StateKind::Map => match body.get("ItemProcessor").or_else(|| body.get("Iterator")) {
            Some(p) => Ok(vec![scope(p, &format!("the item processor of {name}"))?]),
            None => Ok(Vec::new()),
        },
        _ => Ok(Vec::new()),
    }
}

fn catch_label(catcher: &Value) -> String {
    let errors: Vec<&str> =
        catcher.get("ErrorEquals").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    format!("Catch {}", errors.join(", "))
}

/// A Choice rule in a few words: `$.n > 3`, the JSONata `Condition`, or `And(…)`.
pub fn choice_label(rule: &Value) -> String {
    if let Some(condition) = rule.get("Condition").and_then(Value::as_str) {
        return condition.trim_start_matches("{%").trim_end_matches("%}").trim().to_owned();
    }
    for (combinator, joiner) in [("And", " and "), ("Or", " or ")] {
        if let Some(rules) = rule.get(combinator).and_then(Value::as_array) {
            let parts: Vec<String> = rules.iter().map(choice_label).collect();
            return format!("({})", parts.join(joiner));
        }
    }
    if let Some(inner) = rule.get("Not") {
        return format!("not {}", choice_label(inner));
    }
    let variable = rule.get("Variable").and_then(Value::as_str).unwrap_or("?");
    let Some((op, value)) = rule.as_object().and_then(|o| {
        o.iter().find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment" | "Assign" | "Output"))
    }) else {
        return variable.to_owned();
    };
    let (base, path) = match op.strip_suffix("Path") {
        Some(base) if !op.starts_with("Is") => (base, true),
        _ => (op.as_str(), false),
    };
    let symbol = operator_symbol(base);
    let shown = match value {
        Value::String(s) if path => s.clone(),
        other => other.to_string(),
    };
    match symbol {
        Some(symbol) => format!("{variable} {symbol} {shown}"),
        None => format!("{variable} {base} {shown}"),
    }
}

fn operator_symbol(op: &str) -> Option<&'static str> {
    let kinds = ["String", "Numeric", "Boolean", "Timestamp"];
    let rest = kinds.iter().find_map(|k| op.strip_prefix(k))?;
    Some(match rest {
        "Equals" => "==",
        "LessThan" => "<",
        "GreaterThan" => ">",
        "LessThanEquals" => "<=",
        "GreaterThanEquals" => ">=",
        "Matches" => "matches",
        _ => return None,
    })
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_owned();
    }
    let cut: String = label.chars().take(LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn choice_rules_read_as_comparisons() {
        assert_eq!(choice_label(&json!({"Variable": "$.n", "NumericGreaterThan": 3, "Next": "A"})), "$.n > 3");
        assert_eq!(choice_label(&json!({"Variable": "$.s", "StringEqualsPath": "$.t", "Next": "A"})), "$.s == $.t");
        assert_eq!(choice_label(&json!({"Variable": "$.s", "IsPresent": true, "Next": "A"})), "$.s IsPresent true");
        assert_eq!(
            choice_label(&json!({"Condition": "{% $states.input.n > 1 %}", "Next": "A"})),
            "$states.input.n > 1"
        );
        assert_eq!(
            choice_label(
                &json!({"And": [{"Variable": "$.a", "BooleanEquals": true}, {"Not": {"Variable": "$.b", "StringEquals": "x"}}], "Next": "A"})
            ),
            "($.a == true and not $.b == \"x\")"
        );
    }

    #[test]
    fn edges_follow_next_choices_default_catch_and_end() {
        let g = Graph::from_definition(&json!({
            "StartAt": "C",
            "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "T"}], "Default": "F"},
                "T": {"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "End": true},
                "F": {"Type": "Fail", "Error": "E"}
            }
        }))
        .unwrap();
        let edges: Vec<(End, End, EdgeKind)> = g.root.edges.iter().map(|e| (e.from, e.to, e.kind)).collect();
        assert_eq!(
            edges,
            vec![
                (End::Start, End::State(0), EdgeKind::Next),
                (End::State(0), End::State(1), EdgeKind::Choice),
                (End::State(0), End::State(2), EdgeKind::Default),
                (End::State(1), End::End, EdgeKind::Next),
                (End::State(1), End::State(2), EdgeKind::Catch),
                (End::State(2), End::End, EdgeKind::Next),
            ]
        );
        assert_eq!(g.root.edges[4].label.as_deref(), Some("Catch States.ALL"));
    }

    #[test]
    fn parallel_branches_and_map_processors_nest() {
        let g = Graph::from_definition(&json!({
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "Next": "M", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}
                ]},
                "M": {"Type": "Map", "End": true, "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}
                }}
            }
        }))
        .unwrap();
        assert_eq!(g.root.states[0].children.len(), 2);
        assert_eq!(g.root.states[1].children.len(), 1);
        assert!(g.root.states[1].distributed);
        assert_eq!(g.state_names(), vec!["P", "A", "B", "M", "I"]);
        assert_eq!(g.child_execution_states(), vec!["I"]);
    }

    #[test]
    fn malformed_definitions_are_errors_not_panics() {
        assert!(matches!(Graph::from_text("{"), Err(GraphError::Json(_))));
        assert_eq!(Graph::from_text("[]"), Err(GraphError::Scope("the definition".into())));
        let g = Graph::from_text(r#"{"StartAt": "Missing", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#)
            .unwrap();
        assert!(g.root.edges.is_empty());
    }
}
