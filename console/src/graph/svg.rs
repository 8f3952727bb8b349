//! A [`Drawing`] as SVG: states as rounded boxes carrying their status as a CSS class and their
//! name in `data-state`, groups as frames, transitions as paths, Choice and Catch labels on white.

use std::fmt::Write;

use super::layout::{Drawing, Item, Rect, Segment};
use super::{EdgeKind, StateKind};
use crate::colour::StateStatus;
use crate::escape::escape;

/// The colours of the drawing, shared by the console's pages and standalone SVG files.
pub const GRAPH_CSS: &str = include_str!("../../assets/graph.css");

/// Renders `drawing`; `status` gives each state's colour (`None`: drawn without a status, as
/// `legion graph` does). `standalone` adds the XML namespace, a white background and the styles.
pub fn render(drawing: &Drawing, status: &dyn Fn(&str) -> Option<StateStatus>, standalone: bool) -> String {
    render_with_captions(drawing, status, &|_| None, standalone)
}

/// [`render`], with a caption after the title of some groups (a Distributed Map's item counts).
pub fn render_with_captions(
    drawing: &Drawing,
    status: &dyn Fn(&str) -> Option<StateStatus>,
    caption: &dyn Fn(&str) -> Option<String>,
    standalone: bool,
) -> String {
    let (w, h) = (drawing.width.ceil(), drawing.height.ceil());
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="legion-graph" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="State machine graph">"#
    );
    if standalone {
        let _ = write!(out, "<style>{GRAPH_CSS}</style><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>");
    }
    out.push_str(concat!(
        r#"<defs><marker id="legion-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">"#,
        r#"<path d="M0,0 L10,5 L0,10 z" class="arrow-head"/></marker></defs>"#
    ));
    // Groups and their frames first, outermost first (they are backgrounds), then edges, plain
    // states and labels on top.
    for item in &drawing.items {
        match item {
            Item::State { group: true, .. } => state(&mut out, item, status, caption),
            Item::Frame { rect } => {
                let _ = write!(out, r#"<rect class="frame" {} rx="6"/>"#, rect_attrs(rect));
            }
            _ => {}
        }
    }
    for item in drawing.items.iter().filter(|i| matches!(i, Item::Edge { .. })) {
        edge(&mut out, item);
    }
    for item in &drawing.items {
        match item {
            Item::State { group: false, .. } => state(&mut out, item, status, caption),
            Item::Marker { start, rect } => marker(&mut out, *start, rect),
            _ => {}
        }
    }
    for item in &drawing.items {
        if let Item::Label { text, x, y, kind } = item {
            let width = text.chars().count() as f64 * 6.4 + 8.0;
            let _ = write!(
                out,
                r#"<g class="edge-label {}"><rect x="{:.1}" y="{:.1}" width="{width:.1}" height="16" rx="3"/><text x="{x:.1}" y="{:.1}">{}</text></g>"#,
                edge_class(*kind),
                x - width / 2.0,
                y - 8.0,
                y + 4.0,
                escape(text)
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn rect_attrs(r: &Rect) -> String {
    format!(r#"x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}""#, r.x, r.y, r.w, r.h)
}

fn state(
    out: &mut String,
    item: &Item,
    status: &dyn Fn(&str) -> Option<StateStatus>,
    caption: &dyn Fn(&str) -> Option<String>,
) {
    let Item::State { name, kind, rect, group, distributed } = item else { return };
    let st = status(name);
    let class = st.map(StateStatus::css_class).unwrap_or("st-none");
    let title = match st {
        Some(s) => format!("{name} ({}): {}", kind.name(), s.label()),
        None => format!("{name} ({})", kind.name()),
    };
    let escaped = escape(name);
    let _ = write!(
        out,
        r#"<g class="state {class} kind-{}{}" data-state="{escaped}" tabindex="0"><title>{}</title><rect {} rx="{}"/>"#,
        kind.name().to_ascii_lowercase(),
        if *group { " group" } else { "" },
        escape(&title),
        rect_attrs(rect),
        if *group { 8 } else { 6 },
    );
    if *group {
        let what = match (kind, distributed) {
            (StateKind::Map, true) => "Distributed Map",
            (k, _) => k.name(),
        };
        let _ = write!(
            out,
            r#"<text class="group-title" x="{:.1}" y="{:.1}"><tspan class="kind">{what}</tspan> {escaped}</text>"#,
            rect.x + 10.0,
            rect.y + 21.0,
        );
        if let Some(text) = caption(name) {
            let _ = write!(
                out,
                r#"<text class="group-caption" x="{:.1}" y="{:.1}">{}</text>"#,
                rect.x + 10.0,
                rect.y + rect.h - 3.5,
                escape(&text)
            );
        }
    } else {
        let (cx, cy) = rect.centre();
        let _ = write!(out, r#"<text x="{cx:.1}" y="{:.1}">{escaped}</text>"#, cy + 4.5);
    }
    out.push_str("</g>");
}

fn marker(out: &mut String, start: bool, rect: &Rect) {
    let (cx, cy) = rect.centre();
    let _ = write!(
        out,
        r#"<g class="marker"><rect {} rx="{:.1}"/><text x="{cx:.1}" y="{:.1}">{}</text></g>"#,
        rect_attrs(rect),
        rect.h / 2.0,
        cy + 4.0,
        if start { "Start" } else { "End" }
    );
}

fn edge_class(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Next => "edge-next",
        EdgeKind::Choice => "edge-choice",
        EdgeKind::Default => "edge-default",
        EdgeKind::Catch => "edge-catch",
    }
}

fn edge(out: &mut String, item: &Item) {
    let Item::Edge { points, kind, arrow_at_start, arrow_at_end } = item else { return };
    let d = path_data(points);
    if d.is_empty() {
        return;
    }
    let _ = write!(out, r#"<path class="edge {}" d="{d}""#, edge_class(*kind));
    if *arrow_at_start {
        out.push_str(r#" marker-start="url(#legion-arrow)""#);
    }
    if *arrow_at_end {
        out.push_str(r#" marker-end="url(#legion-arrow)""#);
    }
    out.push_str("/>");
}

/// `M x y C …` then `S …` per further point pair, as `layout-rs` describes its curves.
fn path_data(points: &[Segment]) -> String {
    let [first, second, rest @ ..] = points else { return String::new() };
    let mut d = format!(
        "M{:.1} {:.1} C{:.1} {:.1},{:.1} {:.1},{:.1} {:.1}",
        first.0 .0, first.0 .1, first.1 .0, first.1 .1, second.0 .0, second.0 .1, second.1 .0, second.1 .1
    );
    for p in rest {
        let _ = write!(d, " S{:.1} {:.1},{:.1} {:.1}", p.0 .0, p.0 .1, p.1 .0, p.1 .1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::layout::layout;
    use crate::graph::Graph;
    use serde_json::json;

    #[test]
    fn hostile_names_stay_text_and_statuses_become_classes() {
        let g = Graph::from_definition(&json!({"StartAt": "<script>alert(1)</script>", "States": {
            "<script>alert(1)</script>": {"Type": "Pass", "Next": "B\" onload=\"x"},
            "B\" onload=\"x": {"Type": "Succeed"}
        }}))
        .unwrap();
        let svg = render(
            &layout(&g),
            &|n| Some(if n.starts_with('<') { StateStatus::Succeeded } else { StateStatus::Failed }),
            true,
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!svg.contains(r#"onload="x"#));
        assert!(svg.contains(r#"class="state st-succeeded kind-pass""#));
        assert!(svg.contains(r#"class="state st-failed kind-succeed""#));
        assert_eq!(svg.matches("<path class=\"edge").count(), 3);
    }
}
