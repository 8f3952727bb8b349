//! A [`Graph`] in Graphviz's DOT language: the same nodes and edges as the SVG drawing, each
//! Parallel branch and Map item processor a `cluster` subgraph inside its state's cluster.

use std::fmt::Write;

use super::{EdgeKind, End, Graph, Scope, StateKind};

/// The DOT text of `graph`.
pub fn render(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph \"state machine\" {\n  rankdir=TB;\n  compound=true;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    let mut ids = Ids::default();
    scope(&mut out, &graph.root, &mut ids, "  ");
    out.push_str("}\n");
    out
}

#[derive(Default)]
struct Ids {
    next: usize,
}

impl Ids {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }
}

/// `text` as a DOT double-quoted string.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scope(out: &mut String, scope: &Scope, ids: &mut Ids, indent: &str) {
    let start = ids.fresh("start");
    let _ = writeln!(
        out,
        "{indent}{start} [label=\"Start\", shape=oval, style=filled, fillcolor=\"#374151\", fontcolor=white];"
    );
    let end = ids.fresh("end");
    if scope.edges.iter().any(|e| e.to == End::End) {
        let _ = writeln!(
            out,
            "{indent}{end} [label=\"End\", shape=oval, style=filled, fillcolor=\"#374151\", fontcolor=white];"
        );
    }
    let mut state_ids = Vec::new();
    for state in &scope.states {
        let id = ids.fresh("state");
        if state.children.is_empty() {
            let _ = writeln!(out, "{indent}{id} [label={}];", quote(&state.name));
        } else {
            let cluster = ids.fresh("cluster_");
            let kind =
                if state.kind == StateKind::Map && state.distributed { "Distributed Map" } else { state.kind.name() };
            let _ = writeln!(out, "{indent}subgraph {cluster} {{");
            let inner = format!("{indent}  ");
            let _ = writeln!(out, "{inner}label={}; style=rounded;", quote(&format!("{kind} {}", state.name)));
            let _ = writeln!(out, "{inner}{id} [label={}, shape=plaintext, style=\"\"];", quote(&state.name));
            for child in &state.children {
                let branch = ids.fresh("cluster_");
                let _ = writeln!(out, "{inner}subgraph {branch} {{\n{inner}  label=\"\"; style=dashed;");
                self::scope(out, child, ids, &format!("{inner}  "));
                let _ = writeln!(out, "{inner}}}");
            }
            let _ = writeln!(out, "{indent}}}");
        }
        state_ids.push(id);
    }
    for edge in &scope.edges {
        let name = |e: End| match e {
            End::Start => start.clone(),
            End::End => end.clone(),
            End::State(i) => state_ids[i].clone(),
        };
        let mut attrs = Vec::new();
        if let Some(label) = &edge.label {
            attrs.push(format!("label={}", quote(label)));
        }
        match edge.kind {
            EdgeKind::Catch => attrs.push("style=dashed, color=\"#ea580c\"".into()),
            EdgeKind::Default => attrs.push("style=dotted".into()),
            _ => {}
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "{indent}{} -> {}{attrs};", name(edge.from), name(edge.to));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dot_has_nodes_clusters_and_labelled_edges_with_quotes_escaped() {
        let g = Graph::from_definition(&json!({"StartAt": "Say \"hi\"", "States": {
            "Say \"hi\"": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "a\\b", "Next": "Fan"}], "Default": "Fan"},
            "Fan": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "One", "States": {"One": {"Type": "Pass", "End": true}}}]}
        }}))
        .unwrap();
        let dot = render(&g);
        assert!(dot.starts_with("digraph"));
        assert!(dot.contains(r#"[label="Say \"hi\""]"#), "{dot}");
        assert!(dot.contains("subgraph cluster_"));
        assert!(dot.contains(r#"label="Parallel Fan""#));
        assert!(dot.contains(r#"label="One""#));
        assert!(dot.contains(r#"[label="$.x == \"a\\\\b\""]"#), "{dot}");
        assert!(dot.contains(r#"[label="Default", style=dotted]"#));
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    }
}
