//! Every definition among the recorded AWS cases (`../shared/conformance/cases` beside the checkout,
//! or the folder `LEGION_CONFORMANCE_CASES` names) is drawn: each state once, no two plain states
//! overlapping, nested states inside their group. Without the cases (a fresh clone) the test says so
//! in one line and passes; with `LEGION_CONFORMANCE_CASES` set they must be there.

use std::io::Write;
use std::path::{Path, PathBuf};

use legion_console::graph::layout::{layout, Item, Rect};
use legion_console::graph::Graph;
use serde_json::Value;

/// The recorded cases' folder, or `None` (after saying why) when a fresh clone has none.
fn cases_root() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("LEGION_CONFORMANCE_CASES").filter(|v| !v.is_empty()) {
        let root = PathBuf::from(named);
        assert!(root.is_dir(), "LEGION_CONFORMANCE_CASES names {}, which is not a folder", root.display());
        return Some(root);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/cases");
    if root.is_dir() {
        return Some(root);
    }
    // Written to the stream itself, not through the test harness's capture: the line must show.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED every_recorded_definition_is_drawn_without_overlaps: the recorded AWS cases are not at {} (put them there or set LEGION_CONFORMANCE_CASES)",
        root.display()
    );
    None
}

fn definitions(root: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).expect("the recorded cases' folder is readable") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let Ok(case) = serde_json::from_str::<Value>(&text) else { continue };
            if let Some(d) = case.get("definition").filter(|d| d.get("States").is_some()) {
                out.push((file.display().to_string(), d.clone()));
            }
        }
    }
    out
}

fn overlap(a: &Rect, b: &Rect) -> bool {
    a.x + 0.5 < b.x + b.w && b.x + 0.5 < a.x + a.w && a.y + 0.5 < b.y + b.h && b.y + 0.5 < a.y + a.h
}

#[test]
fn every_recorded_definition_is_drawn_without_overlaps() {
    let Some(root) = cases_root() else { return };
    let cases = definitions(&root);
    assert!(cases.len() > 300, "found {} definitions", cases.len());
    for (file, definition) in &cases {
        let Ok(graph) = Graph::from_definition(definition) else { continue };
        let drawing = layout(&graph);
        let plain: Vec<(&str, Rect)> = drawing
            .items
            .iter()
            .filter_map(|i| match i {
                Item::State { name, rect, group: false, .. } => Some((name.as_str(), *rect)),
                _ => None,
            })
            .collect();
        let drawn = drawing.items.iter().filter(|i| matches!(i, Item::State { .. })).count();
        assert_eq!(drawn, graph.state_names().len(), "{file}");
        for (i, (a, ra)) in plain.iter().enumerate() {
            for (b, rb) in &plain[i + 1..] {
                assert!(!overlap(ra, rb), "{file}: {a} and {b} overlap: {ra:?} {rb:?}");
            }
        }
    }
}
