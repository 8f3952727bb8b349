//! The functions Step Functions adds to JSONata (`$partition`, `$range`, `$hash`, `$random`, `$uuid`,
//! `$parse`) and the one it withdraws (`$eval`).
//!
//! Errors follow what AWS answers: a wrong argument type is JSONata's signature error (`T0410`), a
//! wrong value is `D3137` with a sentence, and a missing argument that the function cannot do without
//! makes the call `undefined`. Numeric arguments that must be whole are truncated towards zero
//! (2.9 → 2, -1.7 → -1). Surplus arguments are ignored, so that the functions can be handed to
//! `$map` and friends, which pass each callback the item, its index and the whole array.

use jsonata_core::evaluator::{Evaluator, EvaluatorError, HostFnResult};
use jsonata_core::value::JValue;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Most elements `$range` builds; JSONata's own range operator has the same bound.
const MAX_RANGE: i128 = 10_000_000;

/// A Step Functions function as jsonata-core calls it.
type HostFunction = fn(&[JValue]) -> HostFnResult;

/// The Step Functions functions, by name.
const FUNCTIONS: [(&str, HostFunction); 7] = [
    ("partition", partition),
    ("range", range),
    ("hash", hash),
    ("random", random),
    ("uuid", uuid),
    ("parse", parse),
    ("eval", eval),
];

/// Whether `name` is one of the functions Step Functions adds.
pub(super) fn is_function_name(name: &str) -> bool {
    name != "eval" && FUNCTIONS.iter().any(|(n, _)| *n == name)
}

/// The Step Functions functions an expression can reach, as a bit set over [`FUNCTIONS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct FunctionSet(u8);

impl FunctionSet {
    /// The functions named among `names` (the expression's `$name` mentions).
    pub(super) fn referenced(names: &[String]) -> FunctionSet {
        let mut bits = 0u8;
        for (i, (function, _)) in FUNCTIONS.iter().enumerate() {
            if names.iter().any(|n| n == function) {
                bits |= 1 << i;
            }
        }
        FunctionSet(bits)
    }

    /// Makes the functions in the set callable from `evaluator`, replacing built-ins of the same name.
    pub(super) fn register(self, evaluator: &mut Evaluator) {
        for (i, (name, function)) in FUNCTIONS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                // None of these names is a compiled built-in, so an override is always accepted.
                let _ = evaluator.register_fn_override(*name, *function);
            }
        }
    }
}

fn error(message: impl Into<String>) -> EvaluatorError {
    EvaluatorError::EvaluationError(message.into())
}

/// JSONata's signature error for argument `position` (1-based).
fn signature_error(function: &str, position: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {position} of function \"{function}\" does not match function signature"
    ))
}

/// The argument at `index`, `None` when absent or undefined.
fn arg(args: &[JValue], index: usize) -> Option<&JValue> {
    args.get(index).filter(|v| !v.is_undefined())
}

/// A numeric argument truncated towards zero.
fn whole(value: &JValue, function: &str, position: usize) -> Result<i64, EvaluatorError> {
    match value {
        // `as` saturates, which is the intent for out-of-range values.
        JValue::Number(n) if n.is_finite() => Ok(n.trunc() as i64),
        _ => Err(signature_error(function, position)),
    }
}

/// `$partition(array, size)`: the array in chunks of `size`, the last one holding the remainder.
fn partition(args: &[JValue]) -> HostFnResult {
    let Some(array) = arg(args, 0) else { return Ok(JValue::Undefined) };
    let Some(items) = array.as_array() else {
        return Err(error("T0412: Argument 1 of function \"partition\" must be an array of undefined"));
    };
    if items.is_empty() {
        return Ok(JValue::Undefined);
    }
    let size = match arg(args, 1) {
        None => return Ok(JValue::array(vec![JValue::array(items.clone())])),
        Some(size) => whole(size, "partition", 2)?,
    };
    if size < 0 {
        return Err(error("D3137: Second argument must be zero or greater"));
    }
    if size == 0 {
        return Ok(JValue::Undefined);
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(JValue::array(items.chunks(size).map(|chunk| JValue::array(chunk.to_vec())).collect()))
}

/// `$range(start, end, step)`: `start`, `start + step`, … up to and including `end` when a step
/// lands on it. One element comes back bare, as a JSONata sequence of one does.
fn range(args: &[JValue]) -> HostFnResult {
    let start = whole(args.first().unwrap_or(&JValue::Undefined), "range", 1)?;
    let end = whole(args.get(1).unwrap_or(&JValue::Undefined), "range", 2)?;
    let Some(step) = arg(args, 2) else { return Ok(JValue::Undefined) };
    let step = whole(step, "range", 3)?;
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(JValue::Undefined);
    }
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = (end - start) / step + 1;
    if count > MAX_RANGE {
        return Err(error(format!(
            "D2014: The size of the sequence allocated by the range operator (..) must not exceed 1e7.  \
             Attempted to allocate {count}."
        )));
    }
    let mut values: Vec<JValue> = (0..count).map(|i| JValue::Number((start + i * step) as f64)).collect();
    if values.len() == 1 {
        return Ok(values.remove(0));
    }
    Ok(JValue::array(values))
}

/// `$hash(data, algorithm)`: the lowercase hex digest of the UTF-8 bytes of `data`.
fn hash(args: &[JValue]) -> HostFnResult {
    let Some(data) = arg(args, 0).and_then(JValue::as_str) else { return Err(signature_error("hash", 1)) };
    let Some(algorithm) = arg(args, 1) else { return Ok(JValue::Undefined) };
    let Some(algorithm) = algorithm.as_str() else { return Err(signature_error("hash", 2)) };
    let bytes = data.as_bytes();
    let digest = match algorithm {
        "MD5" => Md5::digest(bytes).to_vec(),
        "SHA-1" => Sha1::digest(bytes).to_vec(),
        "SHA-256" => Sha256::digest(bytes).to_vec(),
        "SHA-384" => Sha384::digest(bytes).to_vec(),
        "SHA-512" => Sha512::digest(bytes).to_vec(),
        other => {
            return Err(error(format!(
                "D3137: Hash algorithm '{other}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
            )))
        }
    };
    Ok(JValue::string(hex(&digest)))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// `$random([seed])`: a number in [0, 1). With a seed it is the first draw of Java's
/// `java.util.Random` seeded with it, which is what AWS answers (`$random(42)` = 0.7275636800328681).
fn random(args: &[JValue]) -> HostFnResult {
    match arg(args, 0) {
        None => Ok(JValue::Number(rand::random::<f64>())),
        Some(seed) => Ok(JValue::Number(JavaRandom::new(whole(seed, "random", 1)?).next_double())),
    }
}

/// The linear congruential generator of `java.util.Random`.
struct JavaRandom(u64);

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        // Reinterpreting the seed's bits is what Java does.
        JavaRandom((seed as u64 ^ Self::MULTIPLIER) & Self::MASK)
    }

    fn next(&mut self, bits: u32) -> u64 {
        self.0 = (self.0.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        self.0 >> (48 - bits)
    }

    fn next_double(&mut self) -> f64 {
        let high = self.next(26);
        let low = self.next(27);
        ((high << 27) + low) as f64 / (1u64 << 53) as f64
    }
}

/// `$uuid()`: a random version 4 UUID.
fn uuid(_: &[JValue]) -> HostFnResult {
    Ok(JValue::string(uuid::Uuid::new_v4().to_string()))
}

/// `$parse(json)`: the JSON text parsed; Step Functions' replacement for `$eval`.
fn parse(args: &[JValue]) -> HostFnResult {
    let Some(text) = arg(args, 0) else { return Ok(JValue::Undefined) };
    let Some(text) = text.as_str() else { return Err(signature_error("parse", 1)) };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| error("D3137: Invalid JSON"))?;
    Ok(super::to_jvalue(&value))
}

/// `$eval` is not available in Step Functions; calling it is calling a non-function.
fn eval(_: &[JValue]) -> HostFnResult {
    Err(EvaluatorError::ReferenceError("T1006: Attempted to invoke a non-function".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_java() {
        assert_eq!(JavaRandom::new(42).next_double(), 0.7275636800328681);
        assert_eq!(JavaRandom::new(0).next_double(), 0.730967787376657);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
