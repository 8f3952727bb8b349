//! Evaluation of parsed calls, one function at a time, and the Java renderings AWS's output follows.

use std::borrow::Cow;
use std::collections::HashSet;

use base64::Engine as _;
use serde_json::{Map, Number, Value};
use sha2::Digest as _;

use super::{Arg, Call, Function, IntrinsicError, StrLit};
use crate::path::Scope;

/// The longest string `States.Base64Encode`, `States.Base64Decode` and `States.Hash` accept.
const MAX_TEXT_CHARS: usize = 10_000;
/// The most items `States.ArrayRange` may produce.
const MAX_RANGE_ITEMS: i128 = 1000;

/// Evaluates one call; arguments are checked for count before any is evaluated.
pub(super) fn call(call: &Call, scope: &Scope<'_>) -> Result<Value, IntrinsicError> {
    let f = call.function;
    check_arity(f, call.args.len())?;
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(arg_value(f, arg, scope)?);
    }
    if f == Function::Array {
        return Ok(Value::Array(args));
    }
    let a = Args { f, values: &args };
    match f {
        Function::Format => {
            let literal = match call.args.first() {
                Some(Arg::Str(lit)) => Some(lit),
                _ => None,
            };
            format(&a, literal)
        }
        Function::StringToJson => string_to_json(a.string(0)?, f),
        Function::JsonToString => Ok(Value::String(java_json(a.get(0)))),
        Function::Array => Ok(Value::Array(a.values.to_vec())),
        Function::ArrayPartition => {
            let items = a.array(0)?;
            let size = a.integer(1)?;
            let size = usize::try_from(size)
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| invalid(f, format!("the chunk size must be a positive integer, but got {size}")))?;
            Ok(Value::Array(items.chunks(size).map(|c| Value::Array(c.to_vec())).collect()))
        }
        Function::ArrayContains => {
            let items = a.array(0)?;
            let needle = canonical(a.get(1));
            Ok(Value::Bool(items.iter().any(|item| canonical(item) == needle)))
        }
        Function::ArrayRange => array_range(a.integer(0)?, a.integer(1)?, a.integer(2)?, f),
        Function::ArrayGetItem => {
            let items = a.array(0)?;
            let index = a.integer(1)?;
            usize::try_from(index).ok().and_then(|i| items.get(i)).cloned().ok_or_else(|| {
                invalid(f, format!("the index {index} is out of bounds for an array of length {}", items.len()))
            })
        }
        Function::ArrayLength => Ok(Value::from(a.array(0)?.len())),
        Function::ArrayUnique => {
            let mut seen = HashSet::new();
            let unique = a.array(0)?.iter().filter(|item| seen.insert(canonical(item))).cloned().collect();
            Ok(Value::Array(unique))
        }
        Function::Base64Encode => {
            let text = a.limited_string(0)?;
            Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text.as_bytes())))
        }
        Function::Base64Decode => base64_decode(a.limited_string(0)?, f),
        Function::Hash => hash(&a),
        Function::JsonMerge => json_merge(&a),
        Function::MathRandom => math_random(&a),
        Function::MathAdd => {
            let x = a.int32(0)?;
            let y = a.int32(1)?;
            Ok(Value::from(x + y))
        }
        Function::StringSplit => {
            let text = a.string(0)?;
            let delimiters = a.string(1)?;
            let pieces = text
                .split(|c| delimiters.contains(c))
                .filter(|piece| !piece.is_empty())
                .map(|piece| Value::String(piece.to_owned()))
                .collect();
            Ok(Value::Array(pieces))
        }
        Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
    }
}

fn check_arity(f: Function, actual: usize) -> Result<(), IntrinsicError> {
    let (ok, expected) = match f {
        Function::Format => (actual >= 1, "at least 1"),
        Function::Array => (true, "any number of"),
        Function::Uuid => (actual == 0, "0"),
        Function::StringToJson
        | Function::JsonToString
        | Function::ArrayLength
        | Function::ArrayUnique
        | Function::Base64Encode
        | Function::Base64Decode => (actual == 1, "1"),
        Function::ArrayPartition
        | Function::ArrayContains
        | Function::ArrayGetItem
        | Function::Hash
        | Function::MathAdd
        | Function::StringSplit => (actual == 2, "2"),
        Function::ArrayRange | Function::JsonMerge => (actual == 3, "3"),
        Function::MathRandom => ((2..=3).contains(&actual), "2 or 3"),
    };
    if ok {
        Ok(())
    } else {
        Err(IntrinsicError::ArgumentCount { function: f, expected, actual })
    }
}

fn arg_value(f: Function, arg: &Arg, scope: &Scope<'_>) -> Result<Value, IntrinsicError> {
    match arg {
        Arg::Str(lit) => Ok(Value::String(lit.value.clone())),
        Arg::Literal(v) => Ok(v.clone()),
        Arg::Path(path) => path.eval(scope).map(Cow::into_owned).map_err(|error| IntrinsicError::Path {
            function: f,
            path: path.as_str().to_owned(),
            error,
        }),
        Arg::Call(nested) => call(nested, scope),
    }
}

fn invalid(function: Function, reason: impl Into<String>) -> IntrinsicError {
    IntrinsicError::InvalidArgument { function, reason: reason.into() }
}

/// The evaluated arguments of one call, with typed accessors that report AWS-style failures.
struct Args<'a> {
    f: Function,
    values: &'a [Value],
}

impl<'a> Args<'a> {
    fn get(&self, i: usize) -> &'a Value {
        self.values.get(i).unwrap_or(&Value::Null)
    }

    fn type_error(&self, i: usize, expected: &'static str) -> IntrinsicError {
        IntrinsicError::ArgumentType { function: self.f, position: i + 1, expected, actual: describe(self.get(i)) }
    }

    fn string(&self, i: usize) -> Result<&'a str, IntrinsicError> {
        self.get(i).as_str().ok_or_else(|| self.type_error(i, "a string"))
    }

    /// A string of at most 10,000 characters (counted as Java does, in UTF-16 units).
    fn limited_string(&self, i: usize) -> Result<&'a str, IntrinsicError> {
        let text = self.string(i)?;
        check_length(self.f, text)?;
        Ok(text)
    }

    fn array(&self, i: usize) -> Result<&'a Vec<Value>, IntrinsicError> {
        self.get(i).as_array().ok_or_else(|| self.type_error(i, "an array"))
    }

    fn object(&self, i: usize) -> Result<&'a Map<String, Value>, IntrinsicError> {
        self.get(i).as_object().ok_or_else(|| self.type_error(i, "a JSON object"))
    }

    /// An integer; a fractional number is rounded half up, as Java's `Math.round`.
    fn integer(&self, i: usize) -> Result<i64, IntrinsicError> {
        let Value::Number(n) = self.get(i) else { return Err(self.type_error(i, "an integer")) };
        let rounded = match (n.as_i64(), n.as_f64()) {
            (Some(v), _) => Some(v),
            (None, Some(x)) if n.is_f64() => java_round(x),
            _ => None,
        };
        rounded.ok_or_else(|| invalid(self.f, format!("argument {} ({n}) is out of the integer range", i + 1)))
    }

    /// An integer in the 32-bit range.
    fn int32(&self, i: usize) -> Result<i64, IntrinsicError> {
        let v = self.integer(i)?;
        if i32::try_from(v).is_ok() {
            Ok(v)
        } else {
            Err(invalid(
                self.f,
                format!("argument {} ({v}) must be an integer between -2147483648 and 2147483647", i + 1),
            ))
        }
    }
}

/// `Math.round`: the nearest integer, halves going up; `None` outside the 64-bit range.
fn java_round(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let floor = x.floor();
    let r = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        Some(r as i64)
    } else {
        None
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_owned()
}

fn check_length(f: Function, text: &str) -> Result<(), IntrinsicError> {
    let len = text.encode_utf16().count();
    if len > MAX_TEXT_CHARS {
        Err(invalid(f, format!("the input is {len} characters long; the maximum is {MAX_TEXT_CHARS}")))
    } else {
        Ok(())
    }
}

/// `States.Format`: a literal template keeps its escaped braces literal; a template read from data
/// treats every `{}` as a placeholder.
fn format(a: &Args<'_>, literal: Option<&StrLit>) -> Result<Value, IntrinsicError> {
    let template = a.string(0)?;
    let placeholders: Vec<usize> = match literal {
        Some(lit) => lit.placeholders.clone(),
        None => template.match_indices("{}").map(|(i, _)| i).collect(),
    };
    let values = a.values.get(1..).unwrap_or(&[]);
    if placeholders.len() != values.len() {
        return Err(invalid(
            a.f,
            format!("the template has {} placeholder(s) but {} value(s) were given", placeholders.len(), values.len()),
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for (at, value) in placeholders.iter().zip(values) {
        out.push_str(template.get(last..*at).unwrap_or(""));
        java_to_string(value, &mut out);
        last = at + 2;
    }
    out.push_str(template.get(last..).unwrap_or(""));
    Ok(Value::String(out))
}

/// `States.StringToJson`: a blank string is `null`, as Jackson reads it.
fn string_to_json(text: &str, f: Function) -> Result<Value, IntrinsicError> {
    if text.trim_matches(|c: char| c <= ' ').is_empty() {
        return Ok(Value::Null);
    }
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| invalid(f, format!("the string is not valid JSON: {e}")))?;
    normalize_negative_zero(&mut value);
    Ok(value)
}

/// serde_json reads `-0` as the double `-0.0`; Jackson reads it as the integer `0`.
fn normalize_negative_zero(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() && n.as_f64().is_some_and(|x| x == 0.0 && x.is_sign_negative()) => {
            *value = Value::Number(Number::from(0));
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_negative_zero),
        Value::Object(map) => map.values_mut().for_each(normalize_negative_zero),
        _ => {}
    }
}

/// `States.ArrayRange`: inclusive of `last` when a step lands on it; empty when `step` points away.
fn array_range(first: i64, last: i64, step: i64, f: Function) -> Result<Value, IntrinsicError> {
    if step == 0 {
        return Err(invalid(f, "the step must not be 0"));
    }
    let (first, last, step) = (i128::from(first), i128::from(last), i128::from(step));
    let count = if (step > 0 && last >= first) || (step < 0 && last <= first) { (last - first) / step + 1 } else { 0 };
    if count > MAX_RANGE_ITEMS {
        return Err(invalid(f, format!("the range would have {count} items; the maximum is {MAX_RANGE_ITEMS}")));
    }
    let items = (0..count).map(|i| first + i * step).filter_map(|v| i64::try_from(v).ok()).map(Value::from).collect();
    Ok(Value::Array(items))
}

fn base64_decode(text: &str, f: Function) -> Result<Value, IntrinsicError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = LENIENT.decode(compact.as_bytes()).map_err(|e| invalid(f, format!("the input is not Base64: {e}")))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

fn hash(a: &Args<'_>) -> Result<Value, IntrinsicError> {
    let data: Cow<'_, str> = match a.get(0) {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(java_json(other)),
    };
    check_length(a.f, &data)?;
    let algorithm = a.string(1)?;
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(invalid(
                a.f,
                format!("the hashing algorithm '{other}' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
            ))
        }
    };
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX_LOWER[usize::from(byte >> 4)]));
        hex.push(char::from(HEX_LOWER[usize::from(byte & 0xf)]));
    }
    Ok(Value::String(hex))
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `States.JsonMerge(a, b, false)`: `b`'s members override `a`'s; keys come out in the order a Java
/// `HashMap` filled with `a` then `b` iterates them, as AWS's output shows.
fn json_merge(a: &Args<'_>) -> Result<Value, IntrinsicError> {
    let first = a.object(0)?;
    let second = a.object(1)?;
    match a.get(2) {
        Value::Bool(false) => {}
        Value::Bool(true) => {
            return Err(invalid(a.f, "deep merging is not supported; the third argument must be false"))
        }
        _ => return Err(a.type_error(2, "a boolean")),
    }
    let mut merged = first.clone();
    for (k, v) in second {
        merged.insert(k.clone(), v.clone());
    }
    let mut shape = JavaHashMapShape::default();
    shape.put_all(first.len(), first.len());
    shape.put_all(second.len(), second.keys().filter(|k| !first.contains_key(*k)).count());
    let mask = shape.capacity.saturating_sub(1);
    let mut entries: Vec<(u32, usize, String, Value)> = merged
        .into_iter()
        .enumerate()
        .map(|(order, (k, v))| (spread(java_string_hash(&k)) & mask, order, k, v))
        .collect();
    entries.sort_by_key(|(bucket, order, _, _)| (*bucket, *order));
    Ok(Value::Object(entries.into_iter().map(|(_, _, k, v)| (k, v)).collect()))
}

/// `String.hashCode`.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// `HashMap.hash`: the high half folded into the low one.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// The table size of a `java.util.HashMap` after `putAll` calls (Java 17's sizing rules).
#[derive(Default)]
struct JavaHashMapShape {
    capacity: u32,
    threshold: u32,
    size: usize,
}

impl JavaHashMapShape {
    const MAX_CAPACITY: u32 = 1 << 30;

    /// `putAll` of a map with `len` entries, `new_keys` of which are not yet present.
    fn put_all(&mut self, len: usize, new_keys: usize) {
        if len == 0 {
            return;
        }
        if self.capacity == 0 {
            let wanted = len as f32 / 0.75 + 1.0;
            let wanted = if wanted < Self::MAX_CAPACITY as f32 { wanted as u32 } else { Self::MAX_CAPACITY };
            if wanted > self.threshold {
                self.threshold =
                    wanted.checked_next_power_of_two().unwrap_or(Self::MAX_CAPACITY).min(Self::MAX_CAPACITY);
            }
        } else {
            while len > self.threshold as usize && self.capacity < Self::MAX_CAPACITY {
                self.resize();
            }
        }
        if self.capacity == 0 {
            self.resize();
        }
        for _ in 0..new_keys {
            self.size += 1;
            if self.size > self.threshold as usize {
                self.resize();
            }
        }
    }

    fn resize(&mut self) {
        let (old_cap, old_thr) = (self.capacity, self.threshold);
        let mut new_thr = 0;
        let new_cap;
        if old_cap > 0 {
            if old_cap >= Self::MAX_CAPACITY {
                self.threshold = u32::MAX;
                return;
            }
            new_cap = old_cap << 1;
            if new_cap < Self::MAX_CAPACITY && old_cap >= 16 {
                new_thr = old_thr << 1;
            }
        } else if old_thr > 0 {
            new_cap = old_thr;
        } else {
            new_cap = 16;
            new_thr = 12;
        }
        if new_thr == 0 {
            new_thr = (new_cap as f32 * 0.75) as u32;
        }
        self.capacity = new_cap;
        self.threshold = new_thr;
    }
}

/// `States.MathRandom`: uniform in `[start, end)`; with a seed, the draw `java.util.Random` makes.
fn math_random(a: &Args<'_>) -> Result<Value, IntrinsicError> {
    let start = a.integer(0)?;
    let end = a.integer(1)?;
    let seed = if a.values.len() > 2 { Some(a.integer(2)?) } else { None };
    if start >= end {
        return Err(invalid(a.f, format!("the start ({start}) must be less than the end ({end})")));
    }
    let span = i128::from(end) - i128::from(start);
    let value = match seed {
        None => {
            use rand::Rng as _;
            rand::thread_rng().gen_range(start..end)
        }
        Some(seed) => {
            let mut rng = JavaRandom::new(seed);
            match (i32::try_from(span), i64::try_from(span)) {
                (Ok(n), _) => start + i64::from(rng.next_int(n)),
                (Err(_), Ok(n)) => start + rng.next_long_below(n),
                _ => return Err(invalid(a.f, "the range between start and end is too large")),
            }
        }
    };
    Ok(Value::from(value))
}

/// `java.util.Random`, enough of it for bounded draws.
struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        JavaRandom { seed: (seed ^ Self::MULTIPLIER) & Self::MASK }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for `bound > 0`.
    fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    fn next_long(&mut self) -> i64 {
        (i64::from(self.next(32)) << 32).wrapping_add(i64::from(self.next(32)))
    }

    /// `nextLong(0, bound)` (Java 17's bounded algorithm) for `bound > 0`.
    fn next_long_below(&mut self, bound: i64) -> i64 {
        let mut r = self.next_long();
        let m = bound - 1;
        if bound & m == 0 {
            return r & m;
        }
        let mut u = ((r as u64) >> 1) as i64;
        loop {
            r = u % bound;
            if u.wrapping_add(m).wrapping_sub(r) >= 0 {
                return r;
            }
            u = ((self.next_long() as u64) >> 1) as i64;
        }
    }
}

/// A text equal for equal JSON values: object members in any order, `1` equal to `1.0`.
fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('n'),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Number(n) => {
            out.push('#');
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => out.push_str(&i.to_string()),
                (None, Some(u), _) => out.push_str(&u.to_string()),
                (None, None, Some(x)) if x.fract() == 0.0 && x.abs() < 1e30 => {
                    out.push_str(&format!("{}", x as i128));
                }
                (None, None, Some(x)) => out.push_str(&format!("{x:e}")),
                _ => {}
            }
        }
        Value::String(s) => write_java_quoted(s, out),
        Value::Array(items) => {
            out.push('[');
            for item in items {
                write_canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|x, y| x.0.cmp(y.0));
            out.push('{');
            for (k, item) in members {
                write_java_quoted(k, out);
                out.push(':');
                write_canonical(item, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7, otherwise `1.0E21`, `1.5E-5`.
pub(super) fn java_double(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    if d.is_nan() {
        return "NaN".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let magnitude = d.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let plain = d.to_string();
        return if plain.contains('.') { plain } else { plain + ".0" };
    }
    let sci = format!("{d:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// A JSON number as Jackson writes it: integers as they are, doubles as `Double.toString`.
pub(super) fn java_number(n: &Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (None, Some(u), _) => u.to_string(),
        (None, None, Some(x)) => java_double(x),
        _ => n.to_string(),
    }
}

/// How `States.Format` renders a value: strings bare, containers as Java's `Map`/`List` `toString`.
fn java_to_string(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_to_string(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_to_string(item, out);
            }
            out.push('}');
        }
    }
}

/// Compact JSON as Jackson writes it (key order kept, `\u001F`-style escapes, doubles as Java prints them).
pub(super) fn java_json(v: &Value) -> String {
    let mut out = String::new();
    write_java_json(v, &mut out);
    out
}

fn write_java_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => write_java_quoted(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_java_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_java_quoted(k, out);
                out.push(':');
                write_java_json(item, out);
            }
            out.push('}');
        }
    }
}

fn write_java_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX_UPPER[b >> 4]));
                out.push(char::from(HEX_UPPER[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
