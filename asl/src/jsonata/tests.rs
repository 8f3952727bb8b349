//! Golden tests: expressions from the recorded AWS cases (and the Step Functions function docs), the
//! `$states` input and variables they ran with, and what AWS answered.

use serde_json::json;

use super::*;

/// What an evaluation should give.
enum Want {
    /// A JSON value.
    Value(Value),
    /// JSONata `undefined`.
    Undefined,
    /// An evaluation error with exactly this message.
    Error(&'static str),
    /// A function or regex result.
    Unsupported,
}

/// (expression without delimiters, `$states.input`, variables, expected).
fn golden() -> Vec<(&'static str, Value, Value, Want)> {
    use Want::*;
    let none = || json!({});
    vec![
        // $states and variables.
        ("$states.input", json!({"input_value": "stringliteral"}), none(), Value(json!({"input_value": "stringliteral"}))),
        ("$states.input.input_value", json!({"input_value": [1, 2, 3]}), none(), Value(json!([1, 2, 3]))),
        ("$states.input.enigma.mystery.riddle", json!({"enigma": {"mystery": {"riddle": 42}}}), none(), Value(json!(42))),
        ("$states.input.missing", json!({}), none(), Undefined),
        ("$var_input_value", json!({}), json!({"var_input_value": "string literal"}), Value(json!("string literal"))),
        ("$doesNotExist", json!({}), json!({"other": 1}), Undefined),
        ("$ItemsVar", json!({}), json!({"ItemsVar": {"foo": "bar"}}), Value(json!({"foo": "bar"}))),
        (
            "$sum($states.input.input_values) + $var_constant_1",
            json!({"input_value": "string literal", "input_values": [1, 2, 3]}),
            json!({"var_constant_1": 1}),
            Value(json!(7)),
        ),
        (
            "$sum($states.input.input_values) + $var_constant_1",
            json!({"input_values": [1, 2, 3]}),
            json!({"var_constant_1": 10}),
            Value(json!(16)),
        ),
        ("$states.context.Execution.Id", json!({}), none(), Value(json!("arn:exec"))),
        ("$exists($status) ? 'completed' : 'running'", json!({}), none(), Value(json!("running"))),
        ("$exists($status) ? 'completed' : 'running'", json!({}), json!({"status": "x"}), Value(json!("completed"))),
        ("$status = 'completed'", json!({}), json!({"status": "completed"}), Value(json!(true))),
        // Choice conditions.
        ("$not($states.input.type = 'Private')", json!({"type": "Private", "value": 22}), none(), Value(json!(false))),
        ("$states.input.value = 0", json!({"type": "Private", "value": 22}), none(), Value(json!(false))),
        (
            "$states.input.value >= 20 and $states.input.value < 30",
            json!({"type": "Private", "value": 22}),
            none(),
            Value(json!(true)),
        ),
        ("$states.input.type = 'Public'", json!({"type": "Public"}), none(), Value(json!(true))),
        ("$states.input.str_value = \"string literal\"", json!({"str_value": "string literal"}), none(), Value(json!(true))),
        ("$states.input.result.done", json!({"result": {"done": false}}), none(), Value(json!(false))),
        ("$not($states.input.result.done)", json!({"result": {"done": false}}), none(), Value(json!(true))),
        ("$var = '\"'", json!({}), json!({"var": "\""}), Value(json!(true))),
        ("$states.input = '\"'", json!("\""), none(), Value(json!(true))),
        ("$states.input.cost < 10", json!({"cost": 9}), none(), Value(json!(true))),
        // Literals and built-ins.
        ("true", json!({}), none(), Value(json!(true))),
        ("null", json!({}), none(), Value(json!(null))),
        ("1", json!({}), none(), Value(json!(1))),
        ("'string'", json!({}), none(), Value(json!("string"))),
        ("{'foo': 'bar'}", json!({}), none(), Value(json!({"foo": "bar"}))),
        ("$number(\"2\")", json!({}), none(), Value(json!(2))),
        ("$number('2')", json!({}), none(), Value(json!(2))),
        ("'2016-03-14T01:59:00Z'", json!({}), none(), Value(json!("2016-03-14T01:59:00Z"))),
        (
            "$merge([$states.input.part1, $states.input.part2])",
            json!({"part1": {"hello": "world"}, "part2": {"foo": "bar"}}),
            none(),
            Value(json!({"hello": "world", "foo": "bar"})),
        ),
        ("$maxItems := 2", json!({}), none(), Value(json!(2))),
        ("$variable := 1", json!({}), none(), Value(json!(1))),
        ("$fn := function($x){$x}", json!({}), none(), Unsupported),
        ("$uppercase", json!({}), none(), Unsupported),
        // Results reached through $states.result (Map output in TestState cases).
        (
            "$map($states.result, function($v) { $v = 1 ? 'pass' : 'failed' })",
            json!(null),
            none(),
            Value(json!(["pass", "failed", "pass"])),
        ),
        ("$count($states.result[$ = 1])", json!(null), none(), Value(json!(2))),
        ("$count($states.result[$ = 0])", json!(null), none(), Value(json!(1))),
        ("$states.result.Payload.status", json!(null), none(), Value(json!("done"))),
        // Sequences: a one-item result is the item, [] keeps the array.
        ("$states.input.a[$ > 2]", json!({"a": [1, 2, 3]}), none(), Value(json!(3))),
        ("$states.input.a[$ > 1]", json!({"a": [1, 2, 3]}), none(), Value(json!([2, 3]))),
        ("$states.input.a[$ > 2][]", json!({"a": [1, 2, 3]}), none(), Value(json!([3]))),
        ("$states.input.a[$ > 5]", json!({"a": [1, 2, 3]}), none(), Undefined),
        ("$states.input.items.{'id': id}", json!({"items": [{"id": 7}]}), none(), Value(json!({"id": 7}))),
        // Objects keep key order and drop undefined members.
        ("{'z': 1, 'a': 2, 'm': $states.input.nothing}", json!({}), none(), Value(json!({"z": 1, "a": 2}))),
        ("$states.input", json!({"b": 1, "a": 2}), none(), Value(json!({"b": 1, "a": 2}))),
        // Numbers: integers stay integers, floats keep JavaScript's shortest form.
        ("0.1 + 0.2", json!({}), none(), Value(json!(0.30000000000000004))),
        ("6 / 2", json!({}), none(), Value(json!(3))),
        ("7 / 2", json!({}), none(), Value(json!(3.5))),
        ("$states.input.n * 1", json!({"n": 1.0}), none(), Value(json!(1))),
        ("1e20", json!({}), none(), Value(json!(100_000_000_000_000_000_000_f64))),
        ("$string(1e20)", json!({}), none(), Value(json!("100000000000000000000"))),
        ("1/0", json!({}), none(), Value(json!("Infinity"))),
        ("$average([1, 2])", json!({}), none(), Value(json!(1.5))),
        // $partition (intrinsic_functions_test_array_jsonata).
        ("$partition($states.input.fst, $states.input.snd)", json!({"fst": [0], "snd": 1}), none(), Value(json!([[0]]))),
        ("$partition($states.input.fst, $states.input.snd)", json!({"fst": [0], "snd": 5}), none(), Value(json!([[0]]))),
        ("$partition($states.input.fst, $states.input.snd)", json!({"fst": [0, 1, 2], "snd": 4}), none(), Value(json!([[0, 1, 2]]))),
        (
            "$partition($states.input.fst, $states.input.snd)",
            json!({"fst": [0, 1, 2, 3], "snd": 2}),
            none(),
            Value(json!([[0, 1], [2, 3]])),
        ),
        (
            "$partition($states.input.fst, $states.input.snd)",
            json!({"fst": [0, 1, 2, 3], "snd": 3}),
            none(),
            Value(json!([[0, 1, 2], [3]])),
        ),
        ("$partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)", json!({}), none(), Value(json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))),
        ("$partition([1, 2, 3], 2.9)", json!({}), none(), Value(json!([[1, 2], [3]]))),
        ("$partition([1, 2, 3], 0)", json!({}), none(), Undefined),
        ("$partition([], 2)", json!({}), none(), Undefined),
        ("$partition($states.input.nothing, 2)", json!({}), none(), Undefined),
        ("$partition([1, 2], -2)", json!({}), none(), Error("D3137: Second argument must be zero or greater")),
        ("$partition([1, 2], 'x')", json!({}), none(), Error("T0410: Argument 2 of function \"partition\" does not match function signature")),
        // $range.
        ("$range($states.input.fst, $states.input.snd, $states.input.trd)", json!({"fst": 0, "snd": 9, "trd": 3}), none(), Value(json!([0, 3, 6, 9]))),
        ("$range($states.input.fst, $states.input.snd, $states.input.trd)", json!({"fst": 0, "snd": 10, "trd": 3}), none(), Value(json!([0, 3, 6, 9]))),
        ("$range($states.input.fst, $states.input.snd, $states.input.trd)", json!({"fst": 1, "snd": 9, "trd": 9}), none(), Value(json!(1))),
        ("$range($states.input.fst, $states.input.snd, $states.input.trd)", json!({"fst": 1, "snd": 9, "trd": 2}), none(), Value(json!([1, 3, 5, 7, 9]))),
        ("$range(0, 10, 2)", json!({}), none(), Value(json!([0, 2, 4, 6, 8, 10]))),
        ("$range(10, 0, -5)", json!({}), none(), Value(json!([10, 5, 0]))),
        ("$range(0, 10, -1)", json!({}), none(), Undefined),
        ("$range(0, 10, 0)", json!({}), none(), Undefined),
        ("$range(0.9, 3.7, 1.5)", json!({}), none(), Value(json!([0, 1, 2, 3]))),
        ("$range('a', 3, 1)", json!({}), none(), Error("T0410: Argument 1 of function \"range\" does not match function signature")),
        // $hash.
        (
            "$hash('Hash this string', 'SHA-256')",
            json!({}),
            none(),
            Value(json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e")),
        ),
        ("$hash('abc', 'MD5')", json!({}), none(), Value(json!("900150983cd24fb0d6963f7d28e17f72"))),
        ("$hash('abc', 'SHA-1')", json!({}), none(), Value(json!("a9993e364706816aba3e25717850c26c9cd0d89d"))),
        (
            "$hash('abc', 'SHA-384')",
            json!({}),
            none(),
            Value(json!("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")),
        ),
        (
            "$hash('abc', 'SHA-512')",
            json!({}),
            none(),
            Value(json!("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")),
        ),
        (
            "$hash('abc', 'SHA-2')",
            json!({}),
            none(),
            Error("D3137: Hash algorithm 'SHA-2' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"),
        ),
        ("$hash(1, 'MD5')", json!({}), none(), Error("T0410: Argument 1 of function \"hash\" does not match function signature")),
        // $random with a seed is java.util.Random's first draw.
        ("$random(42)", json!({}), none(), Value(json!(0.7275636800328681))),
        ("$random(42.9)", json!({}), none(), Value(json!(0.7275636800328681))),
        ("$random() >= 0 and $random() < 1", json!({}), none(), Value(json!(true))),
        // $parse (intrinsic_functions_test_json_manipulation_jsonata).
        ("$parse($states.input.FunctionInput)", json!({"FunctionInput": "1"}), none(), Value(json!(1))),
        ("$parse($states.input.FunctionInput)", json!({"FunctionInput": "true"}), none(), Value(json!(true))),
        ("$parse($states.input.FunctionInput)", json!({"FunctionInput": "\"HelloWorld\""}), none(), Value(json!("HelloWorld"))),
        ("$parse('{\"b\": [1, {\"c\": null}], \"a\": 2}')", json!({}), none(), Value(json!({"b": [1, {"c": null}], "a": 2}))),
        ("$parse('{')", json!({}), none(), Error("D3137: Invalid JSON")),
        ("$parse('')", json!({}), none(), Error("D3137: Invalid JSON")),
        ("$map(['1', '[2]'], $parse)", json!({}), none(), Value(json!([1, [2]]))),
        // $uuid.
        ("$length($uuid())", json!({}), none(), Value(json!(36))),
        ("$substring($uuid(), 14, 1)", json!({}), none(), Value(json!("4"))),
        // $eval is withdrawn; calling anything that is not a function is T1006.
        ("$eval('1 + 1')", json!({}), none(), Error("T1006: Attempted to invoke a non-function")),
        ("$doesNotExist()", json!({}), none(), Error("T1006: Attempted to invoke a non-function")),
        ("$x()", json!({}), json!({"x": 1}), Error("T1006: Attempted to invoke a non-function")),
        // A variable named like a built-in shadows it, as a jsonata-js binding does.
        ("$count + 1", json!({}), json!({"count": 3}), Value(json!(4))),
        // Other JSONata errors keep their code.
        ("$states.input.s + 1", json!({"s": "a"}), none(), Error("T2001: The left side of the + operator must evaluate to a number")),
    ]
}

/// The `$states` object for a golden case: its input plus a context and a result, as a Task's Output sees.
fn states(input: Value) -> Value {
    json!({
        "input": input,
        "context": {"Execution": {"Id": "arn:exec"}},
        "result": [1, 0, 1],
    })
}

#[test]
fn golden_expressions() {
    let mut failures = Vec::new();
    for (source, input, vars, want) in golden() {
        let states = if source.contains("Payload") {
            json!({"input": input, "result": {"Payload": {"status": "done"}}})
        } else {
            states(input)
        };
        let vars = match vars {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let got = Expression::parse(source).and_then(|e| e.eval(&states, &vars));
        let ok = match (&want, &got) {
            (Want::Value(w), Ok(Some(g))) => w == g,
            (Want::Undefined, Ok(None)) => true,
            (Want::Error(w), Err(e)) => e.to_string() == *w && e.kind() == JsonataErrorKind::Evaluation,
            (Want::Unsupported, Err(e)) => e.is_unsupported_result(),
            _ => false,
        };
        if !ok {
            let want = match want {
                Want::Value(v) => v.to_string(),
                Want::Undefined => "undefined".to_owned(),
                Want::Error(m) => format!("error {m}"),
                Want::Unsupported => "unsupported result".to_owned(),
            };
            failures.push(format!("{source}: want {want}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} golden failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn integers_serialise_without_fraction() {
    let e = Expression::parse("[1, 2.5, -0, 3e3, 9007199254740993]").unwrap();
    let got = e.eval(&json!({}), &crate::path::NoVars).unwrap().unwrap();
    assert_eq!(got.to_string(), "[1,2.5,0,3000,9007199254740992]");
}

#[test]
fn strip_delimiters_requires_exact_delimiters() {
    assert_eq!(strip_delimiters("{% $states.input %}"), Some("$states.input"));
    assert_eq!(strip_delimiters("{%$x%}"), Some("$x"));
    assert_eq!(strip_delimiters(" {% states.input %} "), None);
    assert_eq!(strip_delimiters("{% x"), None);
    assert_eq!(strip_delimiters("$states.input"), None);
    assert_eq!(strip_delimiters("{%}"), None);
}

#[test]
fn source_is_trimmed() {
    assert_eq!(Expression::parse("  $doesNotExist ").unwrap().source(), "$doesNotExist");
}

#[test]
fn variable_references_skip_states_functions_and_locals() {
    let refs = |s: &str| Expression::parse(s).unwrap().variable_references();
    assert_eq!(refs("$states.input.a"), Vec::<String>::new());
    assert_eq!(refs("$sum($states.input.v) + $var_constant_1"), ["var_constant_1"]);
    assert_eq!(refs("$a & $b & $a"), ["a", "b"]);
    assert_eq!(refs("($fn := function($x){$x + $y}; $fn($z))"), ["y", "z"]);
    assert_eq!(refs("$map($xs, $string)"), ["xs"]);
    assert_eq!(refs("$partition($arr, 2)"), ["arr"]);
    assert_eq!(refs("$states.input.items#$i[$i > $limit]"), ["limit"]);
}

#[test]
fn only_referenced_variables_are_needed() {
    struct Strict;
    impl VarLookup for Strict {
        fn lookup(&self, name: &str) -> Option<&Value> {
            assert!(["v", "sum"].contains(&name), "looked up {name}");
            None
        }
    }
    let e = Expression::parse("$v + 1").unwrap();
    assert_eq!(e.eval(&json!({}), &Strict).unwrap(), None);
}

#[test]
fn top_level_references_are_refused() {
    let restriction = |s: &str| Expression::parse(s).unwrap().top_level_restriction();
    let refused = |name: &str| Some(format!("Reference to '{name}' at the top level is not supported."));
    assert_eq!(restriction("phone"), refused("phone"));
    assert_eq!(restriction("$count(items)"), refused("items"));
    assert_eq!(restriction("{'v': total}"), refused("total"));
    assert_eq!(restriction("$"), refused("$"));
    assert_eq!(restriction("$.total"), refused("$"));
    assert_eq!(restriction("$$.a"), Some("Reference to '$$' is not supported.".to_owned()));
    assert_eq!(restriction("$states.input.order[$.total > 10]"), None);
    assert_eq!(restriction("$order[total > 10]"), None);
    assert_eq!(restriction("$states.input.items.name"), None);
    assert_eq!(restriction("$states.input.items.{'n': name}"), None);
    assert_eq!(restriction("$map($xs, function($v){ $v.name })"), None);
    assert_eq!(restriction("$states.input.items^(price)"), None);
    assert_eq!(restriction("'a string' & $x"), None);
    let e = Expression::parse("a + b + a").unwrap();
    assert_eq!(
        e.top_level_restrictions(),
        ["Reference to 'a' at the top level is not supported.", "Reference to 'b' at the top level is not supported."]
    );
}

#[test]
fn syntax_errors_read_like_jsonata_js() {
    let err = |s: &str| Expression::parse(s).unwrap_err();
    let e = err("a[1,2)");
    assert_eq!(e.kind(), JsonataErrorKind::Syntax);
    assert_eq!(e.to_string(), "S0202: Expected \"]\", got \",\"");
    assert_eq!(e.code(), Some("S0202"));
    assert_eq!(e.detail(), "Expected \"]\", got \",\"");
    assert_eq!(err("1 +").detail(), "Unexpected end of expression");
    assert_eq!(err("\"unterminated").detail(), "String literal must be terminated by a matching quote");
    assert_eq!(err("(1").to_string(), "S0203: Expected \")\" before end of expression");
}

#[test]
fn runtime_error_code_is_exposed() {
    let e = Expression::parse("$x()").unwrap().eval(&json!({}), &crate::path::NoVars).unwrap_err();
    assert_eq!(e.code(), Some("T1006"));
    assert_eq!(e.detail(), "Attempted to invoke a non-function");
}

#[test]
fn expressions_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<JsonataError>();
}

#[test]
fn syntax_error_wording() {
    let err = |s: &str| Expression::parse(s).unwrap_err().to_string();
    assert_eq!(err("$fn := 1; 2"), "S0201: Syntax error: \";\"");
    assert_eq!(err("{\"a\":}"), "S0211: The symbol \"}\" cannot be used as a unary operator");
    assert_eq!(err("/* open"), "S0106: Comment has no closing tag");
    assert_eq!(err(""), "S0207: Unexpected end of expression");
}

#[test]
fn huge_range_is_refused() {
    let e = Expression::parse("$range(0, 100000000, 1)").unwrap();
    let err = e.eval(&json!({}), &crate::path::NoVars).unwrap_err();
    assert_eq!(err.code(), Some("D2014"));
    assert!(err.to_string().ends_with("1e7.  Attempted to allocate 100000001."), "{err}");
}

/// jsonata-core's range operator overflows on an end past `i64::MAX` when overflow checks are on
/// (debug builds); the panic stays inside `Expression::eval`, and a release build answers D2014.
#[test]
fn a_range_past_the_integers_is_an_error() {
    let e = Expression::parse("[0..1e300]").unwrap();
    assert!(e.eval(&json!({}), &crate::path::NoVars).is_err());
}
