//! The parser: `States.Name(arg, …)` where an argument is a quoted string, a number, `true`, `false`,
//! `null`, a path or a nested call.
//!
//! Inside quotes only `\'`, `\{`, `\}` and `\\` are escapes; any other backslash is refused, so
//! `'say \"hi\"'` does not parse (AWS refuses such a definition). A `{}` written without escapes is
//! remembered as a `States.Format` placeholder; `\{\}` is literal text.

use serde_json::{Number, Value};

use super::{Arg, Call, Function, IntrinsicSyntaxError, StrLit};
use crate::path::Path;

/// How deeply calls may nest: the outermost call is depth 1.
pub const MAX_DEPTH: usize = 10;

/// Parses a whole call; trailing whitespace is allowed, anything else after `)` is not.
pub(super) fn parse(source: &str) -> Result<Call, IntrinsicSyntaxError> {
    let mut parser = Parser { src: source, pos: 0 };
    let call = parser.call(1)?;
    parser.skip_ws();
    if parser.pos < source.len() {
        return Err(parser.error("unexpected text after the closing ')'"));
    }
    Ok(call)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn error(&self, reason: impl std::fmt::Display) -> IntrinsicSyntaxError {
        IntrinsicSyntaxError { input: self.src.to_owned(), reason: format!("{reason} (at offset {})", self.pos) }
    }

    /// Consumes `[A-Za-z0-9._]*` and returns it.
    fn word(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            self.bump();
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn call(&mut self, depth: usize) -> Result<Call, IntrinsicSyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format_args!("intrinsic functions nest more than {MAX_DEPTH} deep")));
        }
        let name = self.word().to_owned();
        if name.is_empty() {
            return Err(self.error("expected an intrinsic function name"));
        }
        let function = Function::from_name(&name)
            .ok_or_else(|| self.error(format_args!("unknown intrinsic function '{name}'")))?;
        if self.bump() != Some('(') {
            return Err(self.error("expected '(' right after the function name"));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.bump();
            return Ok(Call { function, args });
        }
        loop {
            self.skip_ws();
            args.push(self.arg(depth)?);
            self.skip_ws();
            match self.bump() {
                Some(',') => {}
                Some(')') => return Ok(Call { function, args }),
                Some(c) => return Err(self.error(format_args!("expected ',' or ')' but found '{c}'"))),
                None => return Err(self.error("missing ')'")),
            }
        }
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicSyntaxError> {
        match self.peek() {
            Some('\'') => self.string().map(Arg::Str),
            Some('$') => self.path().map(Arg::Path),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number().map(Arg::Literal),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                let word = self.word().to_owned();
                if self.peek() == Some('(') {
                    self.pos = start;
                    return self.call(depth + 1).map(|c| Arg::Call(Box::new(c)));
                }
                match word.as_str() {
                    "null" => Ok(Arg::Literal(Value::Null)),
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    _ => Err(self.error(format_args!("unexpected '{word}'"))),
                }
            }
            Some(c) => Err(self.error(format_args!("unexpected '{c}'"))),
            None => Err(self.error("expected an argument")),
        }
    }

    /// `'…'` with its escapes.
    fn string(&mut self) -> Result<StrLit, IntrinsicSyntaxError> {
        self.bump();
        let mut value = String::new();
        let mut placeholders = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some('\'') => return Ok(StrLit { value, placeholders }),
                Some('\\') => match self.bump() {
                    Some(c @ ('\'' | '{' | '}' | '\\')) => value.push(c),
                    Some(c) => return Err(self.error(format_args!("invalid escape '\\{c}'"))),
                    None => return Err(self.error("dangling '\\'")),
                },
                Some('{') if self.peek() == Some('}') => {
                    self.bump();
                    placeholders.push(value.len());
                    value.push_str("{}");
                }
                Some(c) => value.push(c),
            }
        }
    }

    /// A JSON number; integers stay integers (`-0` is `0`), the rest are doubles.
    fn number(&mut self) -> Result<Value, IntrinsicSyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
            self.bump();
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        let parsed: Value =
            serde_json::from_str(text).map_err(|_| self.error(format_args!("invalid number '{text}'")))?;
        if !text.contains(['.', 'e', 'E']) {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Number(Number::from(i)));
            }
        }
        match parsed {
            Value::Number(n) => Ok(Value::Number(n)),
            _ => Err(self.error(format_args!("invalid number '{text}'"))),
        }
    }

    /// A path runs to the first `,`, `)` or blank outside brackets and quotes.
    fn path(&mut self) -> Result<Path, IntrinsicSyntaxError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(_), '\\') => {
                    self.bump();
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if depth > 0 => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, ',' | ')') if depth == 0 => break,
                (None, c) if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.bump();
        }
        if quote.is_some() || depth > 0 {
            return Err(self.error("unclosed '[' or quote in a path"));
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        Path::parse(&bracket_after_dot(text))
            .map_err(|e| self.error(format_args!("invalid path '{text}': {}", e.reason)))
    }
}

/// Rewrites `$.a.['b c']` (which AWS documents for intrinsic arguments) as `$.a['b c']`; `..[` stays.
fn bracket_after_dot(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut quote: Option<char> = None;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
                continue;
            }
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '.') if chars.peek() == Some(&'[') && !out.ends_with('.') => continue,
            _ => {}
        }
        out.push(c);
    }
    out
}
