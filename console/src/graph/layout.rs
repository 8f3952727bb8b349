//! Layered layout of a [`Graph`] with `layout-rs` (rank assignment, crossing reduction and
//! coordinate placement, as Graphviz's `dot` does), one scope at a time: a Parallel or Map state is
//! laid out first as its nested scopes side by side, then placed in its own scope as one large node.
//! Transitions never leave their scope in ASL, so this nesting loses no edge.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::{Edge, EdgeKind, End, Graph, Scope, StateKind};

/// Average width of a character of the 13 px sans-serif state labels.
pub const CHAR_WIDTH: f64 = 7.4;
const STATE_HEIGHT: f64 = 38.0;
const MIN_STATE_WIDTH: f64 = 110.0;
const MARKER: (f64, f64) = (64.0, 26.0);
const GROUP_HEADER: f64 = 32.0;
const GROUP_PAD: f64 = 14.0;
const BRANCH_GAP: f64 = 14.0;
const MARGIN: f64 = 12.0;
/// `layout-rs` sizes a label as characters × font size: 7 keeps edge labels as wide as they draw.
const LABEL_FONT: usize = 7;
/// Scopes with more transitions than this skip `layout-rs`'s edge-crossing optimiser.
const OPTIMISED_EDGES: usize = 60;

/// One piece of a cubic Bézier path as `layout-rs` describes it: a point and a control point.
pub type Segment = ((f64, f64), (f64, f64));

/// An axis-aligned rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    fn shift(self, dx: f64, dy: f64) -> Rect {
        Rect { x: self.x + dx, y: self.y + dy, ..self }
    }

    /// The centre.
    pub fn centre(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// One thing drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A scope's start or end marker.
    Marker { start: bool, rect: Rect },
    /// A state; `group` when it holds nested scopes (drawn as a frame around them).
    State { name: String, kind: StateKind, rect: Rect, group: bool, distributed: bool },
    /// The frame of one Parallel branch or Map item processor.
    Frame { rect: Rect },
    /// A transition: a cubic Bézier path (`M` then `C`/`S` segments as point pairs).
    Edge { points: Vec<Segment>, kind: EdgeKind, arrow_at_start: bool, arrow_at_end: bool },
    /// An edge's label, centred on (x, y).
    Label { text: String, x: f64, y: f64, kind: EdgeKind },
}

/// A laid-out graph, in its own coordinates from (0, 0) to (width, height).
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    pub width: f64,
    pub height: f64,
    pub items: Vec<Item>,
}

impl Drawing {
    fn shifted(&self, dx: f64, dy: f64) -> Vec<Item> {
        self.items.iter().map(|item| shift_item(item, dx, dy)).collect()
    }

    /// The rectangle of the state named `name`, if drawn.
    pub fn state_rect(&self, name: &str) -> Option<Rect> {
        self.items.iter().find_map(|item| match item {
            Item::State { name: n, rect, .. } if n == name => Some(*rect),
            _ => None,
        })
    }
}

fn shift_item(item: &Item, dx: f64, dy: f64) -> Item {
    let p = |(x, y): (f64, f64)| (x + dx, y + dy);
    match item {
        Item::Marker { start, rect } => Item::Marker { start: *start, rect: rect.shift(dx, dy) },
        Item::State { name, kind, rect, group, distributed } => Item::State {
            name: name.clone(),
            kind: *kind,
            rect: rect.shift(dx, dy),
            group: *group,
            distributed: *distributed,
        },
        Item::Frame { rect } => Item::Frame { rect: rect.shift(dx, dy) },
        Item::Edge { points, kind, arrow_at_start, arrow_at_end } => Item::Edge {
            points: points.iter().map(|(a, b)| (p(*a), p(*b))).collect(),
            kind: *kind,
            arrow_at_start: *arrow_at_start,
            arrow_at_end: *arrow_at_end,
        },
        Item::Label { text, x, y, kind } => Item::Label { text: text.clone(), x: x + dx, y: y + dy, kind: *kind },
    }
}

/// Lays out a whole graph.
pub fn layout(graph: &Graph) -> Drawing {
    layout_scope(&graph.root)
}

/// The width of a state box for `name`.
pub fn state_width(name: &str) -> f64 {
    (name.chars().count() as f64 * CHAR_WIDTH + 28.0).max(MIN_STATE_WIDTH)
}

/// A node of one scope's layout: its size and, for groups, the nested drawings.
struct Node {
    size: (f64, f64),
    nested: Vec<Drawing>,
}

fn layout_scope(scope: &Scope) -> Drawing {
    let nodes: Vec<Node> = scope
        .states
        .iter()
        .map(|state| {
            let nested: Vec<Drawing> = state.children.iter().map(layout_scope).collect();
            let title = state_width(&format!("{} {}", state.kind.name(), state.name));
            let size = if nested.is_empty() {
                (state_width(&state.name), STATE_HEIGHT)
            } else {
                let inner_w: f64 = nested.iter().map(|d| d.width + 2.0 * GROUP_PAD).sum::<f64>()
                    + BRANCH_GAP * (nested.len() - 1) as f64;
                let inner_h = nested.iter().map(|d| d.height + 2.0 * GROUP_PAD).fold(0.0, f64::max);
                ((inner_w + 2.0 * GROUP_PAD).max(title), GROUP_HEADER + inner_h + GROUP_PAD)
            };
            Node { size, nested }
        })
        .collect();
    let edges = merge_parallel_edges(&scope.edges);
    let placed = catch_unwind(AssertUnwindSafe(|| place_with_layout_rs(&nodes, &edges)))
        .unwrap_or_else(|_| place_in_ranks(&nodes, &edges));
    assemble(scope, &nodes, placed)
}

/// Two transitions between the same states become one edge with both labels (`layout-rs` keeps
/// one edge per pair).
fn merge_parallel_edges(edges: &[Edge]) -> Vec<Edge> {
    let mut out: Vec<Edge> = Vec::new();
    for edge in edges {
        let same = |e: &&mut Edge| (e.from, e.to) == (edge.from, edge.to) || (e.from, e.to) == (edge.to, edge.from);
        match out.iter_mut().find(|e| same(e)) {
            Some(existing) if (existing.from, existing.to) == (edge.from, edge.to) => {
                existing.label = match (existing.label.take(), &edge.label) {
                    (Some(a), Some(b)) => Some(format!("{a} / {b}")),
                    (a, b) => a.or_else(|| b.clone()),
                };
            }
            // A pair of opposite edges (A→B and B→A) is kept: the back edge is reversed by the layout.
            _ => out.push(edge.clone()),
        }
    }
    out
}

/// Positions found for one scope, before shifting to the origin.
struct Placed {
    /// Top-left corner of each state, then the start and end markers.
    states: Vec<(f64, f64)>,
    start: (f64, f64),
    end: Option<(f64, f64)>,
    edges: Vec<Item>,
    labels: Vec<Item>,
}

fn node_id(end: End) -> String {
    match end {
        End::Start => "start".into(),
        End::End => "end".into(),
        End::State(i) => format!("s{i}"),
    }
}

fn place_with_layout_rs(nodes: &[Node], edges: &[Edge]) -> Placed {
    let mut vg = VisualGraph::new(Orientation::TopToBottom);
    let look = StyleAttr::new(Color::fast("black"), 1, None, 0, 13);
    let box_element = |size: (f64, f64), id: String| {
        Element::create_with_properties(
            ShapeKind::Box(String::new()),
            look.clone(),
            Orientation::TopToBottom,
            Point::new(size.0, size.1),
            id,
        )
    };
    let mut handles = HashMap::new();
    handles.insert(End::Start, vg.add_node(box_element(MARKER, node_id(End::Start))));
    for (i, node) in nodes.iter().enumerate() {
        handles.insert(End::State(i), vg.add_node(box_element(node.size, node_id(End::State(i)))));
    }
    if edges.iter().any(|e| e.to == End::End) {
        handles.insert(End::End, vg.add_node(box_element(MARKER, node_id(End::End))));
    }
    let label_look = StyleAttr::new(Color::fast("black"), 1, None, 0, LABEL_FONT);
    for (i, edge) in edges.iter().enumerate() {
        let style = if edge.kind == EdgeKind::Catch { LineStyleKind::Dashed } else { LineStyleKind::Normal };
        let text = edge.label.clone().unwrap_or_default();
        let arrow = Arrow::with_properties(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &text,
            &label_look,
            format!("e{i}"),
            &None,
            &None,
        );
        vg.add_edge(arrow, handles[&edge.from], handles[&edge.to]);
    }
    let mut capture = Capture::default();
    // The crossing optimiser grows fast with the number of edges (150 Choice rules took 30 s in a
    // debug build): large scopes are laid out without it.
    let optimise = edges.len() <= OPTIMISED_EDGES;
    vg.do_it(false, !optimise, false, &mut capture);
    let rect_of = |end: End| capture.rects.get(&node_id(end)).copied();
    let states = (0..nodes.len()).map(|i| rect_of(End::State(i)).unwrap_or((0.0, 0.0))).collect();
    let edges_drawn = capture
        .arrows
        .into_iter()
        .filter_map(|(id, points, heads)| {
            let kind = edges.get(id.strip_prefix('e')?.parse::<usize>().ok()?)?.kind;
            Some(Item::Edge { points, kind, arrow_at_start: heads.0, arrow_at_end: heads.1 })
        })
        .collect();
    let labels = capture
        .texts
        .into_iter()
        .map(|(text, x, y)| {
            let kind = edges
                .iter()
                .find(|e| e.label.as_deref() == Some(text.as_str()))
                .map(|e| e.kind)
                .unwrap_or(EdgeKind::Choice);
            Item::Label { text, x, y, kind }
        })
        .collect();
    Placed {
        states,
        start: rect_of(End::Start).unwrap_or((0.0, 0.0)),
        end: rect_of(End::End),
        edges: edges_drawn,
        labels,
    }
}

/// The fallback should `layout-rs` fail on a graph: ranks by breadth-first distance from the start,
/// states side by side in each rank, straight edges.
fn place_in_ranks(nodes: &[Node], edges: &[Edge]) -> Placed {
    let mut rank: HashMap<End, usize> = HashMap::from([(End::Start, 0)]);
    let mut queue = vec![End::Start];
    while let Some(at) = queue.pop() {
        let r = rank[&at];
        for e in edges.iter().filter(|e| e.from == at) {
            if let std::collections::hash_map::Entry::Vacant(slot) = rank.entry(e.to) {
                slot.insert(r + 1);
                queue.insert(0, e.to);
            }
        }
    }
    let deepest = rank.values().copied().max().unwrap_or(0);
    let end_rank = deepest + 1;
    let mut x_in_rank: HashMap<usize, f64> = HashMap::new();
    let mut row_y: Vec<f64> = Vec::new();
    let heights: Vec<f64> = (0..=end_rank + 1)
        .map(|r| {
            nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| rank.get(&End::State(*i)).copied().unwrap_or(end_rank) == r)
                .map(|(_, n)| n.size.1)
                .fold(MARKER.1, f64::max)
        })
        .collect();
    let mut y = 0.0;
    for h in &heights {
        row_y.push(y);
        y += h + 40.0;
    }
    let mut place = |r: usize, w: f64| {
        let x = x_in_rank.entry(r).or_insert(0.0);
        let at = (*x, row_y[r.min(row_y.len() - 1)]);
        *x += w + 30.0;
        at
    };
    let start = place(0, MARKER.0);
    let states: Vec<(f64, f64)> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| place(rank.get(&End::State(i)).copied().unwrap_or(end_rank), n.size.0))
        .collect();
    let end = edges.iter().any(|e| e.to == End::End).then(|| place(end_rank + 1, MARKER.0));
    let centre = |e: End| -> (f64, f64) {
        match e {
            End::Start => (start.0 + MARKER.0 / 2.0, start.1 + MARKER.1 / 2.0),
            End::End => end.map(|p| (p.0 + MARKER.0 / 2.0, p.1 + MARKER.1 / 2.0)).unwrap_or_default(),
            End::State(i) => (states[i].0 + nodes[i].size.0 / 2.0, states[i].1 + nodes[i].size.1 / 2.0),
        }
    };
    let edges = edges
        .iter()
        .map(|e| {
            let (a, b) = (centre(e.from), centre(e.to));
            Item::Edge { points: vec![(a, a), (b, b)], kind: e.kind, arrow_at_start: false, arrow_at_end: true }
        })
        .collect();
    Placed { states, start, end, edges, labels: Vec::new() }
}

fn assemble(scope: &Scope, nodes: &[Node], placed: Placed) -> Drawing {
    let mut items = Vec::new();
    items.push(Item::Marker { start: true, rect: rect_at(placed.start, MARKER) });
    if let Some(end) = placed.end {
        items.push(Item::Marker { start: false, rect: rect_at(end, MARKER) });
    }
    for ((state, node), at) in scope.states.iter().zip(nodes).zip(&placed.states) {
        let rect = rect_at(*at, node.size);
        items.push(Item::State {
            name: state.name.clone(),
            kind: state.kind,
            rect,
            group: !node.nested.is_empty(),
            distributed: state.distributed,
        });
        let inner_w: f64 = node.nested.iter().map(|d| d.width + 2.0 * GROUP_PAD).sum::<f64>()
            + BRANCH_GAP * node.nested.len().saturating_sub(1) as f64;
        let mut x = rect.x + (rect.w - inner_w) / 2.0;
        for nested in &node.nested {
            let frame = Rect {
                x,
                y: rect.y + GROUP_HEADER,
                w: nested.width + 2.0 * GROUP_PAD,
                h: rect.h - GROUP_HEADER - GROUP_PAD,
            };
            items.push(Item::Frame { rect: frame });
            let dy = (frame.h - nested.height) / 2.0;
            items.extend(nested.shifted(x + GROUP_PAD, frame.y + dy.max(0.0)));
            x += frame.w + BRANCH_GAP;
        }
    }
    items.extend(placed.edges);
    items.extend(placed.labels);
    normalise(items)
}

fn rect_at((x, y): (f64, f64), (w, h): (f64, f64)) -> Rect {
    Rect { x, y, w, h }
}

/// Moves everything so that the drawing starts at (MARGIN, MARGIN) and measures it.
fn normalise(items: Vec<Item>) -> Drawing {
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut see = |x: f64, y: f64| {
        min_x = min_x.min(x);
        min_y = min_y.min(y);
        max_x = max_x.max(x);
        max_y = max_y.max(y);
    };
    for item in &items {
        match item {
            Item::Marker { rect, .. } | Item::State { rect, .. } | Item::Frame { rect } => {
                see(rect.x, rect.y);
                see(rect.x + rect.w, rect.y + rect.h);
            }
            Item::Edge { points, .. } => points.iter().for_each(|(a, b)| {
                see(a.0, a.1);
                see(b.0, b.1);
            }),
            Item::Label { text, x, y, .. } => {
                let half = text.chars().count() as f64 * 3.5;
                see(x - half, y - 8.0);
                see(x + half, y + 8.0);
            }
        }
    }
    if items.is_empty() || !min_x.is_finite() {
        return Drawing { width: 0.0, height: 0.0, items };
    }
    let (dx, dy) = (MARGIN - min_x, MARGIN - min_y);
    let items = items.iter().map(|i| shift_item(i, dx, dy)).collect();
    Drawing { width: max_x - min_x + 2.0 * MARGIN, height: max_y - min_y + 2.0 * MARGIN, items }
}

/// A `layout-rs` backend that records where things went instead of drawing them.
#[derive(Default)]
struct Capture {
    rects: HashMap<String, (f64, f64)>,
    arrows: Vec<(String, Vec<Segment>, (bool, bool))>,
    texts: Vec<(String, f64, f64)>,
}

impl RenderBackend for Capture {
    fn draw_rect(
        &mut self,
        xy: Point,
        _size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        if let Some(id) = properties {
            self.rects.insert(id, (xy.x, xy.y));
        }
    }

    fn draw_line(&mut self, _start: Point, _stop: Point, _look: &StyleAttr, _properties: Option<String>) {}

    fn draw_circle(&mut self, _xy: Point, _size: Point, _look: &StyleAttr, _properties: Option<String>) {}

    fn draw_text(&mut self, xy: Point, text: &str, _look: &StyleAttr) {
        if !text.is_empty() {
            self.texts.push((text.to_owned(), xy.x, xy.y));
        }
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        head: (bool, bool),
        _look: &StyleAttr,
        properties: Option<String>,
        _text: &str,
    ) {
        let points = path.iter().map(|(a, b)| ((a.x, a.y), (b.x, b.y))).collect();
        self.arrows.push((properties.unwrap_or_default(), points, head));
    }

    fn create_clip(&mut self, _xy: Point, _size: Point, _rounded_px: usize) -> ClipHandle {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;
    use serde_json::json;

    fn states(d: &Drawing) -> Vec<(String, Rect)> {
        d.items
            .iter()
            .filter_map(|i| match i {
                Item::State { name, rect, .. } => Some((name.clone(), *rect)),
                _ => None,
            })
            .collect()
    }

    fn overlap(a: &Rect, b: &Rect) -> bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    fn inside(inner: &Rect, outer: &Rect) -> bool {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.x + inner.w <= outer.x + outer.w
            && inner.y + inner.h <= outer.y + outer.h
    }

    #[test]
    fn a_chain_is_drawn_top_to_bottom_without_overlaps() {
        let g = Graph::from_definition(&json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Succeed"}
        }}))
        .unwrap();
        let d = layout(&g);
        let s = states(&d);
        assert_eq!(s.len(), 3);
        assert!(s[0].1.y < s[1].1.y && s[1].1.y < s[2].1.y, "{s:?}");
        let edges = d.items.iter().filter(|i| matches!(i, Item::Edge { .. })).count();
        assert_eq!(edges, 4, "start→A, A→B, B→C, C→end");
        for item in &d.items {
            if let Item::State { rect, .. } | Item::Marker { rect, .. } = item {
                assert!(rect.x >= 0.0 && rect.y >= 0.0 && rect.x + rect.w <= d.width && rect.y + rect.h <= d.height);
            }
        }
    }

    #[test]
    fn choice_branches_sit_side_by_side_and_are_labelled() {
        let g = Graph::from_definition(&json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Big"}], "Default": "Small"},
            "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}
        }}))
        .unwrap();
        let d = layout(&g);
        let (big, small) = (d.state_rect("Big").unwrap(), d.state_rect("Small").unwrap());
        assert!((big.y - small.y).abs() < 1.0, "same rank: {big:?} {small:?}");
        assert!(!overlap(&big, &small));
        let labels: Vec<&str> = d
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Label { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(labels.contains(&"$.n > 3") && labels.contains(&"Default"), "{labels:?}");
    }

    #[test]
    fn parallel_branches_nest_inside_their_state() {
        let g = Graph::from_definition(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "After", "Branches": [
                {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"}, "A2": {"Type": "Pass", "End": true}}},
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}}
            ]},
            "After": {"Type": "Succeed"}
        }}))
        .unwrap();
        let d = layout(&g);
        let p = d.state_rect("P").unwrap();
        for name in ["A1", "A2", "B1"] {
            assert!(inside(&d.state_rect(name).unwrap(), &p), "{name} inside P");
        }
        assert!(!overlap(&d.state_rect("A1").unwrap(), &d.state_rect("B1").unwrap()));
        assert!(d.state_rect("After").unwrap().y > p.y + p.h - 1.0, "After below the group");
        let frames = d.items.iter().filter(|i| matches!(i, Item::Frame { .. })).count();
        assert_eq!(frames, 2);
    }

    #[test]
    fn a_choice_of_many_rules_with_loops_is_laid_out() {
        let mut body = serde_json::Map::new();
        let rules: Vec<_> =
            (0..150).map(|i| json!({"Variable": "$.x", "NumericEquals": i, "Next": format!("T{i}")})).collect();
        body.insert("C".into(), json!({"Type": "Choice", "Choices": rules, "Default": "T0"}));
        for i in 0..150 {
            body.insert(format!("T{i}"), json!({"Type": "Pass", "Next": if i % 3 == 0 { "C" } else { "End" }}));
        }
        body.insert("End".into(), json!({"Type": "Succeed"}));
        let g = Graph::from_definition(&json!({"StartAt": "C", "States": body})).unwrap();
        let d = layout(&g);
        assert_eq!(states(&d).len(), 152);
    }

    #[test]
    fn the_fallback_places_ranks_without_overlaps() {
        let g = Graph::from_definition(&json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "A"}], "Default": "B"},
            "A": {"Type": "Pass", "Next": "C"}, "B": {"Type": "Succeed"}
        }}))
        .unwrap();
        let nodes: Vec<Node> = g
            .root
            .states
            .iter()
            .map(|s| Node { size: (state_width(&s.name), STATE_HEIGHT), nested: Vec::new() })
            .collect();
        let placed = place_in_ranks(&nodes, &g.root.edges);
        let d = assemble(&g.root, &nodes, placed);
        let s = states(&d);
        assert_eq!(s.len(), 3);
        assert!(!overlap(&s[1].1, &s[2].1));
        assert!(s[0].1.y < s[1].1.y, "C above A and B");
        assert_eq!(d.items.iter().filter(|i| matches!(i, Item::Edge { .. })).count(), 5);
    }

    #[test]
    fn loops_self_loops_and_doubled_edges_are_laid_out() {
        let g = Graph::from_definition(&json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.done", "BooleanEquals": true, "Next": "Done"},
                {"Variable": "$.again", "BooleanEquals": true, "Next": "Check"},
                {"Variable": "$.skip", "BooleanEquals": true, "Next": "Done"}
            ], "Default": "Work"},
            "Work": {"Type": "Task", "Resource": "r", "Next": "Check", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Check"}]},
            "Done": {"Type": "Succeed"}
        }}))
        .unwrap();
        let d = layout(&g);
        assert_eq!(states(&d).len(), 3);
        assert!(d.width > 0.0 && d.height > 0.0);
    }
}
