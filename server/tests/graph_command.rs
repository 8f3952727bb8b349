//! `legion graph FILE [--format svg|dot]`: the console's drawing of a definition, on the command line.

use std::process::Command;

fn graph(file: &str, format: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_legion")).args(["graph", file, "--format", format]).output().unwrap()
}

const ORDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/order-pipeline/definition.asl.json");

#[test]
fn svg_draws_every_state_with_nested_groups() {
    let out = graph(ORDER, "svg");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    for state in ["Validate", "Price", "Line", "Shipping", "RouteBySize", "HoldForReview", "Accepted", "Rejected"] {
        assert!(svg.contains(&format!("data-state=\"{state}\"")), "{state} drawn");
    }
    assert!(svg.contains("class=\"state st-none kind-parallel group\""));
    assert!(svg.contains(">$.totalCents &gt; 100000<"), "Choice edges are labelled");
}

#[test]
fn dot_has_clusters_for_branches() {
    let out = graph(ORDER, "dot");
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph"));
    assert!(dot.contains("subgraph cluster_") && dot.contains("label=\"Parallel Price\""), "{dot}");
}

#[test]
fn an_invalid_definition_is_reported_not_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#).unwrap();
    let out = graph(file.to_str().unwrap(), "svg");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nowhere"), "{}", String::from_utf8_lossy(&out.stderr));
}
