//! What an expression refers to, worked out once from its syntax tree: the `$names` to bind, the
//! workflow variables it reads, and the references to the input document AWS refuses.

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};
use jsonata_core::parser::ParserError;

use super::functions;

/// Facts about one expression.
pub(super) struct Facts {
    /// Every `$name` mentioned in value or call position, `$states` included, in order of first mention.
    pub(super) names: Vec<String>,
    /// The workflow variables read: `names` less functions, parameters and locally assigned names.
    pub(super) references: Vec<String>,
    /// AWS's objections to references to the input document, one per distinct reference.
    pub(super) restrictions: Vec<String>,
}

/// Walks the tree once for names and once for top-level references.
pub(super) fn analyse(ast: &AstNode) -> Facts {
    let mut names = Names::default();
    names.visit(ast);
    let references = names
        .mentioned
        .iter()
        .filter(|n| {
            n.as_str() != "states"
                && !names.local.contains(n)
                && !functions::is_function_name(n)
                && !is_builtin_function(n)
        })
        .cloned()
        .collect();
    let mut restrictions = Vec::new();
    top_level(ast, true, &mut restrictions);
    Facts { names: names.mentioned, references, restrictions }
}

/// Collects `$name` mentions and the names the expression binds itself.
#[derive(Default)]
struct Names {
    mentioned: Vec<String>,
    local: Vec<String>,
}

impl Names {
    fn mention(&mut self, name: &str) {
        if !name.is_empty() && !self.mentioned.iter().any(|n| n == name) {
            self.mentioned.push(name.to_owned());
        }
    }

    fn bind(&mut self, name: &str) {
        if !name.is_empty() && !self.local.iter().any(|n| n == name) {
            self.local.push(name.to_owned());
        }
    }

    fn visit(&mut self, node: &AstNode) {
        jsonata_core::value::with_stack(|| self.visit_inner(node));
    }

    fn visit_inner(&mut self, node: &AstNode) {
        match node {
            AstNode::Variable(name) => self.mention(name),
            AstNode::Function { name, args, is_builtin } => {
                if *is_builtin {
                    self.mention(name);
                }
                args.iter().for_each(|a| self.visit(a));
            }
            AstNode::Binary { op: BinaryOp::ColonEqual, lhs, rhs } => {
                match lhs.as_ref() {
                    AstNode::Variable(name) => self.bind(name),
                    other => self.visit(other),
                }
                self.visit(rhs);
            }
            AstNode::Binary { op: BinaryOp::FocusBind | BinaryOp::IndexBind, lhs, rhs } => {
                self.visit(lhs);
                match rhs.as_ref() {
                    AstNode::Variable(name) => self.bind(name),
                    other => self.visit(other),
                }
            }
            AstNode::Binary { lhs, rhs, .. } => {
                self.visit(lhs);
                self.visit(rhs);
            }
            AstNode::Unary { operand, .. } => self.visit(operand),
            AstNode::Path { steps } => steps.iter().for_each(|s| self.visit_step(s)),
            AstNode::Call { procedure, args } => {
                self.visit(procedure);
                args.iter().for_each(|a| self.visit(a));
            }
            AstNode::Lambda { params, body, .. } => {
                params.iter().for_each(|p| self.bind(p));
                self.visit(body);
            }
            AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
                items.iter().for_each(|i| self.visit(i))
            }
            AstNode::Object(pairs) => pairs.iter().for_each(|(k, v)| {
                self.visit(k);
                self.visit(v);
            }),
            AstNode::ObjectTransform { input, pattern } => {
                self.visit(input);
                pattern.iter().for_each(|(k, v)| {
                    self.visit(k);
                    self.visit(v);
                });
            }
            AstNode::Conditional { condition, then_branch, else_branch } => {
                self.visit(condition);
                self.visit(then_branch);
                if let Some(e) = else_branch {
                    self.visit(e);
                }
            }
            AstNode::FunctionApplication(inner) => self.visit(inner),
            AstNode::Sort { input, terms } => {
                self.visit(input);
                terms.iter().for_each(|(t, _)| self.visit(t));
            }
            AstNode::Transform { location, update, delete } => {
                self.visit(location);
                self.visit(update);
                if let Some(d) = delete {
                    self.visit(d);
                }
            }
            AstNode::String(_)
            | AstNode::Name(_)
            | AstNode::Number(_)
            | AstNode::Boolean(_)
            | AstNode::Null
            | AstNode::Undefined
            | AstNode::Placeholder
            | AstNode::Regex { .. }
            | AstNode::ParentVariable(_)
            | AstNode::Wildcard
            | AstNode::Descendant
            | AstNode::Parent(_) => {}
        }
    }

    fn visit_step(&mut self, step: &PathStep) {
        if let Some(focus) = &step.focus {
            self.bind(focus);
        }
        if let Some(index) = &step.index_var {
            self.bind(index);
        }
        self.visit(&step.node);
        for stage in &step.stages {
            match stage {
                Stage::Filter(predicate) => self.visit(predicate),
                Stage::Index(name) => self.bind(name),
                Stage::KeepArray => {}
            }
        }
    }
}

/// Records references to the input document. `root` is true where the context value would be the
/// input document itself: outside any path step after the first, predicate, or function body.
fn top_level(node: &AstNode, root: bool, out: &mut Vec<String>) {
    jsonata_core::value::with_stack(|| top_level_inner(node, root, out));
}

fn top_level_inner(node: &AstNode, root: bool, out: &mut Vec<String>) {
    let mut report = |message: String| {
        if !out.contains(&message) {
            out.push(message);
        }
    };
    match node {
        AstNode::ParentVariable(_) => report("Reference to '$$' is not supported.".to_owned()),
        AstNode::Variable(name) if name.is_empty() && root => {
            report("Reference to '$' at the top level is not supported.".to_owned())
        }
        AstNode::Name(name) if root => report(format!("Reference to '{name}' at the top level is not supported.")),
        AstNode::Path { steps } => {
            for (i, step) in steps.iter().enumerate() {
                top_level(&step.node, root && i == 0, out);
                for stage in &step.stages {
                    if let Stage::Filter(predicate) = stage {
                        top_level(predicate, false, out);
                    }
                }
            }
        }
        AstNode::Function { args, .. } => args.iter().for_each(|a| top_level(a, root, out)),
        AstNode::Call { procedure, args } => {
            top_level(procedure, root, out);
            args.iter().for_each(|a| top_level(a, root, out));
        }
        AstNode::Binary { lhs, rhs, .. } => {
            top_level(lhs, root, out);
            top_level(rhs, root, out);
        }
        AstNode::Unary { operand, .. } => top_level(operand, root, out),
        AstNode::Lambda { body, .. } => top_level(body, false, out),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter().for_each(|i| top_level(i, root, out))
        }
        AstNode::Object(pairs) => pairs.iter().for_each(|(k, v)| {
            top_level(k, root, out);
            top_level(v, root, out);
        }),
        AstNode::ObjectTransform { input, pattern } => {
            top_level(input, root, out);
            pattern.iter().for_each(|(k, v)| {
                top_level(k, false, out);
                top_level(v, false, out);
            });
        }
        AstNode::Conditional { condition, then_branch, else_branch } => {
            top_level(condition, root, out);
            top_level(then_branch, root, out);
            if let Some(e) = else_branch {
                top_level(e, root, out);
            }
        }
        AstNode::FunctionApplication(inner) => top_level(inner, root, out),
        AstNode::Sort { input, terms } => {
            top_level(input, root, out);
            terms.iter().for_each(|(t, _)| top_level(t, false, out));
        }
        AstNode::Transform { location, update, delete } => {
            top_level(location, false, out);
            top_level(update, false, out);
            if let Some(d) = delete {
                top_level(d, false, out);
            }
        }
        AstNode::Variable(_)
        | AstNode::Name(_)
        | AstNode::String(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. }
        | AstNode::Wildcard
        | AstNode::Descendant
        | AstNode::Parent(_) => {}
    }
}

/// JSONata's own functions (the 2.x library), which a `$name` in call position means unless bound.
const BUILTIN_FUNCTIONS: &[&str] = &[
    "abs",
    "append",
    "assert",
    "average",
    "base64decode",
    "base64encode",
    "boolean",
    "ceil",
    "contains",
    "count",
    "decodeUrl",
    "decodeUrlComponent",
    "distinct",
    "each",
    "encodeUrl",
    "encodeUrlComponent",
    "error",
    "eval",
    "exists",
    "filter",
    "floor",
    "formatBase",
    "formatInteger",
    "formatNumber",
    "fromMillis",
    "join",
    "keys",
    "length",
    "lookup",
    "lowercase",
    "map",
    "match",
    "max",
    "merge",
    "millis",
    "min",
    "not",
    "now",
    "number",
    "pad",
    "parseInteger",
    "power",
    "random",
    "reduce",
    "replace",
    "reverse",
    "round",
    "shuffle",
    "sift",
    "single",
    "sort",
    "split",
    "spread",
    "sqrt",
    "string",
    "substring",
    "substringAfter",
    "substringBefore",
    "sum",
    "toMillis",
    "trim",
    "type",
    "uppercase",
    "zip",
];

fn is_builtin_function(name: &str) -> bool {
    BUILTIN_FUNCTIONS.contains(&name)
}

/// A parse error's message in jsonata-js's words: tokens are shown as the symbols they stand for,
/// quoted (`S0202: Expected "]", got ","`).
pub(super) fn syntax_message(error: &ParserError) -> String {
    match error {
        ParserError::Expected { expected, found } if expected != "parameter name" => {
            let expected = token_text(expected);
            if found == "Eof" {
                format!("S0203: Expected {expected} before end of expression")
            } else {
                format!("S0202: Expected {expected}, got {}", token_text(found))
            }
        }
        ParserError::UnexpectedToken(token) if token != "Eof" && token.starts_with(char::is_alphabetic) => {
            format!("S0211: The symbol {} cannot be used as a unary operator", token_text(token))
        }
        ParserError::InvalidSyntax(message) => match message.strip_prefix("S0201: Syntax error: ") {
            Some(token) => format!("S0201: Syntax error: {}", token_text(token)),
            None => message.clone(),
        },
        ParserError::UnclosedComment => "S0106: Comment has no closing tag".to_owned(),
        other => other.to_string(),
    }
}

/// A lexer token (as jsonata-core names it, `RightBracket`, `Identifier("x")`) as jsonata-js shows it.
fn token_text(token: &str) -> String {
    let symbol = match token {
        "Plus" => "+",
        "Minus" => "-",
        "Star" => "*",
        "StarStar" => "**",
        "Slash" => "/",
        "Percent" => "%",
        "Equal" => "=",
        "NotEqual" => "!=",
        "LessThan" => "<",
        "LessThanOrEqual" => "<=",
        "GreaterThan" => ">",
        "GreaterThanOrEqual" => ">=",
        "And" => "and",
        "Or" => "or",
        "In" => "in",
        "Ampersand" => "&",
        "Dot" => ".",
        "DotDot" => "..",
        "Question" => "?",
        "QuestionQuestion" => "??",
        "QuestionColon" => "?:",
        "Colon" => ":",
        "ColonEqual" => ":=",
        "TildeArrow" => "~>",
        "LeftParen" => "(",
        "RightParen" => ")",
        "LeftBracket" => "[",
        "RightBracket" => "]",
        "LeftBrace" => "{",
        "RightBrace" => "}",
        "Comma" => ",",
        "Semicolon" => ";",
        "Caret" => "^",
        "Pipe" => "|",
        "Hash" => "#",
        "At" => "@",
        "True" => "true",
        "False" => "false",
        "Null" => "null",
        "Undefined" => "undefined",
        other => {
            // `Identifier("x")`, `Variable("x")`, `Number(1.0)`, `String("x")`: show the payload.
            let payload = other.split_once('(').and_then(|(kind, rest)| rest.strip_suffix(')').map(|p| (kind, p)));
            return match payload {
                Some(("Variable", p)) => format!("\"${}\"", p.trim_matches('"')),
                Some((_, p)) if p.starts_with('"') => p.to_owned(),
                Some((_, p)) => format!("\"{p}\""),
                None => format!("\"{other}\""),
            };
        }
    };
    format!("\"{symbol}\"")
}
