//! Every definition among the recorded AWS cases (`../shared/conformance/cases`) is drawn: each
//! state once, no two plain states overlapping, nested states inside their group.

use std::path::Path;

use legion_console::graph::layout::{layout, Item, Rect};
use legion_console::graph::Graph;
use serde_json::Value;

fn definitions() -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/cases");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("the recorded cases beside the checkout") {
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
    let cases = definitions();
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
