//! A [`Graph`] in Graphviz's DOT language: the same nodes and edges as the SVG drawing, each
//! Parallel branch and Map item processor a `cluster` subgraph inside its state's cluster.

use std::fmt::Write;

use super::{EdgeKind, End, Graph, Scope, StateKind};

/// The DOT text of `graph`.
pub fn render(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph \"state machine\" {\n  rankdir=TB;\n  compound=true;\n  fontname=\"sans-serif\";\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
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

/// Writes one scope; returns the id of its start marker.
fn scope(out: &mut String, scope: &Scope, ids: &mut Ids, indent: &str) -> String {
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
    let mut clusters: Vec<Option<String>> = Vec::new();
    for state in &scope.states {
        let id = ids.fresh("state");
        if state.children.is_empty() {
            clusters.push(None);
            let _ = writeln!(out, "{indent}{id} [label={}];", quote(&state.name));
        } else {
            let cluster = ids.fresh("cluster_");
            clusters.push(Some(cluster.clone()));
            let kind =
                if state.kind == StateKind::Map && state.distributed { "Distributed Map" } else { state.kind.name() };
            let _ = writeln!(out, "{indent}subgraph {cluster} {{");
            let inner = format!("{indent}  ");
            let _ = writeln!(out, "{inner}label={}; style=rounded;", quote(&format!("{kind} {}", state.name)));
            // The state's own node: an invisible point that edges of the state attach to.
            let _ = writeln!(out, "{inner}{id} [label=\"\", shape=point, width=0.01, style=invis];");
            for child in &state.children {
                let branch = ids.fresh("cluster_");
                let _ = writeln!(out, "{inner}subgraph {branch} {{\n{inner}  label=\"\"; style=dashed;");
                let child_start = self::scope(out, child, ids, &format!("{inner}  "));
                let _ = writeln!(out, "{inner}}}");
                // Keeps the state's name above its branches.
                let _ = writeln!(out, "{inner}{id} -> {child_start} [style=invis];");
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
        // An edge of a Parallel or Map state starts or ends on its cluster's border.
        let cluster_of = |e: End| match e {
            End::State(i) => clusters[i].clone(),
            _ => None,
        };
        if let Some(c) = cluster_of(edge.from) {
            attrs.push(format!("ltail={c}"));
        }
        if let Some(c) = cluster_of(edge.to) {
            attrs.push(format!("lhead={c}"));
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "{indent}{} -> {}{attrs};", name(edge.from), name(edge.to));
    }
    start
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
        assert!(dot.contains(r#"[label="$.x == \"a\\\\b\"", lhead=cluster_"#), "{dot}");
        assert!(dot.contains(r#"[label="Default", style=dotted, lhead=cluster_"#));
        assert!(dot.contains("-> end2 [ltail=cluster_"), "{dot}");
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    }
}
