//! Intrinsic functions of the JSONPath query language (`States.Format('{}', $.a)` and its 17 siblings).
//!
//! A call is parsed once, when the definition loads, into an [`Intrinsic`]; evaluating it against a
//! [`Scope`] never re-reads the text. Behaviour follows what AWS returns rather than the letter of the
//! specification where the two differ:
//!
//! - `States.Format` renders strings bare and other values the way Java's `toString` does
//!   (`{Arg1=1, Arg2=[]}`), and doubles as Java prints them (`1.0E21`);
//! - integer arguments are rounded half up, as Java's `Math.round` (`-2.5` → `-2`, `2.5` → `3`);
//! - `States.JsonMerge` orders its keys as a Java `HashMap` iterates them;
//! - `States.StringToJson` of a blank string is `null`.

mod eval;
mod parse;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::path::{Path, PathError, Root, Scope};

pub use parse::MAX_DEPTH;

/// The error name AWS raises when an intrinsic function rejects its arguments.
pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
/// The error name AWS raises when a path inside an intrinsic call cannot be resolved.
pub const RUNTIME: &str = "States.Runtime";

/// True when a template value string should be parsed as an intrinsic call (it starts with `States.`).
pub fn is_intrinsic(source: &str) -> bool {
    source.starts_with("States.")
}

/// The 18 intrinsic functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `States.Format(template, args…)`: a string with each `{}` replaced by an argument.
    Format,
    /// `States.StringToJson(str)`: parses a JSON text.
    StringToJson,
    /// `States.JsonToString(value)`: compact JSON text of a value.
    JsonToString,
    /// `States.Array(args…)`: an array of the arguments.
    Array,
    /// `States.ArrayPartition(array, size)`: chunks of at most `size` items.
    ArrayPartition,
    /// `States.ArrayContains(array, value)`: whether `value` is an item of `array`.
    ArrayContains,
    /// `States.ArrayRange(first, last, step)`: integers from `first` to `last` inclusive.
    ArrayRange,
    /// `States.ArrayGetItem(array, index)`: one item, counting from 0.
    ArrayGetItem,
    /// `States.ArrayLength(array)`: the number of items.
    ArrayLength,
    /// `States.ArrayUnique(array)`: the items without duplicates, first occurrences kept.
    ArrayUnique,
    /// `States.Base64Encode(str)`: Base64 of the UTF-8 bytes.
    Base64Encode,
    /// `States.Base64Decode(str)`: the UTF-8 text of Base64 data.
    Base64Decode,
    /// `States.Hash(data, algorithm)`: lowercase hex digest (MD5, SHA-1, SHA-256, SHA-384, SHA-512).
    Hash,
    /// `States.JsonMerge(a, b, false)`: shallow merge, `b` winning.
    JsonMerge,
    /// `States.MathRandom(start, end[, seed])`: an integer in `[start, end)`.
    MathRandom,
    /// `States.MathAdd(a, b)`: the sum of two 32-bit integers.
    MathAdd,
    /// `States.StringSplit(str, delimiters)`: pieces between any of the delimiter characters.
    StringSplit,
    /// `States.UUID()`: a random version 4 UUID.
    Uuid,
}

impl Function {
    /// Every function, in the order of the developer guide.
    pub const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    /// The full name, such as `States.Format`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    /// The function with this full name.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the function always returns a string (what `ErrorPath`/`CausePath` accept).
    pub fn returns_string(self) -> bool {
        matches!(
            self,
            Function::Format
                | Function::JsonToString
                | Function::Base64Encode
                | Function::Base64Decode
                | Function::Hash
                | Function::Uuid
        )
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed intrinsic call such as `States.Format('{}', $.a)`.
///
/// `Display` gives back the text it was parsed from.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    source: String,
    call: Call,
}

/// One call: a function and its arguments.
#[derive(Debug, Clone)]
struct Call {
    function: Function,
    args: Vec<Arg>,
}

/// One argument of a call.
#[derive(Debug, Clone)]
enum Arg {
    /// `'text'`, with escapes resolved.
    Str(StrLit),
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    /// `$…`, `$$…` or `$name…`.
    Path(Path),
    /// A nested call.
    Call(Box<Call>),
}

/// A quoted string argument.
#[derive(Debug, Clone)]
struct StrLit {
    /// The text with escapes resolved.
    value: String,
    /// Byte offsets in `value` of the `{}` that were written unescaped (`States.Format` placeholders).
    placeholders: Vec<usize>,
}

/// An intrinsic call that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid intrinsic function call '{input}': {reason}")]
pub struct IntrinsicSyntaxError {
    /// The text that was refused.
    pub input: String,
    /// Why, with the byte offset where it was noticed.
    pub reason: String,
}

/// Evaluating an intrinsic call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntrinsicError {
    /// A path argument selected nothing, or named a variable that was never assigned.
    #[error("{error}")]
    Path {
        /// The function the path is an argument of.
        function: Function,
        /// The path as written.
        path: String,
        /// What the path lookup reported.
        error: PathError,
    },
    /// The call has too few or too many arguments.
    #[error("Invalid arguments in {function}: expected {expected} argument(s) but got {actual}")]
    ArgumentCount {
        /// The function called.
        function: Function,
        /// How many it takes (`2`, `2 or 3`, `at least 1`).
        expected: &'static str,
        /// How many it got.
        actual: usize,
    },
    /// An argument has the wrong JSON type.
    #[error("Invalid arguments in {function}: argument {position} must be {expected}, but got {actual}")]
    ArgumentType {
        /// The function called.
        function: Function,
        /// The argument's position, from 1.
        position: usize,
        /// What it must be (`an array`, `a string`…).
        expected: &'static str,
        /// A description of what it is.
        actual: String,
    },
    /// An argument has the right type but a value the function refuses.
    #[error("Invalid arguments in {function}: {reason}")]
    InvalidArgument {
        /// The function called.
        function: Function,
        /// Why.
        reason: String,
    },
}

impl IntrinsicError {
    /// The ASL error name: `States.Runtime` for unresolvable paths, `States.IntrinsicFailure` otherwise.
    pub fn error_name(&self) -> &'static str {
        match self {
            IntrinsicError::Path { .. } => RUNTIME,
            _ => INTRINSIC_FAILURE,
        }
    }

    /// The cause text (without the engine's `An error occurred while executing the state …` prefix).
    pub fn cause(&self) -> String {
        self.to_string()
    }

    /// The function whose evaluation failed.
    pub fn function(&self) -> Function {
        match self {
            IntrinsicError::Path { function, .. }
            | IntrinsicError::ArgumentCount { function, .. }
            | IntrinsicError::ArgumentType { function, .. }
            | IntrinsicError::InvalidArgument { function, .. } => *function,
        }
    }
}

impl Intrinsic {
    /// Parses an intrinsic call; nesting deeper than [`MAX_DEPTH`] calls is refused.
    pub fn parse(source: &str) -> Result<Intrinsic, IntrinsicSyntaxError> {
        let call = parse::parse(source)?;
        Ok(Intrinsic { source: source.to_owned(), call })
    }

    /// Evaluates the call: `$` is `scope.data`, `$$` the context object, `$name` a variable.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, IntrinsicError> {
        eval::call(&self.call, scope)
    }

    /// The outermost function's full name, such as `States.Format`.
    pub fn name(&self) -> &str {
        self.call.function.name()
    }

    /// The outermost function.
    pub fn function(&self) -> Function {
        self.call.function
    }

    /// The text the call was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Every path argument, nested calls included, in source order.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = Vec::new();
        self.call.collect_paths(&mut out);
        out
    }

    /// The names of the variables (`$name…` paths) the call reads, in source order.
    pub fn variable_references(&self) -> Vec<String> {
        self.paths()
            .into_iter()
            .filter_map(|p| match p.root() {
                Root::Variable(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Call {
    fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        for arg in &self.args {
            match arg {
                Arg::Path(p) => out.push(p),
                Arg::Call(c) => c.collect_paths(out),
                Arg::Str(_) | Arg::Literal(_) => {}
            }
        }
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Intrinsic {
    type Err = IntrinsicSyntaxError;

    fn from_str(s: &str) -> Result<Intrinsic, IntrinsicSyntaxError> {
        Intrinsic::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::eval::{java_double, java_json};
    use super::*;
    use serde_json::{json, Map};

    /// The context object the cases below rely on (names as the cases record them after rewriting).
    fn context(input: &Value) -> Value {
        json!({
            "Execution": {
                "Id": "arn:aws:states:us-east-1:111111111111:execution:sm-name:exec",
                "Name": "exec",
                "Input": input
            },
            "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm-name", "Name": "sm-name"},
            "Map": {"Item": {"Index": 0, "Value": "Charizard"}}
        })
    }

    fn run(expr: &str, input: &str, vars: &Map<String, Value>) -> Result<Value, IntrinsicError> {
        let data: Value = serde_json::from_str(input).expect("test input is JSON");
        let ctx = context(&data);
        let call = Intrinsic::parse(expr).unwrap_or_else(|e| panic!("{expr} should parse: {e}"));
        call.eval(&Scope { data: &data, context: &ctx, vars })
    }

    /// `expr` applied to `input` gives `expected` (all JSON texts).
    #[track_caller]
    fn yields(expr: &str, input: &str, expected: &str) {
        let expected: Value = serde_json::from_str(expected).expect("expected value is JSON");
        match run(expr, input, &Map::new()) {
            Ok(v) => assert_eq!(v, expected, "{expr} on {input}"),
            Err(e) => panic!("{expr} on {input} failed: {e}"),
        }
    }

    /// Like [`yields`], comparing the compact JSON text, so that key order counts.
    #[track_caller]
    fn yields_text(expr: &str, input: &str, expected: &str) {
        match run(expr, input, &Map::new()) {
            Ok(v) => assert_eq!(serde_json::to_string(&v).unwrap_or_default(), expected, "{expr} on {input}"),
            Err(e) => panic!("{expr} on {input} failed: {e}"),
        }
    }

    /// `expr` applied to `input` fails with `error` and a cause containing `cause`.
    #[track_caller]
    fn fails(expr: &str, input: &str, error: &str, cause: &str) {
        match run(expr, input, &Map::new()) {
            Ok(v) => panic!("{expr} on {input} should fail but gave {v}"),
            Err(e) => {
                assert_eq!(e.error_name(), error, "{expr}: {e}");
                assert!(e.cause().contains(cause), "{expr}: cause {:?} lacks {cause:?}", e.cause());
            }
        }
    }

    #[track_caller]
    fn refused(expr: &str) {
        assert!(Intrinsic::parse(expr).is_err(), "{expr} should not parse");
    }

    // ---- Every `FunctionResult.$` case recorded under cases/pure/intrinsic_functions_test_* ----

    /// `test_array__TestArray__test_array_2` (exec1, exec2, exec3, exec5, exec6, exec7).
    #[test]
    fn case_array_2() {
        let expr = r#"States.Array($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":" ","snd":" "}}"#, r#"[" "," "]"#);
        yields(expr, r#"{"FunctionInput":{"fst":"HelloWorld","snd":"HelloWorld"}}"#, r#"["HelloWorld","HelloWorld"]"#);
        yields(expr, r#"{"FunctionInput":{"fst":null,"snd":null}}"#, r#"[null,null]"#);
        yields(expr, r#"{"FunctionInput":{"fst":1.1,"snd":1.1}}"#, r#"[1.1,1.1]"#);
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"{\"Arg1\": 1, \"Arg2\": []}","snd":"{\"Arg1\": 1, \"Arg2\": []}"}}"#,
            r#"["{\"Arg1\": 1, \"Arg2\": []}","{\"Arg1\": 1, \"Arg2\": []}"]"#,
        );
        yields(
            expr,
            r#"{"FunctionInput":{"fst":{"Arg1":1,"Arg2":[]},"snd":{"Arg1":1,"Arg2":[]}}}"#,
            r#"[{"Arg1":1,"Arg2":[]},{"Arg1":1,"Arg2":[]}]"#,
        );
    }

    /// `test_array__TestArray__test_array_contains` (exec0, exec1, exec3, exec4, exec7).
    #[test]
    fn case_array_contains() {
        let expr = r#"States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":[],"snd":null}}"#, r#"false"#);
        yields(expr, r#"{"FunctionInput":{"fst":[],"snd":[]}}"#, r#"false"#);
        yields(expr, r#"{"FunctionInput":{"fst":[[1,2,3],2],"snd":null}}"#, r#"false"#);
        yields(expr, r#"{"FunctionInput":{"fst":[[1,2,3],2],"snd":[1,2,3]}}"#, r#"true"#);
        yields(expr, r#"{"FunctionInput":{"fst":[true,false],"snd":true}}"#, r#"true"#);
        yields(expr, r#"{"FunctionInput":{"fst":[true,false],"snd":false}}"#, r#"true"#);
        // exec8
    }

    /// `test_array__TestArray__test_array_get_item`.
    #[test]
    fn case_array_get_item() {
        let expr = r#"States.ArrayGetItem($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":[1,2,3,4,5,6,7,8,9],"snd":5}}"#, r#"6"#);
    }

    /// `test_array__TestArray__test_array_length`.
    #[test]
    fn case_array_length() {
        let expr = r#"States.ArrayLength($.FunctionInput)"#;
        yields(expr, r#"{"FunctionInput":[1,2,3,4,5,6,7,8,9]}"#, r#"9"#);
    }

    /// `…__test_array_partition` (exec0, 2, 4–7, 9, 12, 14–16, 18, 19, 21, 22).
    #[test]
    fn case_array_partition() {
        let expr = r#"States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":[],"snd":1}}"#, r#"[]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1],"snd":3}}"#, r#"[[0,1]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1],"snd":5}}"#, r#"[[0,1]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1,2],"snd":1}}"#, r#"[[0],[1],[2]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1,2],"snd":2}}"#, r#"[[0,1],[2]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1,2],"snd":4}}"#, r#"[[0,1,2]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1,2],"snd":5}}"#, r#"[[0,1,2]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[],"snd":3}}"#, r#"[]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1,2,3],"snd":2}}"#, r#"[[0,1],[2,3]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0,1,2,3],"snd":3}}"#, r#"[[0,1,2],[3]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[],"snd":5}}"#, r#"[]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0],"snd":1}}"#, r#"[[0]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0],"snd":2}}"#, r#"[[0]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0],"snd":3}}"#, r#"[[0]]"#);
        yields(expr, r#"{"FunctionInput":{"fst":[0],"snd":5}}"#, r#"[[0]]"#);
    }

    /// `test_array__TestArray__test_array_range` (exec2).
    #[test]
    fn case_array_range() {
        let expr = r#"States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":1,"snd":9,"trd":9}}"#, r#"[1]"#);
        yields(expr, r#"{"FunctionInput":{"fst":1,"snd":9,"trd":2}}"#, r#"[1,3,5,7,9]"#);
        // exec3
    }

    /// `test_encode_decode__TestEncodeDecode__test_base_64_decode` (exec0).
    #[test]
    fn case_base_64_decode() {
        let expr = r#"States.Base64Decode($.FunctionInput)"#;
        yields(expr, r#"{"FunctionInput":""}"#, r#""""#);
        yields(expr, r#"{"FunctionInput":"RGF0YSB0byBlbmNvZGU="}"#, r#""Data to encode""#);
        // exec1
    }

    /// `test_encode_decode__TestEncodeDecode__test_base_64_encode` (exec0).
    #[test]
    fn case_base_64_encode() {
        let expr = r#"States.Base64Encode($.FunctionInput)"#;
        yields(expr, r#"{"FunctionInput":""}"#, r#""""#);
    }

    /// `test_generic__TestGeneric__test_format_1` (exec0, exec4, exec5, exec6).
    #[test]
    fn case_format_1() {
        let expr = r#"States.Format('Formatting argument {}.', $.FunctionInput)"#;
        yields(expr, r#"{"FunctionInput":""}"#, r#""Formatting argument .""#);
        yields(expr, r#"{"FunctionInput":1}"#, r#""Formatting argument 1.""#);
        yields(expr, r#"{"FunctionInput":1.1}"#, r#""Formatting argument 1.1.""#);
        yields(
            expr,
            r#"{"FunctionInput":"{\"Arg1\": 1, \"Arg2\": []}"}"#,
            r#""Formatting argument {\"Arg1\": 1, \"Arg2\": []}.""#,
        );
    }

    /// `test_generic__TestGeneric__test_format_2` (exec2, exec5, exec6, exec7).
    #[test]
    fn case_format_2() {
        let expr =
            r#"States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"HelloWorld","snd":"HelloWorld"}}"#,
            r#""Formatting arguments fst=HelloWorld and snd=HelloWorld.""#,
        );
        yields(expr, r#"{"FunctionInput":{"fst":1.1,"snd":1.1}}"#, r#""Formatting arguments fst=1.1 and snd=1.1.""#);
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"{\"Arg1\": 1, \"Arg2\": []}","snd":"{\"Arg1\": 1, \"Arg2\": []}"}}"#,
            r#""Formatting arguments fst={\"Arg1\": 1, \"Arg2\": []} and snd={\"Arg1\": 1, \"Arg2\": []}.""#,
        );
        yields(
            expr,
            r#"{"FunctionInput":{"fst":{"Arg1":1,"Arg2":[]},"snd":{"Arg1":1,"Arg2":[]}}}"#,
            r#""Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}.""#,
        );
    }

    /// `test_hash_calculations__TestHashCalculations__test_hash` (exec0, exec1, exec2, exec4).
    #[test]
    fn case_hash() {
        let expr = r#"States.Hash($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":"input data","snd":"MD5"}}"#, r#""812f45842bc6d66ee14572ce20db8e86""#);
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"input data","snd":"SHA-1"}}"#,
            r#""aaff4a450a104cd177d28d18d74485e8cae074b7""#,
        );
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"input data","snd":"SHA-256"}}"#,
            r#""b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3""#,
        );
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"input data","snd":"SHA-512"}}"#,
            concat!(
                r#""6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce"#,
                r#"2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4""#
            ),
        );
    }

    /// `test_json_manipulation__TestJsonManipulation__test_json_merge`.
    #[test]
    fn case_json_merge() {
        let expr = r#"States.JsonMerge($.FunctionInput.fst, $.FunctionInput.snd, false)"#;
        yields(
            expr,
            r#"{"FunctionInput":{"fst":{"a":{"a1":1,"a2":2},"b":2,"d":3},"snd":{"a":{"a3":1,"a4":2},"c":3,"d":4}}}"#,
            r#"{"a":{"a3":1,"a4":2},"b":2,"c":3,"d":4}"#,
        );
    }

    /// `test_json_manipulation__TestJsonManipulation__test_json_to_string` (exec0, exec1, exec2, exec3, exec4, exec6).
    #[test]
    fn case_json_to_string() {
        let expr = r#"States.JsonToString($.FunctionInput)"#;
        yields(expr, r#"{"FunctionInput":null}"#, r#""null""#);
        yields(expr, r#"{"FunctionInput":0}"#, r#""0""#);
        yields(expr, r#"{"FunctionInput":1}"#, r#""1""#);
        yields(expr, r#"{"FunctionInput":1.1}"#, r#""1.1""#);
        yields(expr, r#"{"FunctionInput":true}"#, r#""true""#);
        yields(expr, r#"{"FunctionInput":[1,2,"HelloWorld"]}"#, r#""[1,2,\"HelloWorld\"]""#);
        yields(expr, r#"{"FunctionInput":{"Arg1":1,"Arg2":[]}}"#, r#""{\"Arg1\":1,\"Arg2\":[]}""#);
        // exec7
    }

    /// `…__test_string_to_json` (exec0, exec1, exec3, exec4, exec5, exec6, exec8).
    #[test]
    fn case_string_to_json() {
        let expr = r#"States.StringToJson($.FunctionInput)"#;
        yields(expr, r#"{"FunctionInput":""}"#, r#"null"#);
        yields(expr, r#"{"FunctionInput":" "}"#, r#"null"#);
        yields(expr, r#"{"FunctionInput":"-0"}"#, r#"0"#);
        yields(expr, r#"{"FunctionInput":"1"}"#, r#"1"#);
        yields(expr, r#"{"FunctionInput":"1.1"}"#, r#"1.1"#);
        yields(expr, r#"{"FunctionInput":"true"}"#, r#"true"#);
        yields(expr, r#"{"FunctionInput":"[1, 2, \"HelloWorld\"]"}"#, r#"[1,2,"HelloWorld"]"#);
        yields(expr, r#"{"FunctionInput":"{\"Arg1\": 1, \"Arg2\": []}"}"#, r#"{"Arg1":1,"Arg2":[]}"#);
        // exec9
    }

    /// `…__test_math_add` (exec0, 2–4, 6, 7, 9, 10, 12, 15–20).
    #[test]
    fn case_math_add() {
        let expr = r#"States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":-9,"snd":3}}"#, r#"-6"#);
        yields(expr, r#"{"FunctionInput":{"fst":-1.5,"snd":0}}"#, r#"-1"#);
        yields(expr, r#"{"FunctionInput":{"fst":0.5,"snd":0}}"#, r#"1"#);
        yields(expr, r#"{"FunctionInput":{"fst":3.5,"snd":0}}"#, r#"4"#);
        yields(expr, r#"{"FunctionInput":{"fst":-0.5,"snd":0.5}}"#, r#"1"#);
        yields(expr, r#"{"FunctionInput":{"fst":-0.5,"snd":0}}"#, r#"0"#);
        yields(expr, r#"{"FunctionInput":{"fst":-1.5,"snd":0}}"#, r#"-1"#);
        yields(expr, r#"{"FunctionInput":{"fst":-2.5,"snd":0}}"#, r#"-2"#);
        yields(expr, r#"{"FunctionInput":{"fst":1.5,"snd":1.51}}"#, r#"4"#);
        yields(expr, r#"{"FunctionInput":{"fst":-3.5,"snd":0}}"#, r#"-3"#);
        yields(expr, r#"{"FunctionInput":{"fst":-1.49,"snd":-1.5}}"#, r#"-2"#);
        yields(expr, r#"{"FunctionInput":{"fst":-1.5,"snd":-1.51}}"#, r#"-3"#);
        yields(expr, r#"{"FunctionInput":{"fst":1.49,"snd":-1.49}}"#, r#"0"#);
        yields(expr, r#"{"FunctionInput":{"fst":1.5,"snd":0}}"#, r#"2"#);
        yields(expr, r#"{"FunctionInput":{"fst":-1.49,"snd":0}}"#, r#"-1"#);
    }

    /// `test_string_operations__TestStringOperations__test_string_split` (exec0, exec1, exec2, exec3, exec4, exec6).
    #[test]
    fn case_string_split() {
        let expr = r#"States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)"#;
        yields(expr, r#"{"FunctionInput":{"fst":" ","snd":","}}"#, r#"[" "]"#);
        yields(expr, r#"{"FunctionInput":{"fst":" , ","snd":","}}"#, r#"[" "," "]"#);
        yields(expr, r#"{"FunctionInput":{"fst":", , ,","snd":","}}"#, r#"[" "," "]"#);
        yields(expr, r#"{"FunctionInput":{"fst":",,,,","snd":","}}"#, r#"[]"#);
        yields(expr, r#"{"FunctionInput":{"fst":"1,2,3,4,5","snd":","}}"#, r#"["1","2","3","4","5"]"#);
        yields(
            expr,
            r#"{"FunctionInput":{"fst":"split on T and \nnew line","snd":"T\n"}}"#,
            r#"["split on "," and ","new line"]"#,
        );
    }

    // ---- Cases whose expressions read the context object or variables ----

    /// `intrinsic_functions_test_generic__TestGeneric__test_context_json_path`.
    #[test]
    fn case_context_json_path() {
        yields(
            "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
            "{\"FunctionInput\":null}",
            concat!(
                r#""Formatting arguments fst=exec and "#,
                r#"snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:sm-name, Name=sm-name}.""#
            ),
        );
    }

    /// `intrinsic_functions_test_generic__TestGeneric__test_nested_calls_1` and `_2`.
    #[test]
    fn case_nested_calls() {
        yields("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", "null", r#""sm""#);
        yields(
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), \
             States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
            "null",
            r#""name""#,
        );
    }

    /// `intrinsic_functions_test_string_operations__TestStringOperations__test_string_split_context_object`.
    #[test]
    fn case_string_split_context_object() {
        yields(
            "States.StringSplit($$.Execution.Input.FunctionInput, ',')",
            concat!(
                r#"{"FunctionInput":"Value1,Value2,Value3\nValue4,Value5,Value6\n,,,"#,
                r#"\ntrue,1,'HelloWorld'\nNull,None,\n   \n"}"#
            ),
            concat!(
                r#"["Value1","Value2","Value3\nValue4","Value5","Value6\n","\ntrue","1","'HelloWorld'\nNull","None","#,
                r#""\n   \n"]"#
            ),
        );
    }

    /// `intrinsic_functions_test_json_manipulation__TestJsonManipulation__test_json_merge_escaped_argument`:
    /// unescaped `{`, `}` and `"` are plain text in a quoted argument; the keys come out in `HashMap` order.
    #[test]
    fn case_json_merge_escaped_argument() {
        yields_text(
            concat!(
                r#"States.JsonMerge(States.StringToJson('{"constant_in_literal": "false"}'), "#,
                "$$.Execution.Input.input_field, false)"
            ),
            r#"{"input_field":{"constant_input_field":"constant_value"}}"#,
            r#"{"constant_input_field":"constant_value","constant_in_literal":"false"}"#,
        );
    }

    /// `assign_…__BASE_ASSIGN_FROM_INTRINSIC_FUNCTION` (Assign evaluated over the Pass result).
    #[test]
    fn case_assign_from_intrinsic_function() {
        let input = r#"{"inputArray":[1,2,3,4,5,6],"duplicateArray":[1,2,2,3,3,4],"rawString":"Hello World",
            "encodedString":"SGVsbG8gV29ybGQ=","inputString":"Hash this string","json1":{"a":1,"b":2},
            "json2":{"c":3,"d":4},"jsonString":"{\"key\":\"value\"}","jsonObject":{"test":"object"},"value1":5,
            "value2":3,"csvString":"a,b,c,d,e","name":"John","place":"LocalStack"}"#;
        yields("States.Array('a', 'b', 'c')", input, r#"["a","b","c"]"#);
        yields("States.ArrayPartition($.inputArray, 2)", input, "[[1,2],[3,4],[5,6]]");
        yields("States.ArrayContains($.inputArray, 5)", input, "true");
        yields("States.ArrayRange(1, 10, 2)", input, "[1,3,5,7,9]");
        yields("States.ArrayGetItem($.inputArray, 2)", input, "3");
        yields("States.ArrayLength($.inputArray)", input, "6");
        yields("States.ArrayUnique($.duplicateArray)", input, "[1,2,3,4]");
        yields("States.Base64Encode($.rawString)", input, r#""SGVsbG8gV29ybGQ=""#);
        yields("States.Base64Decode($.encodedString)", input, r#""Hello World""#);
        yields(
            "States.Hash($.inputString, 'SHA-256')",
            input,
            r#""1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e""#,
        );
        yields_text("States.JsonMerge($.json1, $.json2, false)", input, r#"{"a":1,"b":2,"c":3,"d":4}"#);
        yields("States.StringToJson($.jsonString)", input, r#"{"key":"value"}"#);
        yields("States.JsonToString($.jsonObject)", input, r#""{\"test\":\"object\"}""#);
        yields("States.MathAdd($.value1, $.value2)", input, "8");
        yields("States.StringSplit($.csvString, ',')", input, r#"["a","b","c","d","e"]"#);
        yields(
            "States.Format('Hello {}, welcome to {}!', $.name, $.place)",
            input,
            r#""Hello John, welcome to LocalStack!""#,
        );
    }

    /// `assign_…__BASE_REFERENCE_IN_INTRINSIC_FUNCTION`, `…__MAP_STATE_REFERENCE_IN_INTRINSIC_FUNCTION` and
    /// `…__BASE_REFERENCE_IN_ITERATOR_OUTER_SCOPE`: variables as arguments.
    #[test]
    fn case_variables_as_arguments() {
        let vars: Map<String, Value> = serde_json::from_str(
            r#"{"rawString":"Hello World","encodedString":"SGVsbG8gV29ybGQ=",
                "json1":{"a":1,"b":2},"json2":{"c":3,"d":4},"value1":5,"value2":3,"name":"John","place":"LocalStack",
                "AnswerTemplate":"It's {}!",
                "xCurrent":9,"yCurrent":44,"zCurrent":6,"bias":4.3}"#,
        )
        .unwrap_or_default();
        let ok = |expr: &str, expected: Value| assert_eq!(run(expr, "{}", &vars).ok(), Some(expected), "{expr}");
        ok("States.Base64Encode($rawString)", json!("SGVsbG8gV29ybGQ="));
        ok("States.Base64Decode($encodedString)", json!("Hello World"));
        ok("States.JsonMerge($json1, $json2, false)", json!({"a": 1, "b": 2, "c": 3, "d": 4}));
        ok("States.MathAdd($value1, $value2)", json!(8));
        ok("States.Format('Hello {}, welcome to {}!', $name, $place)", json!("Hello John, welcome to LocalStack!"));
        ok("States.Format($AnswerTemplate, $$.Map.Item.Value)", json!("It's Charizard!"));
        ok("States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $zCurrent), $bias)", json!(63));
        let call = Intrinsic::parse("States.Format('{}{}', $name, States.Array($place, $.x, $$.y))").ok();
        assert_eq!(call.map(|c| c.variable_references()), Some(vec!["name".to_owned(), "place".to_owned()]));
    }

    /// `base_test_base__TestSnfBase__test_state_fail_intrinsic` (ErrorPath / CausePath) and
    /// `outputdecl_…__BASE_LITERALS`.
    #[test]
    fn case_format_in_fail_state_and_literals() {
        let input = r#"{"Error":"error string","Cause":"cause string"}"#;
        yields("States.Format('{}', $.Error)", input, r#""error string""#);
        yields(
            "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
            input,
            r#""This is a custom error message for error string, caused by cause string.""#,
        );
        yields("States.Format('Format:{}', 101)", "{}", r#""Format:101""#);
        yields("States.MathAdd($.Iterations, -1)", r#"{"Iterations":1}"#, "0");
        yields("States.ArrayRange(0, 3, 1)", "{}", "[0,1,2,3]");
    }

    /// `validation/…__ESCAPE_SEQUENCES_ILLEGAL_INTRINSIC_FUNCTION` and `_2`: `\"` is not an escape.
    #[test]
    fn case_illegal_escapes_are_refused() {
        refused(r#"States.StringToJson('{"text":"An \"escaped double quote\" here"}')"#);
        refused(r#"States.Format('He said, \"Hello, {}!\"', 'Test \"Name\" Here')"#);
    }

    // ---- Executions of the same tests that are not among the visible cases (inputs from the test source) ----

    #[test]
    fn other_recorded_inputs() {
        let pair = |v: &str| format!(r#"{{"FunctionInput":{{"fst":{v},"snd":{v}}}}}"#);
        let array2 = "States.Array($.FunctionInput.fst, $.FunctionInput.snd)";
        yields(array2, &pair(r#""""#), r#"["",""]"#);
        yields(array2, &pair("1"), "[1,1]");
        let format1 = "States.Format('Formatting argument {}.', $.FunctionInput)";
        yields(format1, r#"{"FunctionInput":" "}"#, r#""Formatting argument  .""#);
        yields(format1, r#"{"FunctionInput":"HelloWorld"}"#, r#""Formatting argument HelloWorld.""#);
        yields(format1, r#"{"FunctionInput":null}"#, r#""Formatting argument null.""#);
        let format2 =
            "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)";
        yields(format2, &pair(r#""""#), r#""Formatting arguments fst= and snd=.""#);
        yields(format2, &pair("null"), r#""Formatting arguments fst=null and snd=null.""#);
        yields(format2, &pair("1"), r#""Formatting arguments fst=1 and snd=1.""#);
        let contains = "States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)";
        yields(contains, r#"{"FunctionInput":{"fst":[],"snd":1}}"#, "false");
        yields(contains, r#"{"FunctionInput":{"fst":[{"1":2,"2":[]}],"snd":[]}}"#, "false");
        yields(contains, r#"{"FunctionInput":{"fst":[{"1":2,"2":[]}],"snd":{"1":2,"2":[]}}}"#, "true");
        let partition = "States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)";
        yields(partition, r#"{"FunctionInput":{"fst":[0,1],"snd":1}}"#, "[[0],[1]]");
        yields(partition, r#"{"FunctionInput":{"fst":[0,1,2,3],"snd":1}}"#, "[[0],[1],[2],[3]]");
        yields(partition, r#"{"FunctionInput":{"fst":[0,1,2,3],"snd":4}}"#, "[[0,1,2,3]]");
        let range = "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)";
        yields(range, r#"{"FunctionInput":{"fst":0,"snd":9,"trd":3}}"#, "[0,3,6,9]");
        yields(range, r#"{"FunctionInput":{"fst":0,"snd":10,"trd":3}}"#, "[0,3,6,9]");
        yields(
            "States.Base64Encode($.FunctionInput)",
            r#"{"FunctionInput":"Data to encode"}"#,
            r#""RGF0YSB0byBlbmNvZGU=""#,
        );
        yields(
            "States.Hash($.FunctionInput.fst, $.FunctionInput.snd)",
            r#"{"FunctionInput":{"fst":"input data","snd":"SHA-384"}}"#,
            r#""d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562""#,
        );
        yields("States.StringToJson($.FunctionInput)", r#"{"FunctionInput":"null"}"#, "null");
        yields("States.StringToJson($.FunctionInput)", r#"{"FunctionInput":"\"HelloWorld\""}"#, r#""HelloWorld""#);
        yields("States.JsonToString($.FunctionInput)", r#"{"FunctionInput":"HelloWorld"}"#, r#""\"HelloWorld\"""#);
        let add = "States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)";
        for (fst, snd, sum) in
            [("1.49", "1.50", 3), ("1.51", "0", 2), ("-1.51", "0", -2), ("2.5", "0", 3), ("1.49", "0", 1)]
        {
            yields(add, &format!(r#"{{"FunctionInput":{{"fst":{fst},"snd":{snd}}}}}"#), &sum.to_string());
        }
        yields(
            "States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)",
            r#"{"FunctionInput":{"fst":"This.is+a,test=string","snd":".+,="}}"#,
            r#"["This","is","a","test","string"]"#,
        );
    }

    // ---- Syntax ----

    #[test]
    fn parses_every_argument_kind() {
        yields(
            r"States.Array('it\'s', '\{\}', 'a\\b', 1, -2.5, 1e3, null, true, false, $.a, States.Array())",
            r#"{"a":[1]}"#,
            r#"["it's","{}","a\\b",1,-2.5,1000.0,null,true,false,[1],[]]"#,
        );
        yields("States.Array( 1 ,2 )", "{}", "[1,2]");
        yields("States.Array($['a b'], $.c.['d e'], $.f[0])", r#"{"a b":1,"c":{"d e":2},"f":[3]}"#, "[1,2,3]");
        yields("States.Array($.a[?(@.b > 1)].b)", r#"{"a":[{"b":1},{"b":2}]}"#, "[[2]]");
    }

    #[test]
    fn refuses_malformed_calls() {
        refused(r"States.Format('a\')");
        refused(r"States.Format('dangling \')");
        refused(r"States.Format('\n')");
        refused("States.Format('unterminated");
        refused("States.Nope(1)");
        refused("States.Format ('x')");
        refused("States.Array(1,)");
        refused("States.Array(1 2)");
        refused("States.Array(1) x");
        refused("States.Array(01)");
        refused("States.Array(1.)");
        refused("States.Array(nul)");
        refused("States.Array($.a[)");
        refused("States.Array(\"x\")");
        refused("States.Array(");
    }

    #[test]
    fn nesting_is_limited_to_ten_calls_deep() {
        let nest = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
        assert!(Intrinsic::parse(&nest(MAX_DEPTH)).is_ok());
        refused(&nest(MAX_DEPTH + 1));
        refused(&nest(100_000));
    }

    #[test]
    fn display_round_trips_and_names() {
        let text = r"States.Format('{} \{\}', States.Array($.a, 'x'))";
        let call: Intrinsic = text.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(call.to_string(), text);
        assert_eq!(call.name(), "States.Format");
        assert!(call.function().returns_string());
        assert_eq!(call.paths().len(), 1);
        assert!(is_intrinsic("States.UUID()") && !is_intrinsic("$.a"));
        assert!(Function::ALL.iter().all(|f| Function::from_name(f.name()) == Some(*f)));
    }

    // ---- Semantics beyond the recorded cases ----

    #[test]
    fn format_placeholders() {
        yields(r"States.Format('\{\} {}', 1)", "{}", r#""{} 1""#);
        yields(r"States.Format('{\}')", "{}", r#""{}""#);
        yields("States.Format($.t, 1, 'b')", r#"{"t":"a{}{}"}"#, r#""a1b""#);
        yields("States.Format('{}', $.v)", r#"{"v":[1,"a",{"k":null}]}"#, r#""[1, a, {k=null}]""#);
        yields("States.Format('{}', $.v)", r#"{"v":1e21}"#, r#""1.0E21""#);
        yields("States.Format('{}', 1.0)", "{}", r#""1.0""#);
        fails("States.Format('{}')", "{}", INTRINSIC_FAILURE, "1 placeholder(s) but 0 value(s)");
        fails("States.Format('x', 1)", "{}", INTRINSIC_FAILURE, "0 placeholder(s) but 1 value(s)");
        fails("States.Format(1)", "{}", INTRINSIC_FAILURE, "argument 1 must be a string");
    }

    #[test]
    fn json_text_follows_jackson() {
        yields(
            "States.JsonToString($)",
            r#"{"b":1,"a":[1.5,1e21,0.0001,"\u0001\n\"/é"]}"#,
            r#""{\"b\":1,\"a\":[1.5,1.0E21,1.0E-4,\"\\u0001\\n\\\"/é\"]}""#,
        );
        yields("States.StringToJson($.s)", r#"{"s":" {\"a\": -0, \"b\": [true]} "}"#, r#"{"a":0,"b":[true]}"#);
        yields("States.StringToJson('\t')", "{}", "null");
        fails("States.StringToJson('{')", "{}", INTRINSIC_FAILURE, "not valid JSON");
        fails("States.StringToJson($.n)", r#"{"n":1}"#, INTRINSIC_FAILURE, "must be a string");
        // Values checked against the JDK's Double.toString.
        let java = [
            (1e21, "1.0E21"),
            (1.0, "1.0"),
            (0.001, "0.001"),
            (1e-4, "1.0E-4"),
            (1e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (12_345_678.9, "1.23456789E7"),
            (-1.5e-5, "-1.5E-5"),
            (123_456.789, "123456.789"),
            (2.5e100, "2.5E100"),
            (100.0, "100.0"),
        ];
        for (d, text) in java {
            assert_eq!(java_double(d), text);
        }
        assert_eq!(java_json(&json!({"k": [null, false]})), r#"{"k":[null,false]}"#);
    }

    #[test]
    fn array_functions() {
        yields("States.ArrayPartition($.a, 2.5)", r#"{"a":[1,2,3,4,5]}"#, "[[1,2,3],[4,5]]");
        fails("States.ArrayPartition($.a, 0)", r#"{"a":[1]}"#, INTRINSIC_FAILURE, "chunk size");
        fails("States.ArrayPartition($.a, 0.4)", r#"{"a":[1]}"#, INTRINSIC_FAILURE, "chunk size");
        fails("States.ArrayPartition('abc', 1)", "{}", INTRINSIC_FAILURE, "argument 1 must be an array");
        yields("States.ArrayRange(9, 1, -2)", "{}", "[9,7,5,3,1]");
        yields("States.ArrayRange(1, 9, -2)", "{}", "[]");
        yields("States.ArrayRange(5, 5, 3)", "{}", "[5]");
        yields("States.ArrayRange(0.5, 2.5, 1)", "{}", "[1,2,3]");
        let thousand = run("States.ArrayRange(1, 1000, 1)", "{}", &Map::new()).ok();
        assert_eq!(thousand.and_then(|v| v.as_array().map(Vec::len)), Some(1000));
        fails("States.ArrayRange(1, 1001, 1)", "{}", INTRINSIC_FAILURE, "1001 items");
        fails(
            "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
            "{}",
            INTRINSIC_FAILURE,
            "maximum is 1000",
        );
        fails("States.ArrayRange(1, 9, 0)", "{}", INTRINSIC_FAILURE, "step must not be 0");
        fails("States.ArrayRange('1', 9, 1)", "{}", INTRINSIC_FAILURE, "must be an integer");
        fails("States.ArrayRange(1, 9)", "{}", INTRINSIC_FAILURE, "expected 3 argument(s) but got 2");
        yields("States.ArrayGetItem($.a, 0)", r#"{"a":["x"]}"#, r#""x""#);
        fails("States.ArrayGetItem($.a, 1)", r#"{"a":["x"]}"#, INTRINSIC_FAILURE, "out of bounds");
        fails("States.ArrayGetItem($.a, -1)", r#"{"a":["x"]}"#, INTRINSIC_FAILURE, "out of bounds");
        yields("States.ArrayLength($.a)", r#"{"a":[]}"#, "0");
        fails("States.ArrayLength($.a)", r#"{"a":{}}"#, INTRINSIC_FAILURE, "must be an array");
        yields(
            "States.ArrayUnique($.a)",
            r#"{"a":[null,null,true,1,1.0,"1",[],[],{"a":1,"b":2},{"b":2,"a":1},{"a":1,"b":1}]}"#,
            r#"[null,true,1,"1",[],{"a":1,"b":2},{"a":1,"b":1}]"#,
        );
        yields("States.ArrayContains($.a, 2)", r#"{"a":[2.0]}"#, "true");
        yields("States.ArrayContains($.a, 'x')", r#"{"a":["x"]}"#, "true");
    }

    #[test]
    fn encoding_and_hashing() {
        yields("States.Base64Decode('RGF0YSB0byBlbmNvZGU')", "{}", r#""Data to encode""#);
        yields("States.Base64Decode('RGF0YS\nB0byBlbmNvZGU=')", "{}", r#""Data to encode""#);
        fails("States.Base64Decode('***')", "{}", INTRINSIC_FAILURE, "not Base64");
        fails("States.Base64Encode(1)", "{}", INTRINSIC_FAILURE, "must be a string");
        let long = format!(r#"{{"s":"{}"}}"#, "a".repeat(10_001));
        fails("States.Base64Encode($.s)", &long, INTRINSIC_FAILURE, "maximum is 10000");
        fails("States.Hash($.s, 'MD5')", &long, INTRINSIC_FAILURE, "maximum is 10000");
        let limit = format!(r#"{{"s":"{}"}}"#, "a".repeat(10_000));
        assert!(run("States.Base64Encode($.s)", &limit, &Map::new()).is_ok());
        yields("States.Hash('input data', 'MD5')", "{}", r#""812f45842bc6d66ee14572ce20db8e86""#);
        yields("States.Hash($.o, 'MD5')", r#"{"o":{"a":1}}"#, r#""bb6cb5c68df4652941caf652a366f2d8""#);
        fails("States.Hash('x', 'sha-256')", "{}", INTRINSIC_FAILURE, "'sha-256' is not one of");
    }

    #[test]
    fn json_merge() {
        // Key order checked against java.util.HashMap: new HashMap<>(), putAll(first), putAll(second).
        let first = r#"{"zeta":1,"alpha":1,"b":1,"key9":1,"Name":1,"Id":1,"a1":1}"#;
        let second =
            r#"{"q":2,"alpha":2,"Arg2":2,"Arg1":2,"m0":2,"m1":2,"m2":2,"m3":2,"m4":2,"m5":2,"m6":2,"m7":2,"m8":2}"#;
        let merged = run("States.JsonMerge($.x, $.y, false)", &format!(r#"{{"x":{first},"y":{second}}}"#), &Map::new());
        let keys: Vec<String> =
            merged.ok().and_then(|v| v.as_object().map(|m| m.keys().cloned().collect())).unwrap_or_default();
        assert_eq!(
            keys,
            [
                "zeta", "b", "Arg2", "m0", "Arg1", "m1", "m2", "m3", "m4", "key9", "m5", "m6", "m7", "m8", "Name",
                "a1", "q", "alpha", "Id"
            ]
        );
        yields(
            "States.JsonMerge($.x, $.y, false)",
            r#"{"x":{"a":{"n":1},"b":1},"y":{"a":{"m":2}}}"#,
            r#"{"a":{"m":2},"b":1}"#,
        );
        fails("States.JsonMerge($.x, $.x, true)", r#"{"x":{}}"#, INTRINSIC_FAILURE, "must be false");
        fails("States.JsonMerge($.x, $.x, 'false')", r#"{"x":{}}"#, INTRINSIC_FAILURE, "argument 3 must be a boolean");
        fails("States.JsonMerge($.x, 1, false)", r#"{"x":{}}"#, INTRINSIC_FAILURE, "argument 2 must be a JSON object");
    }

    #[test]
    fn math() {
        // Java's Math.round, checked against the JDK.
        for (x, rounded) in [("0.5", 1), ("-0.5", 0), ("-1.5", -1), ("-2.5", -2), ("0.49999999999999994", 0)] {
            yields(&format!("States.MathAdd({x}, 0)"), "{}", &rounded.to_string());
        }
        yields("States.MathAdd(2147483647, 1)", "{}", "2147483648");
        fails("States.MathAdd(2147483648, 1)", "{}", INTRINSIC_FAILURE, "between -2147483648 and 2147483647");
        fails("States.MathAdd('1', 1)", "{}", INTRINSIC_FAILURE, "argument 1 must be an integer");
        fails("States.MathAdd(1)", "{}", INTRINSIC_FAILURE, "expected 2 argument(s) but got 1");
        for _ in 0..200 {
            let v = run("States.MathRandom(3, 5)", "{}", &Map::new()).ok().and_then(|v| v.as_i64());
            assert!(matches!(v, Some(3 | 4)), "{v:?}");
        }
        yields("States.MathRandom(-99999, -99998)", "{}", "-99999");
        // `…__test_math_random` (exec0, exec2) and `…__test_math_random_seeded`: AWS's draws are masked.
        let random = "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd)";
        for (input, range) in
            [(r#"{"fst":12.5,"snd":44.51}"#, 13..45), (r#"{"fst":-99999,"snd":-9999}"#, -99999..-9999)]
        {
            let v = run(random, &format!(r#"{{"FunctionInput":{input}}}"#), &Map::new()).ok().and_then(|v| v.as_i64());
            assert!(v.is_some_and(|v| range.contains(&v)), "{v:?}");
        }
        // Seeded draws equal `new java.util.Random(seed).nextInt(end - start) + start` (and
        // `nextLong(0, end - start)` past the int range), checked against the JDK.
        yields("States.MathRandom(0, 999, 42)", "{}", "125");
        yields("States.MathRandom(10, 1009, 42)", "{}", "135");
        yields("States.MathRandom(0, 999, 3)", "{}", "239");
        yields("States.MathRandom(0, 1024, -7)", "{}", "275");
        yields("States.MathRandom(0, 5000000000, 42)", "{}", "2867200891");
        fails("States.MathRandom(7, 7)", "{}", INTRINSIC_FAILURE, "must be less than");
        fails("States.MathRandom(1, 2, 'x')", "{}", INTRINSIC_FAILURE, "argument 3 must be an integer");
    }

    #[test]
    fn strings_and_uuids() {
        yields("States.StringSplit('a--b-', '-')", "{}", r#"["a","b"]"#);
        yields("States.StringSplit('ab', '')", "{}", r#"["ab"]"#);
        yields("States.StringSplit('', ',')", "{}", "[]");
        fails("States.StringSplit('a', 1)", "{}", INTRINSIC_FAILURE, "argument 2 must be a string");
        let id = run("States.UUID()", "{}", &Map::new()).ok().and_then(|v| v.as_str().map(str::to_owned));
        let parsed = id.as_deref().and_then(|s| uuid::Uuid::parse_str(s).ok());
        assert_eq!(parsed.map(|u| u.get_version_num()), Some(4));
        fails("States.UUID(1)", "{}", INTRINSIC_FAILURE, "expected 0 argument(s) but got 1");
    }

    #[test]
    fn unresolvable_paths_are_runtime_errors() {
        fails("States.Array($.missing)", "{}", RUNTIME, "No results for path: $['missing']");
        fails("States.Array($nope)", "{}", RUNTIME, "The variable '$nope' is not defined");
        let err = run("States.Format('{}', States.Array($.a.b))", r#"{"a":1}"#, &Map::new()).err();
        assert!(matches!(err, Some(IntrinsicError::Path { function: Function::Array, .. })), "{err:?}");
    }
}
