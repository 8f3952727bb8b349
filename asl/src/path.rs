//! JSONPath paths and reference paths, parsed once when a definition loads.
//!
//! ASL uses three roots: `$` (the state's data), `$$` (the context object) and `$name` (a variable).
//! A *definite* path (only member names and indexes) selects at most one node and is evaluated here
//! directly; an *indefinite* one (wildcards, slices, unions, filters, `..`) is handed to
//! `serde_json_path` and yields the array of every match, as the Jayway implementation that AWS uses does.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's input (or the value a field is applied to).
    Data,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `[n]`; negative counts from the end.
    Index(i64),
}

/// A parsed path.
#[derive(Debug, Clone)]
pub struct Path {
    source: String,
    root: Root,
    kind: PathKind,
}

#[derive(Debug, Clone)]
enum PathKind {
    Definite(Vec<Step>),
    /// The query rewritten with `$` as its root.
    Indefinite(Box<serde_json_path::JsonPath>),
    /// A filter that does not compile (`[?(@.Lang==es)]`, a bare word where a literal belongs): AWS
    /// accepts the definition and fails when the path is evaluated.
    BadFilter(String),
}

/// A path string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path '{path}': {reason}")]
pub struct PathSyntaxError {
    /// The offending text.
    pub path: String,
    /// Why it was refused.
    pub reason: String,
}

/// A path that selected nothing at run time, or could not be evaluated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid path '{path}' : {kind}")]
pub struct PathMiss {
    /// The path as written.
    pub path: String,
    /// What went wrong.
    pub kind: MissKind,
}

/// Why a path yielded nothing, in Jayway's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MissKind {
    /// The last step found nothing; the Jayway-normalised path (`$['a'][0]`) up to that step.
    #[error("No results for path: {0}")]
    NoResults(String),
    /// A step before the last found nothing; the normalised path up to that step.
    #[error("Missing property in path {0}")]
    MissingProperty(String),
    /// A filter that does not compile.
    // The wording follows Jayway's InvalidPathException for filters; AWS's exact cause for this case
    // could not be confirmed.
    #[error("Failed to parse filter: {0}")]
    BadFilter(String),
}

/// Why setting a value at a reference path failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unable to apply ResultPath '{path}' to input '{input}'")]
pub struct PathSetError {
    /// The reference path as written.
    pub path: String,
    /// The compact JSON of the value the path was applied to.
    pub input: String,
}

/// Looks variables up by name.
pub trait VarLookup {
    /// The variable's current value, if it was ever assigned.
    fn lookup(&self, name: &str) -> Option<&Value>;
}

/// No variables at all.
pub struct NoVars;

impl VarLookup for NoVars {
    fn lookup(&self, _: &str) -> Option<&Value> {
        None
    }
}

impl VarLookup for Map<String, Value> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// What the three roots resolve to when a path is evaluated.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// `$`.
    pub data: &'a Value,
    /// `$$`.
    pub context: &'a Value,
    /// `$name`.
    pub vars: &'a dyn VarLookup,
}

/// Evaluating a path failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path selected nothing.
    #[error(transparent)]
    Miss(#[from] PathMiss),
    /// `$name` names a variable that was never assigned.
    #[error("The variable '${0}' is not defined")]
    UndefinedVariable(String),
}

impl Path {
    /// Parses any ASL path (`$...`, `$$...`, `$name...`).
    ///
    /// Paths are read as AWS's Jayway-based parser reads them: spaces around the path are ignored,
    /// a `.` before a bracket is dropped (`$.[0]` is `$[0]`), and a name right after a bracket is a
    /// member (`$.a[0]b` is `$.a[0].b`).
    pub fn parse(source: &str) -> Result<Path, PathSyntaxError> {
        let err = |reason: &str| PathSyntaxError { path: source.to_owned(), reason: reason.to_owned() };
        let (root, rest) = split_root(source.trim_matches(' ')).ok_or_else(|| err("a path must start with '$'"))?;
        let rest = jayway_canonical(rest);
        let kind = match parse_definite(&rest) {
            Ok(steps) => PathKind::Definite(steps),
            Err(DefiniteError::Indefinite) => {
                if has_broken_unicode_escape(&rest) {
                    return Err(err("invalid unicode escape"));
                }
                if filter_depth(&rest) > MAX_FILTER_DEPTH {
                    return Err(err(&format!("filters nested more than {MAX_FILTER_DEPTH} deep")));
                }
                let query = format!("${rest}");
                let compiled = serde_json_path::JsonPath::parse(&query)
                    .or_else(|_| serde_json_path::JsonPath::parse(&jayway_to_rfc(&query)));
                match (compiled, first_filter(&rest)) {
                    (Ok(compiled), _) => PathKind::Indefinite(Box::new(compiled)),
                    (Err(_), Some(filter)) => PathKind::BadFilter(filter),
                    (Err(e), None) => return Err(err(&e.to_string())),
                }
            }
            Err(DefiniteError::Syntax(reason)) => return Err(err(&reason)),
        };
        Ok(Path { source: source.to_owned(), root, kind })
    }

    /// Parses a reference path: definite, no wildcards, filters or unions.
    pub fn parse_reference(source: &str) -> Result<Path, PathSyntaxError> {
        let path = Path::parse(source)?;
        if path.is_definite() {
            Ok(path)
        } else {
            Err(PathSyntaxError { path: source.to_owned(), reason: "not a reference path".to_owned() })
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Where the path starts.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// True when the path selects at most one node.
    pub fn is_definite(&self) -> bool {
        matches!(self.kind, PathKind::Definite(_))
    }

    /// The steps of a definite path (empty for `$`); `None` for an indefinite one.
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.kind {
            PathKind::Definite(steps) => Some(steps),
            PathKind::Indefinite(_) | PathKind::BadFilter(_) => None,
        }
    }

    /// Evaluates the path in a scope.
    pub fn eval<'a>(&self, scope: &Scope<'a>) -> Result<Cow<'a, Value>, PathError> {
        let root: &'a Value = match &self.root {
            Root::Data => scope.data,
            Root::Context => scope.context,
            Root::Variable(name) => {
                scope.vars.lookup(name).ok_or_else(|| PathError::UndefinedVariable(name.clone()))?
            }
        };
        Ok(self.select(root)?)
    }

    /// Applies the path's steps to `root`, whatever the path's own root is.
    pub fn select<'a>(&self, root: &'a Value) -> Result<Cow<'a, Value>, PathMiss> {
        match &self.kind {
            PathKind::Definite(steps) => {
                let mut current = root;
                for (i, step) in steps.iter().enumerate() {
                    let next = match (step, current) {
                        (Step::Field(name), Value::Object(map)) => map.get(name),
                        (Step::Index(i), Value::Array(items)) => {
                            let len = items.len() as i64;
                            let idx = if *i < 0 { len + i } else { *i };
                            if (0..len).contains(&idx) {
                                items.get(idx as usize)
                            } else {
                                None
                            }
                        }
                        _ => None,
                    };
                    current = next.ok_or_else(|| {
                        let normalized = normalize(&steps[..=i]);
                        let kind = if i + 1 < steps.len() {
                            MissKind::MissingProperty(normalized)
                        } else {
                            MissKind::NoResults(normalized)
                        };
                        PathMiss { path: self.source.clone(), kind }
                    })?;
                }
                Ok(Cow::Borrowed(current))
            }
            PathKind::Indefinite(query) => {
                let nodes = query.query(root).all().into_iter().cloned().collect();
                Ok(Cow::Owned(Value::Array(nodes)))
            }
            PathKind::BadFilter(filter) => {
                Err(PathMiss { path: self.source.clone(), kind: MissKind::BadFilter(filter.clone()) })
            }
        }
    }

    /// Writes `value` at this reference path inside `target`, creating missing objects on the way.
    ///
    /// `$` replaces `target` entirely. A step through a value that is not an object (or an index
    /// outside an array) fails, as `States.ResultPathMatchFailure` does in AWS.
    pub fn set(&self, target: &mut Value, value: Value) -> Result<(), PathSetError> {
        let steps = match &self.kind {
            PathKind::Definite(steps) => steps,
            PathKind::Indefinite(_) | PathKind::BadFilter(_) => return Err(self.set_error(target)),
        };
        // Checked before anything is written, so that the error shows the target as it was (and a
        // write that succeeds serialises nothing).
        if !settable(steps, target) {
            return Err(self.set_error(target));
        }
        write_at(steps, target, value).ok_or_else(|| self.set_error(target))
    }

    fn set_error(&self, target: &Value) -> PathSetError {
        PathSetError { path: self.source.clone(), input: serde_json::to_string(target).unwrap_or_default() }
    }
}

/// Whether [`write_at`] can put a value at `steps` in `target`: each step goes through an object (or
/// a missing member, which becomes an object) or an index inside an array.
fn settable(steps: &[Step], target: &Value) -> bool {
    let Some((last, parents)) = steps.split_last() else { return true };
    let mut current = Some(target);
    for step in parents {
        current = match (step, current) {
            (Step::Field(_), None) => None,
            (Step::Field(name), Some(Value::Object(map))) => map.get(name.as_str()),
            (Step::Index(i), Some(Value::Array(items))) => match resolve_index(*i, items.len()) {
                Some(idx) => items.get(idx),
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, current) {
        (Step::Field(_), None | Some(Value::Object(_))) => true,
        (Step::Index(i), Some(Value::Array(items))) => resolve_index(*i, items.len()).is_some(),
        _ => false,
    }
}

/// Writes `value` at `steps` inside `target`, creating missing objects on the way; `None` where a
/// step cannot be taken ([`settable`] says so beforehand).
fn write_at(steps: &[Step], target: &mut Value, value: Value) -> Option<()> {
    let Some((last, parents)) = steps.split_last() else {
        *target = value;
        return Some(());
    };
    let mut current = target;
    for step in parents {
        current = match (step, current) {
            (Step::Field(name), Value::Object(map)) => {
                map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()))
            }
            (Step::Index(i), Value::Array(items)) => {
                let idx = resolve_index(*i, items.len())?;
                items.get_mut(idx)?
            }
            _ => return None,
        };
    }
    match (last, current) {
        (Step::Field(name), Value::Object(map)) => {
            map.insert(name.clone(), value);
        }
        (Step::Index(i), Value::Array(items)) => {
            let idx = resolve_index(*i, items.len())?;
            *items.get_mut(idx)? = value;
        }
        _ => return None,
    }
    Some(())
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        self.source == other.source
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let idx = if i < 0 { len + i } else { i };
    (0..len).contains(&idx).then_some(idx as usize)
}

/// Renders steps the way Jayway reports them: `$['a'][0]`.
pub fn normalize(steps: &[Step]) -> String {
    let mut out = String::from("$");
    for step in steps {
        match step {
            Step::Field(name) => {
                out.push_str("['");
                out.push_str(name);
                out.push_str("']");
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Splits `$$.a`, `$var.a` and `$.a` into their root and the rest (which starts with `.`, `[` or is empty).
fn split_root(source: &str) -> Option<(Root, &str)> {
    let rest = source.strip_prefix('$')?;
    if let Some(rest) = rest.strip_prefix('$') {
        return Some((Root::Context, rest));
    }
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    if end == 0 {
        return Some((Root::Data, rest));
    }
    let name = &rest[..end];
    if !is_variable_name(name) {
        return None;
    }
    Some((Root::Variable(name.to_owned()), &rest[end..]))
}

/// Whether `name` is a valid variable name (letters, digits, `_`; not starting with a digit).
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

enum DefiniteError {
    Indefinite,
    Syntax(String),
}

fn parse_definite(mut rest: &str) -> Result<Vec<Step>, DefiniteError> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("..") {
            let _ = after;
            return Err(DefiniteError::Indefinite);
        } else if let Some(after) = rest.strip_prefix('.') {
            let mut name = String::new();
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped)) => name.push(escaped),
                        None => return Err(DefiniteError::Syntax("dangling escape".into())),
                    },
                    '.' | '[' => {
                        end = i;
                        break;
                    }
                    '*' if name.is_empty() => return Err(DefiniteError::Indefinite),
                    '(' | ')' | '?' | '@' | ',' | ':' | '\'' | '"' | ' ' | ']' => {
                        return Err(DefiniteError::Syntax(format!("unexpected '{c}'")))
                    }
                    c => name.push(c),
                }
            }
            if name.is_empty() {
                return Err(DefiniteError::Syntax("empty member name".into()));
            }
            steps.push(Step::Field(name));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = find_bracket_end(after).ok_or_else(|| DefiniteError::Syntax("unclosed '['".into()))?;
            let inner = after[..close].trim();
            rest = &after[close + 1..];
            if let Some(name) = quoted(inner) {
                steps.push(Step::Field(name));
            } else if let Ok(i) = inner.parse::<i64>() {
                steps.push(Step::Index(i));
            } else if inner == "*" || inner.starts_with('?') || inner.contains(':') || inner.contains(',') {
                return Err(DefiniteError::Indefinite);
            } else {
                return Err(DefiniteError::Syntax(format!("unexpected '[{inner}]'")));
            }
        } else {
            return Err(DefiniteError::Syntax(format!("unexpected '{rest}'")));
        }
    }
    Ok(steps)
}

/// Index of the `]` closing a bracket, skipping quoted strings.
fn find_bracket_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// How deep filters (`[?(…)]`) may nest in a path. serde_json_path's parser takes twice as long for
/// each level (about 1.5 ms at 9 levels, and a definition could ask for 30). AWS's own limit is not
/// documented; real paths nest one or two filters.
const MAX_FILTER_DEPTH: usize = 8;

/// The deepest nesting of filters in a path (quoted names and strings skipped; an unclosed filter
/// counts as open).
fn filter_depth(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut open, mut deepest, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' => {
                let filter = b[i + 1..].iter().find(|c| **c != b' ') == Some(&b'?');
                open.push(filter);
                deepest = deepest.max(open.iter().filter(|f| **f).count());
            }
            b']' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The name in `'name'` or `"name"` when `inner` is exactly one quoted string.
///
/// Whether `text` has a `\u` escape that is not four hexadecimal digits (or a high surrogate
/// without its low half). serde_json_path panics (nom's `Incomplete`) on some of these, such as a
/// query that ends inside the escape, so they are refused before it sees them.
fn has_broken_unicode_escape(text: &str) -> bool {
    let b = text.as_bytes();
    let unit = |at: usize| -> Option<u16> {
        let hex = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
        hex.bytes().all(|c| c.is_ascii_hexdigit()).then(|| u16::from_str_radix(hex, 16).ok()).flatten()
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let Some(code) = unit(i + 2) else { return true };
        i += 6;
        if (0xD800..0xDC00).contains(&code) {
            let low = (b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u')).then(|| unit(i + 2)).flatten();
            if !low.is_some_and(|l| (0xDC00..0xE000).contains(&l)) {
                return true;
            }
            i += 6;
        }
    }
    false
}

/// As in Jayway, a backslash escapes the quote that delimits the name; before any other character it
/// stays, with that character (AWS reads `$['Test\"']` as the member `Test\"`).
fn quoted(inner: &str) -> Option<String> {
    let q = inner.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = inner.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                next if next == q => out.push(next),
                next => {
                    out.push('\\');
                    out.push(next);
                }
            },
            c if c == q => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Rewrites what Jayway tolerates outside brackets into the canonical form: `.[` becomes `[` (but
/// `..[` stays a deep scan) and `]name` becomes `].name`.
fn jayway_canonical(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len() + 4);
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
                continue;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if depth > 0 => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth = depth.saturating_sub(1);
                out.push(c);
                if depth == 0 && chars.peek().is_some_and(|n| !matches!(n, '.' | '[')) {
                    out.push('.');
                }
                continue;
            }
            (None, '.') if depth == 0 && chars.peek() == Some(&'[') && !out.ends_with('.') => continue,
            (None, '\\') if depth == 0 => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The first filter (`[?(…)]`) of a path, brackets included.
fn first_filter(rest: &str) -> Option<String> {
    let start = rest.find("[?")?;
    let end = find_bracket_end(&rest[start + 1..])?;
    Some(rest[start..start + end + 2].to_owned())
}

/// Rewrites Jayway-only syntax into RFC 9535: `[?(@.a)]` stays, `.*` stays; `&&`/`||` stay;
/// member names with characters RFC shorthand refuses become bracketed.
fn jayway_to_rfc(query: &str) -> String {
    query.replace("=~", "==")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(path: &str, data: Value) -> Result<Value, PathError> {
        let p = Path::parse(path).unwrap();
        let ctx = json!({"Execution": {"Name": "e"}});
        let mut vars = Map::new();
        vars.insert("v".into(), json!({"x": [1, 2]}));
        let scope = Scope { data: &data, context: &ctx, vars: &vars };
        p.eval(&scope).map(Cow::into_owned)
    }

    #[test]
    fn definite_paths() {
        assert_eq!(get("$", json!(1)).unwrap(), json!(1));
        assert_eq!(get("$.a.b", json!({"a": {"b": 2}})).unwrap(), json!(2));
        assert_eq!(get("$.a[1]", json!({"a": [1, 2]})).unwrap(), json!(2));
        assert_eq!(get("$.a[-1]", json!({"a": [1, 3]})).unwrap(), json!(3));
        assert_eq!(get("$['a b']", json!({"a b": 4})).unwrap(), json!(4));
        assert_eq!(get("$$.Execution.Name", json!({})).unwrap(), json!("e"));
        assert_eq!(get("$v.x[0]", json!({})).unwrap(), json!(1));
        assert_eq!(get("$.a\\.b", json!({"a.b": 5})).unwrap(), json!(5));
    }

    #[test]
    fn misses_name_the_jayway_path() {
        let err = get("$.a.x", json!({"a": {}})).unwrap_err();
        assert_eq!(err.to_string(), "Invalid path '$.a.x' : No results for path: $['a']['x']");
        let err = get("$.no.such.path", json!({"a": {}})).unwrap_err();
        assert_eq!(err.to_string(), "Invalid path '$.no.such.path' : Missing property in path $['no']");
        assert!(matches!(get("$nope", json!({})), Err(PathError::UndefinedVariable(_))));
    }

    #[test]
    fn indefinite_paths_collect() {
        assert_eq!(get("$.a[*].b", json!({"a": [{"b": 1}, {"b": 2}]})).unwrap(), json!([1, 2]));
        assert_eq!(get("$..b", json!({"a": [{"b": 1}]})).unwrap(), json!([1]));
        assert_eq!(get("$.a[?(@.b > 1)].b", json!({"a": [{"b": 1}, {"b": 2}]})).unwrap(), json!([2]));
        assert_eq!(get("$.a[0:2]", json!({"a": [1, 2, 3]})).unwrap(), json!([1, 2]));
    }

    #[test]
    fn set_creates_and_overwrites() {
        let mut v = json!({"a": 1});
        Path::parse("$.b.c").unwrap().set(&mut v, json!(2)).unwrap();
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
        Path::parse("$.a").unwrap().set(&mut v, json!(3)).unwrap();
        assert_eq!(v["a"], json!(3));
        let mut s = json!("foo");
        assert!(Path::parse("$.x").unwrap().set(&mut s, json!(1)).is_err());
        let mut w = json!(1);
        Path::parse("$").unwrap().set(&mut w, json!({"r": 1})).unwrap();
        assert_eq!(w, json!({"r": 1}));
    }

    #[test]
    fn a_set_that_cannot_be_made_changes_nothing_and_shows_the_target_as_it_was() {
        for (path, target) in [
            ("$.missing.deeper[0]", json!({"a": 1})),
            ("$.a.b", json!({"a": 1})),
            ("$.list[5]", json!({"list": [1, 2]})),
            ("$.list[0].x", json!({"list": [1]})),
        ] {
            let mut v = target.clone();
            let err = Path::parse(path).unwrap().set(&mut v, json!(2)).unwrap_err();
            assert_eq!(v, target, "{path}");
            assert_eq!(err.input, target.to_string(), "{path}");
        }
        let mut v = json!({"list": [1, {"x": 0}]});
        Path::parse("$.list[-1].x").unwrap().set(&mut v, json!(2)).unwrap();
        assert_eq!(v, json!({"list": [1, {"x": 2}]}));
        Path::parse("$.list[0]").unwrap().set(&mut v, json!(3)).unwrap();
        assert_eq!(v, json!({"list": [3, {"x": 2}]}));
    }

    #[test]
    fn jayway_forms() {
        let data = json!({"a": [{"b": 1}, {"b": 2}], "c": [5]});
        assert_eq!(get("$.[0]", json!([7, 8])).unwrap(), json!(7));
        assert_eq!(get("$.c.[0]", data.clone()).unwrap(), json!(5));
        assert_eq!(get("$.a ", data.clone()).unwrap(), data["a"]);
        assert_eq!(get("  $.a[1].b  ", data.clone()).unwrap(), json!(2));
        assert_eq!(get("$.a[0]b", data.clone()).unwrap(), json!(1));
        assert_eq!(get("$.a[*]b", data.clone()).unwrap(), json!([1, 2]));
        assert_eq!(get("$..[0]", json!({"x": [3]})).unwrap(), json!([3]));
        assert_eq!(get("$['a'][1]['b']", data.clone()).unwrap(), json!(2));
        assert!(Path::parse_reference("$.a ").is_ok());
        assert_eq!(Path::parse("$.a[0]b").unwrap().steps().unwrap().len(), 3);
    }

    #[test]
    fn broken_unicode_escapes_are_syntax_errors_not_panics() {
        // Found by the evaluate_expression fuzz target: serde_json_path panicked on these.
        for bad in [r"$..['ETst\u", r"$..['a\u12", r"$..['a\u12']", r"$..['\uD800']", r"$..['\uD800", r"$..['\uZZZZ']"]
        {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
        assert!(Path::parse(r"$..['\u0041']").is_ok());
        assert!(Path::parse(r"$..['\uD83D\uDE00']").is_ok());
    }

    #[test]
    fn deeply_nested_filters_are_refused_before_they_cost_seconds() {
        // Found by the evaluate_expression fuzz target: each level doubled the parse time.
        let nested = |n: usize| format!("$.a{}{}", "..[?(@.y".repeat(n), ")]".repeat(n));
        assert!(Path::parse(&nested(MAX_FILTER_DEPTH)).is_ok());
        let err = Path::parse(&nested(30)).expect_err("refused");
        assert!(err.reason.contains("filters nested more than 8 deep"), "{err:?}");
        assert!(Path::parse(&"$.a..[?(@.y".repeat(30)).is_err(), "unclosed ones too");
        // Filters one after the other, and brackets inside quoted names, are not nesting.
        assert!(Path::parse(&format!("$.a{}", "[?(@.x == 1)]".repeat(20))).is_ok());
        assert_eq!(filter_depth("['[?(']..[?(@.a == '[?(')]"), 1);
    }

    #[test]
    fn a_backslash_in_a_bracketed_name_escapes_only_its_quote() {
        assert_eq!(get(r#"$['Test\""Name"']"#, json!({r#"Test\""Name""#: 1})).unwrap(), json!(1));
        assert_eq!(get(r"$['it\'s']", json!({"it's": 2})).unwrap(), json!(2));
        assert_eq!(get(r#"$["say \"hi\""]"#, json!({r#"say "hi""#: 3})).unwrap(), json!(3));
    }

    #[test]
    fn a_filter_that_does_not_compile_fails_when_evaluated() {
        let p = Path::parse("$.items[?(@.Lang==es)].text").unwrap();
        assert!(!p.is_definite());
        let err = get("$.items[?(@.Lang==es)].text", json!({"items": []})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid path '$.items[?(@.Lang==es)].text' : Failed to parse filter: [?(@.Lang==es)]"
        );
        assert_eq!(get("$.items[?(@.Lang=='es')].t", json!({"items": [{"Lang": "es", "t": 1}]})).unwrap(), json!([1]));
        assert!(Path::parse_reference("$.items[?(@.Lang==es)]").is_err());
    }

    #[test]
    fn syntax_errors() {
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$.").is_err());
        assert!(Path::parse("$[").is_err());
        assert!(Path::parse_reference("$.a[*]").is_err());
    }
}
