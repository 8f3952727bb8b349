//! Property tests: parsing and running arbitrary input never panics.
//!
//! Three properties feed generated data to the public API:
//!
//! - arbitrary strings to [`parse_str`];
//! - arbitrary JSON values to [`parse`] (and to the engine, in the rare case they parse);
//! - definition-shaped JSON to [`parse`] and, when it parses, to the engine with a random input.
//!   These definitions have a `StartAt` and `States` whose states have a random `Type` and the fields
//!   that type takes, holding paths (`$.a`, `$$.x`, `$v`), intrinsic calls, JSONata expressions or
//!   random JSON; now and then a field, a value or a type is wrong on purpose.
//!
//! Executions run on a current-thread runtime, so every task they spawn runs on the test's own
//! thread. A panic hook records panics raised on that thread: `tokio::spawn` would otherwise turn a
//! panic inside an execution into an ordinary "execution ended unexpectedly" outcome. Panics inside
//! the JSONata library, which `legion-asl` catches and turns into errors by design, are not recorded.
//!
//! Transitions in generated definitions only go forward, so every execution ends; a run that is
//! still going after [`RUN_TIMEOUT`] is stopped, and must then end promptly.

use std::cell::RefCell;
use std::sync::{Arc, Once};
use std::time::Duration;

use legion_asl::parse::{parse, parse_str, ParseOptions};
use legion_engine::history::HistoryEvent;
use legion_engine::{Engine, ExecutionStatus, LocalHandlers, StartRequest, TaskError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use serde_json::{json, Map, Number, Value};

/// How many cases each property runs, unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 256;

/// How long one execution may run before it is stopped.
const RUN_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a stopped execution may take to end.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// The cause the engine reports when an execution's task ended without an outcome (a panic).
const UNEXPECTED_END: &str = "The execution ended unexpectedly";

thread_local! {
    /// Panics raised on this thread outside the JSONata library: `location: message`.
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            if location.contains("jsonata-core") || location.contains("jsonata_core") {
                return;
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            PANICS.with(|p| p.borrow_mut().push(format!("{location}: {message}")));
            previous(info);
        }));
    });
}

/// Takes the panics recorded on this thread so far.
fn take_panics() -> Vec<String> {
    PANICS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES);
    Config { cases, failure_persistence: None, max_shrink_iters: 1024, ..Config::default() }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON
// ---------------------------------------------------------------------------------------------

/// Keys that states and inputs use, so random objects often hit real fields and paths.
const KEYS: &[&str] = &[
    "a",
    "b",
    "items",
    "s",
    "n",
    "x",
    "v",
    "Type",
    "StartAt",
    "States",
    "Next",
    "End",
    "Result",
    "Parameters",
    "Arguments",
    "Output",
    "Assign",
    "k.$",
    "a.$",
    "Payload",
    "Error",
    "Cause",
    "Variable",
    "Condition",
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![0.0, -0.0, 1.0, -1.0, 0.5, 2.5, 1e300, -1e300, 1e-300, 9007199254740993.0])
            .prop_map(|f| json!(f)),
        (-3i64..40).prop_map(|n| json!(n)),
        extreme_number(),
    ]
}

/// Numbers at the edges: the largest and smallest integers and floats, the smallest subnormal,
/// values just past what a `Duration`, an `i64` or a `u32` holds, and products that overflow.
fn extreme_number() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!(u64::MAX),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::from(u32::MAX) + 1),
        json!(10_000_000_000_000_000_000u64),
        json!(f64::MAX),
        json!(-f64::MAX),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(1e308),
        json!(-1e308),
        json!(1.7976931348623157e308),
        json!(99999999.999),
        json!(-0.000001),
    ])
}

/// A string of 10,000 to 100,000 characters.
fn long_string() -> impl Strategy<Value = String> {
    (10_000usize..100_000, prop::sample::select(vec!["a", "$", "{}", "é", "\\", "%", "$.a"]))
        .prop_map(|(n, s)| s.repeat(n / s.len()))
}

/// A value nested 64 to 128 levels deep in arrays or objects: 128 is as deep as any JSON text gets
/// once parsed (serde_json's recursion limit), which bounds every input, task result and
/// `States.StringToJson` value that reaches the engine from outside.
fn deep_json() -> impl Strategy<Value = Value> {
    (64usize..=128, any::<bool>()).prop_map(|(depth, arrays)| {
        let mut v = json!(1);
        for _ in 0..depth {
            v = if arrays { json!([v]) } else { json!({"a": v}) };
        }
        v
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => ".{0,8}"]
}

fn short_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z$.{}%' ]{0,12}",
        1 => ".{0,16}",
        2 => prop::sample::select(PATHS).prop_map(str::to_owned),
        1 => prop::sample::select(TIMESTAMPS).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["{\"a\": 1}", "[1, 2]", "{", "aGVsbG8=", "%%%", "a,b,,c"]).prop_map(str::to_owned),
        1 => long_string(),
    ]
}

/// Arbitrary JSON, biased toward the shapes and keys ASL uses.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        short_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// An execution input: usually an object with the keys paths refer to.
fn input() -> BoxedStrategy<Value> {
    let items = prop::collection::vec(any_json(), 0..12).prop_map(Value::Array);
    let object = (any_json(), any_json(), items, short_string(), number(), any_json())
        .prop_map(|(a, b, items, s, n, x)| json!({"a": a, "b": b, "items": items, "s": s, "n": n, "x": x}));
    let deep = (deep_json(), number()).prop_map(|(a, n)| json!({"a": a, "b": a, "items": [a], "n": n}));
    prop_oneof![8 => object, 2 => any_json(), 1 => deep].boxed()
}

// ---------------------------------------------------------------------------------------------
// Pools of field values
// ---------------------------------------------------------------------------------------------

const PATHS: &[&str] = &[
    "$",
    "$.a",
    "$.b",
    "$.a.b",
    "$.items",
    "$.items[0]",
    "$.items[-1]",
    "$.items[*]",
    "$.items[1:3]",
    "$..a",
    "$.s",
    "$.n",
    "$.x",
    "$.missing",
    "$['a']",
    "$.a[?(@.b > 1)]",
    "$[0]",
    "$$",
    "$$.x",
    "$$.Execution.Input",
    "$$.Execution.Id",
    "$$.State.Name",
    "$$.State.RetryCount",
    "$$.Map.Item.Value",
    "$$.Map.Item.Index",
    "$$.Task.Token",
    "$v",
    "$v.a",
    "$x",
    "$undefined",
    "$states",
];

/// Strings that are not paths at all.
const NOT_PATHS: &[&str] = &["a", "", "$.", "$[", "$..", "$.a..b", "$$$", "$.a[?(", "$ .a"];

/// Paths that `ResultPath` accepts.
const REFERENCE_PATHS: &[&str] = &["$", "$.a", "$.r", "$.a.b", "$.items[0]", "$.s", "$.x.y.z"];

const INTRINSICS: &[&str] = &[
    "States.Format('{}', $.a)",
    "States.Format('{} and {}', $.a)",
    "States.Format('\\{}', $.s)",
    "States.Format($.s, $.a)",
    "States.StringToJson($.s)",
    "States.JsonToString($)",
    "States.Array($.a, 1, 'x', null, true)",
    "States.ArrayPartition($.items, 2)",
    "States.ArrayPartition($.items, 0)",
    "States.ArrayContains($.items, $.a)",
    "States.ArrayRange(1, 10, 2)",
    "States.ArrayRange(1, 10, 0)",
    "States.ArrayRange(-5, 5, -1)",
    "States.ArrayRange(0, 100000, 1)",
    "States.ArrayGetItem($.items, 0)",
    "States.ArrayGetItem($.items, -1)",
    "States.ArrayGetItem($.items, 99999999999)",
    "States.ArrayLength($.items)",
    "States.ArrayUnique($.items)",
    "States.Base64Encode($.s)",
    "States.Base64Decode($.s)",
    "States.Hash($.s, 'SHA-256')",
    "States.Hash($.s, 'nope')",
    "States.JsonMerge($.a, $.b, false)",
    "States.JsonMerge($.a, $.b, true)",
    "States.MathRandom(1, 100)",
    "States.MathRandom(5, 1)",
    "States.MathRandom($.n, $.n)",
    "States.MathAdd($.n, 9223372036854775807)",
    "States.MathAdd(-9223372036854775808, -1)",
    "States.MathAdd($.n, 1.5)",
    "States.StringSplit($.s, '')",
    "States.StringSplit($.s, ',')",
    "States.UUID()",
    "States.Format('{}', States.Array(States.ArrayLength($.items)))",
    "States.Format('{}', $$.Execution.Id)",
    "States.Format('{}', $v)",
];

const NOT_INTRINSICS: &[&str] = &["States.UUID(1)", "States.Unknown()", "States.MathAdd(", "States.Format('{}'"];

const JSONATA: &[&str] = &[
    "{% $states.input %}",
    "{% $states.input.a %}",
    "{% $states.input.items %}",
    "{% $states.input.n > 3 %}",
    "{% $states.result %}",
    "{% $states.result.Payload %}",
    "{% $states.errorOutput %}",
    "{% $states.context %}",
    "{% $states.context.Execution.Input %}",
    "{% $states.context.Map.Item.Value %}",
    "{% $v %}",
    "{% $x %}",
    "{% $undefined %}",
    "{% $count($states.input.items) %}",
    "{% $sum($states.input.items) %}",
    "{% 1/0 %}",
    "{% $number('x') %}",
    "{% $undefinedFunction() %}",
    "{% [1, 2, 3] %}",
    "{% {'k': $states.input} %}",
    "{% $partition([1, 2, 3], 0) %}",
    "{% $partition($states.input.items, 2) %}",
    "{% $range(0, 5) %}",
    "{% $range(5, 0, 0) %}",
    "{% $hash('x', 'SHA-256') %}",
    "{% $hash($states.input.s, 'bad') %}",
    "{% $random() %}",
    "{% $uuid() %}",
    "{% $parse('{') %}",
    "{% $parse($states.input.s) %}",
    "{% 99999999999999999999 * 99999999999 %}",
    "{% $string(1e308 * 10) %}",
    "{% '' & $states.input.s %}",
    "{% $substring('abc', -5, 2) %}",
    "{% $states.input.items[-1] %}",
    "{% $merge([$states.input.a, $states.input.b]) %}",
    "{% true %}",
    "{% false %}",
    "{% null %}",
    "{% 3 %}",
    "{% -1 %}",
    "{% 2.5 %}",
    "{% '2016-03-14T01:59:00Z' %}",
    "{% $now() %}",
    "{% $millis() %}",
    "{% $keys($states.input) %}",
];

const NOT_JSONATA: &[&str] = &["{% %}", "{% ( %}", "x {% 1 %} y", "{% 1 %}{% 2 %}", "{% $states.input. %}"];

const RESOURCES: &[&str] = &[
    "arn:aws:lambda:us-east-1:123456789012:function:echo",
    "arn:aws:lambda:us-east-1:123456789012:function:fail",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::sqs:sendMessage",
    "arn:aws:states:::aws-sdk:s3:getObject",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:us-east-1:123456789012:activity:act",
    "arn:aws:states:::http:invoke",
];

const ERRORS: &[&str] = &[
    "States.TaskFailed",
    "States.Timeout",
    "States.Runtime",
    "States.IntrinsicFailure",
    "States.QueryEvaluationError",
    "States.DataLimitExceeded",
    "States.ResultPathMatchFailure",
    "States.NoChoiceMatched",
    "States.HeartbeatTimeout",
    "States.ExceedToleratedFailureThreshold",
    "States.BranchFailed",
    "Custom.Error",
];

const TIMESTAMPS: &[&str] = &[
    "2016-03-14T01:59:00Z",
    "2016-03-14T01:59:00.123456789+01:00",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "1970-01-01T00:00:00.000Z",
    "2024-02-29T23:59:59.999Z",
];

const NOT_TIMESTAMPS: &[&str] =
    &["2024-02-29T23:59:60Z", "2024-02-30T00:00:00Z", "2016-03-14T01:59:00", "2016-03-14 01:59:00Z", "not a date"];

/// Choice comparison operators and the JSON type their operand has.
const COMPARATORS: &[(&str, &str)] = &[
    ("StringEquals", "string"),
    ("StringLessThan", "string"),
    ("StringGreaterThanEquals", "string"),
    ("StringMatches", "string"),
    ("NumericEquals", "number"),
    ("NumericLessThan", "number"),
    ("NumericLessThanEquals", "number"),
    ("BooleanEquals", "boolean"),
    ("TimestampEquals", "timestamp"),
    ("TimestampLessThan", "timestamp"),
    ("StringEqualsPath", "path"),
    ("NumericGreaterThanPath", "path"),
    ("BooleanEqualsPath", "path"),
    ("TimestampGreaterThanEqualsPath", "path"),
    ("IsNull", "boolean"),
    ("IsPresent", "boolean"),
    ("IsNumeric", "boolean"),
    ("IsString", "boolean"),
    ("IsBoolean", "boolean"),
    ("IsTimestamp", "boolean"),
];

/// Every field name ASL knows, for fields added at random.
const FIELDS: &[&str] = &[
    "Arguments",
    "Assign",
    "BackoffRate",
    "Branches",
    "Catch",
    "Cause",
    "CausePath",
    "Choices",
    "Comment",
    "Condition",
    "Credentials",
    "Default",
    "End",
    "Error",
    "ErrorEquals",
    "ErrorPath",
    "ExecutionType",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "InputPath",
    "IntervalSeconds",
    "ItemBatcher",
    "ItemProcessor",
    "ItemReader",
    "ItemSelector",
    "Items",
    "ItemsPath",
    "Iterator",
    "JitterStrategy",
    "Label",
    "MaxAttempts",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "MaxDelaySeconds",
    "Mode",
    "Next",
    "Output",
    "OutputPath",
    "Parameters",
    "ProcessorConfig",
    "QueryLanguage",
    "Resource",
    "Result",
    "ResultPath",
    "ResultSelector",
    "ResultWriter",
    "Retry",
    "Seconds",
    "SecondsPath",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "Timestamp",
    "TimestampPath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Type",
    "Variable",
    "Version",
];

/// A transition placeholder: `@next` followed by a number, resolved to a later state's name once the
/// program's states are known.
const NEXT_MARK: &str = "@next";

/// Mostly a value from `good`, now and then one from `bad`.
fn mostly(good: &'static [&'static str], bad: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
    prop_oneof![24 => prop::sample::select(good), 1 => prop::sample::select(bad)].prop_map(|s| json!(s))
}

fn path() -> impl Strategy<Value = Value> + Clone {
    mostly(PATHS, NOT_PATHS)
}

fn reference_path() -> impl Strategy<Value = Value> + Clone {
    mostly(REFERENCE_PATHS, PATHS)
}

/// Paths for `MaxConcurrencyPath` and the tolerated-failure paths.
fn count_path() -> impl Strategy<Value = Value> + Clone {
    mostly(&["$.n", "$.a", "$.missing", "$.items[0]", "$$.Execution.Input.n"], PATHS)
}

fn intrinsic() -> impl Strategy<Value = Value> + Clone {
    mostly(INTRINSICS, NOT_INTRINSICS)
}

fn jsonata() -> impl Strategy<Value = Value> + Clone {
    mostly(JSONATA, NOT_JSONATA)
}

fn next_mark() -> impl Strategy<Value = Value> {
    any::<u8>().prop_map(|n| Value::String(format!("{NEXT_MARK}{n}")))
}

/// A whole number of seconds, or a JSONata expression in JSONata states.
fn seconds(jsonata_state: bool) -> BoxedStrategy<Value> {
    let good = (1i64..3).prop_map(|n| json!(n));
    let bad = prop_oneof![
        prop::sample::select(vec![json!(0), json!(-1), json!(0.5), json!(99999999), json!(1e300), json!("1")]),
        extreme_number(),
    ];
    if jsonata_state {
        prop_oneof![12 => good, 4 => jsonata(), 1 => bad].boxed()
    } else {
        prop_oneof![24 => good, 1 => bad].boxed()
    }
}

/// An object payload template: fixed values, and `"key.$"` paths and intrinsics in JSONPath states
/// or JSONata expressions in JSONata states.
fn object_template(jsonata_state: bool) -> BoxedStrategy<Value> {
    let dynamic = if jsonata_state {
        (key(), jsonata()).prop_map(|(k, v)| (k.trim_end_matches(".$").to_owned(), v)).boxed()
    } else {
        (key(), prop_oneof![path(), intrinsic()])
            .prop_map(|(k, v)| (format!("{}.$", k.trim_end_matches(".$")), v))
            .boxed()
    };
    let fixed = (key(), any_json()).prop_map(|(k, v)| (k.trim_end_matches(".$").to_owned(), v));
    let member = prop_oneof![1 => fixed, 2 => dynamic];
    let object = prop::collection::vec(member, 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect()));
    prop_oneof![6 => object.clone(), 1 => object.prop_map(|inner| json!({"nested": inner, "list": [inner]}))].boxed()
}

/// A payload template (Parameters, ResultSelector, Arguments, Output…).
fn template(jsonata_state: bool) -> BoxedStrategy<Value> {
    if jsonata_state {
        prop_oneof![3 => object_template(true), 3 => jsonata(), 1 => any_json()].boxed()
    } else {
        prop_oneof![12 => object_template(false), 1 => any_json()].boxed()
    }
}

/// An `ErrorEquals` list; `States.ALL` only comes alone (and only in the last retrier or catcher).
fn error_equals() -> impl Strategy<Value = Value> {
    prop_oneof![
        30 => prop::collection::vec(prop::sample::select(ERRORS), 1..3).prop_map(|e| json!(e)),
        10 => Just(json!(["States.ALL"])),
        1 => Just(json!([])),
        1 => Just(json!(["States.ALL", "Custom.Error"])),
    ]
}

/// Keeps `States.ALL` only in the last of a list of retriers or catchers.
fn all_last(mut list: Vec<Value>) -> Value {
    let n = list.len();
    for (i, r) in list.iter_mut().enumerate() {
        if i + 1 < n && r["ErrorEquals"] == json!(["States.ALL"]) {
            r["ErrorEquals"] = json!(["Custom.Error"]);
        }
    }
    Value::Array(list)
}

fn retriers() -> BoxedStrategy<Value> {
    let small_count = prop_oneof![
        12 => (0i64..4).prop_map(|n| json!(n)),
        1 => prop::sample::select(vec![json!(-1), json!(1.5), json!(100), json!("3")]),
    ];
    let backoff = prop_oneof![
        12 => prop::sample::select(vec![json!(1), json!(2.0), json!(1.5), json!(1e9)]),
        1 => Just(json!(0.5)),
        1 => extreme_number(),
    ];
    let jitter = prop_oneof![12 => prop::sample::select(vec!["FULL", "NONE"]), 1 => Just("bad")];
    let retrier = (
        error_equals(),
        prop::option::of(seconds(false)),
        prop::option::of(small_count),
        prop::option::of(backoff),
        prop::option::weighted(0.2, seconds(false)),
        prop::option::weighted(0.2, jitter),
    )
        .prop_map(|(errors, interval, attempts, backoff, max_delay, jitter)| {
            let mut r = Map::new();
            r.insert("ErrorEquals".into(), errors);
            put(&mut r, "IntervalSeconds", interval);
            put(&mut r, "MaxAttempts", attempts);
            put(&mut r, "BackoffRate", backoff);
            put(&mut r, "MaxDelaySeconds", max_delay);
            put(&mut r, "JitterStrategy", jitter.map(|j| json!(j)));
            Value::Object(r)
        });
    prop::collection::vec(retrier, 0..3).prop_map(all_last).boxed()
}

fn catchers(jsonata_state: bool) -> BoxedStrategy<Value> {
    let catcher =
        (error_equals(), next_mark(), prop::option::of(prop_oneof![reference_path(), Just(Value::Null)]), 0u8..4)
            .prop_map(move |(errors, next, result_path, extra)| {
                let mut c = Map::new();
                c.insert("ErrorEquals".into(), errors);
                c.insert("Next".into(), next);
                match (extra, jsonata_state) {
                    (0, true) => put(&mut c, "Output", Some(json!("{% $states.errorOutput %}"))),
                    (1, true) => put(&mut c, "Assign", Some(json!({"v": "{% $states.errorOutput.Error %}"}))),
                    (1, false) => put(&mut c, "Assign", Some(json!({"v.$": "$.Error"}))),
                    (_, false) => put(&mut c, "ResultPath", result_path),
                    _ => {}
                }
                Value::Object(c)
            });
    prop::collection::vec(catcher, 0..3).prop_map(all_last).boxed()
}

/// A JSONPath Choice condition (a comparison, or And/Or/Not over comparisons).
fn condition() -> BoxedStrategy<Value> {
    let comparison = (path(), prop::sample::select(COMPARATORS), any_json(), path(), any::<u8>(), 0u8..24).prop_map(
        |(variable, (op, kind), value, other_path, pick, wrong)| {
            let operand = match kind {
                _ if wrong == 0 => value,
                "path" => other_path,
                "boolean" => json!(pick % 2 == 0),
                "number" => [json!(pick), json!(-1.5), json!(1e300), json!(0)][pick as usize % 4].clone(),
                "timestamp" => json!(TIMESTAMPS[pick as usize % TIMESTAMPS.len()]),
                _ => json!(["a", "*", "a*b", "\\*", "", "x\\\\"][pick as usize % 6]),
            };
            let mut m = Map::new();
            m.insert("Variable".into(), variable);
            m.insert(op.into(), operand);
            Value::Object(m)
        },
    );
    comparison
        .prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"And": v})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"Or": v})),
                inner.prop_map(|v| json!({"Not": v})),
            ]
        })
        .boxed()
}

fn choices(jsonata_state: bool) -> BoxedStrategy<Value> {
    let condition = if jsonata_state { jsonata().prop_map(|e| json!({"Condition": e})).boxed() } else { condition() };
    let rule = (condition, next_mark(), 0u8..5).prop_map(move |(mut rule, next, extra)| {
        if let Value::Object(m) = &mut rule {
            m.insert("Next".into(), next);
            match (extra, jsonata_state) {
                (0, false) => put(m, "Assign", Some(json!({"v": 1, "x.$": "$.a"}))),
                (0, true) => put(m, "Assign", Some(json!({"v": 1, "x": "{% $states.input.a %}"}))),
                (1, true) => put(m, "Output", Some(json!("{% $states.input %}"))),
                _ => {}
            }
        }
        rule
    });
    prop::collection::vec(rule, 1..4).prop_map(Value::Array).boxed()
}

/// Inserts `key` when there is a value for it.
fn put(s: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        s.insert(key.into(), v);
    }
}

// ---------------------------------------------------------------------------------------------
// States and programs
// ---------------------------------------------------------------------------------------------

/// The fields most state types share, generated for the query language the state ends up with.
#[derive(Debug, Clone)]
struct Common {
    /// Whether the state is a JSONata state (its own `QueryLanguage`, or the machine's).
    jsonata: bool,
    /// The state's own `QueryLanguage` field.
    language: Option<&'static str>,
    input_path: Option<Value>,
    output_path: Option<Value>,
    result_path: Option<Value>,
    assign: Option<Value>,
    output: Option<Value>,
    extra: Option<(&'static str, Value)>,
}

/// The common fields, in a machine whose `QueryLanguage` is JSONata when `machine_jsonata`.
fn common(machine_jsonata: bool) -> BoxedStrategy<Common> {
    let language = if machine_jsonata {
        prop_oneof![16 => Just((true, None)), 4 => Just((true, Some("JSONata"))), 1 => Just((false, Some("JSONPath")))]
            .boxed()
    } else {
        prop_oneof![12 => Just((false, None)), 1 => Just((false, Some("JSONPath"))), 4 => Just((true, Some("JSONata")))]
            .boxed()
    };
    language
        .prop_flat_map(|(jsonata, language)| {
            (
                Just((jsonata, language)),
                prop::option::weighted(0.2, path()),
                prop::option::weighted(0.15, prop_oneof![5 => path(), 1 => Just(Value::Null)]),
                prop::option::weighted(0.4, prop_oneof![5 => reference_path(), 1 => Just(Value::Null)]),
                prop::option::weighted(0.2, object_template(jsonata)),
                prop::option::weighted(0.3, template(jsonata)),
                prop::option::weighted(0.02, (prop::sample::select(FIELDS), any_json())),
            )
        })
        .prop_map(|((jsonata, language), input_path, output_path, result_path, assign, output, extra)| Common {
            jsonata,
            language,
            input_path,
            output_path,
            result_path,
            assign,
            output,
            extra,
        })
        .boxed()
}

impl Common {
    /// A state of type `kind` with these fields, keeping only those the type takes.
    fn state(self, kind: &str) -> Map<String, Value> {
        let mut s = Map::new();
        s.insert("Type".into(), json!(kind));
        put(&mut s, "QueryLanguage", self.language.map(|l| json!(l)));
        let data = kind != "Fail";
        let result = matches!(kind, "Pass" | "Task" | "Parallel" | "Map");
        if self.jsonata {
            put(&mut s, "Output", self.output.filter(|_| data));
        } else {
            put(&mut s, "InputPath", self.input_path.filter(|_| data));
            put(&mut s, "OutputPath", self.output_path.filter(|_| data));
            put(&mut s, "ResultPath", self.result_path.filter(|_| result));
        }
        put(&mut s, "Assign", self.assign.filter(|_| data && kind != "Succeed"));
        if let Some((k, v)) = self.extra {
            s.insert(k.into(), v);
        }
        s
    }
}

fn pass_state(machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(|c| {
            let jsonata = c.jsonata;
            (Just(c), prop::option::of(any_json()), prop::option::weighted(0.4, object_template(jsonata)))
        })
        .prop_map(|(c, result, parameters)| {
            let jsonata = c.jsonata;
            let mut s = c.state("Pass");
            if !jsonata {
                put(&mut s, "Result", result);
                put(&mut s, "Parameters", parameters);
            }
            Value::Object(s)
        })
        .boxed()
}

fn task_state(machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(|c| {
            let jsonata = c.jsonata;
            (
                Just(c),
                prop::sample::select(RESOURCES),
                prop::option::weighted(0.5, template(jsonata)),
                prop::option::weighted(0.3, template(jsonata)),
                (prop::option::weighted(0.2, seconds(jsonata)), prop::option::weighted(0.1, seconds(jsonata))),
                prop::option::weighted(0.4, retriers()),
                prop::option::weighted(0.4, catchers(jsonata)),
            )
        })
        .prop_map(|(c, resource, parameters, selector, (timeout, heartbeat), retry, catch)| {
            let jsonata = c.jsonata;
            let mut s = c.state("Task");
            s.insert("Resource".into(), json!(resource));
            put(&mut s, if jsonata { "Arguments" } else { "Parameters" }, parameters);
            put(&mut s, "ResultSelector", selector.filter(|_| !jsonata));
            let heartbeat = heartbeat.filter(|_| timeout.is_none());
            put(&mut s, "TimeoutSeconds", timeout);
            put(&mut s, "HeartbeatSeconds", heartbeat);
            put(&mut s, "Retry", retry);
            put(&mut s, "Catch", catch);
            Value::Object(s)
        })
        .boxed()
}

fn choice_state(machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(|c| {
            let jsonata = c.jsonata;
            (Just(c), choices(jsonata))
        })
        .prop_map(|(c, rules)| {
            let mut s = c.state("Choice");
            s.insert("Choices".into(), rules);
            Value::Object(s)
        })
        .boxed()
}

fn wait_state(machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(|c| {
            let how = if c.jsonata {
                prop_oneof![
                    seconds(true).prop_map(|v| ("Seconds", v)),
                    mostly(TIMESTAMPS, NOT_TIMESTAMPS).prop_map(|v| ("Timestamp", v)),
                    jsonata().prop_map(|v| ("Timestamp", v)),
                ]
                .boxed()
            } else {
                prop_oneof![
                    seconds(false).prop_map(|v| ("Seconds", v)),
                    path().prop_map(|v| ("SecondsPath", v)),
                    mostly(TIMESTAMPS, NOT_TIMESTAMPS).prop_map(|v| ("Timestamp", v)),
                    path().prop_map(|v| ("TimestampPath", v)),
                ]
                .boxed()
            };
            (Just(c), how)
        })
        .prop_map(|(c, (field, value))| {
            let mut s = c.state("Wait");
            s.insert(field.into(), value);
            Value::Object(s)
        })
        .boxed()
}

fn succeed_state(machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata).prop_map(|c| Value::Object(c.state("Succeed"))).boxed()
}

fn fail_state(machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(|c| {
            let text = if c.jsonata {
                prop_oneof![3 => prop::sample::select(ERRORS).prop_map(|e| json!(e)), 1 => jsonata()].boxed()
            } else {
                prop_oneof![
                    3 => prop::sample::select(ERRORS).prop_map(|e| (false, json!(e))),
                    1 => path().prop_map(|p| (true, p)),
                    1 => intrinsic().prop_map(|p| (true, p)),
                ]
                .prop_map(|(by_path, v)| json!({"by_path": by_path, "value": v}))
                .boxed()
            };
            (Just(c), prop::option::of(text.clone()), prop::option::of(text))
        })
        .prop_map(|(c, error, cause)| {
            let mut s = c.state("Fail");
            for (name, value) in [("Error", error), ("Cause", cause)] {
                match value {
                    Some(Value::Object(v)) if v.contains_key("by_path") => {
                        let by_path = v["by_path"] == json!(true);
                        let field = if by_path { format!("{name}Path") } else { name.to_owned() };
                        s.insert(field, v["value"].clone());
                    }
                    Some(v) => {
                        s.insert(name.into(), v);
                    }
                    None => {}
                }
            }
            Value::Object(s)
        })
        .boxed()
}

fn parallel_state(depth: u32, machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(move |c| {
            let jsonata = c.jsonata;
            (
                Just(c),
                prop::collection::vec(program(depth, machine_jsonata), 1..3),
                prop::option::weighted(0.3, template(jsonata)),
                prop::option::weighted(0.3, template(jsonata)),
                prop::option::weighted(0.3, retriers()),
                prop::option::weighted(0.3, catchers(jsonata)),
            )
        })
        .prop_map(|(c, branches, parameters, selector, retry, catch)| {
            let jsonata = c.jsonata;
            let mut s = c.state("Parallel");
            s.insert("Branches".into(), Value::Array(branches));
            put(&mut s, if jsonata { "Arguments" } else { "Parameters" }, parameters);
            put(&mut s, "ResultSelector", selector.filter(|_| !jsonata));
            put(&mut s, "Retry", retry);
            put(&mut s, "Catch", catch);
            Value::Object(s)
        })
        .boxed()
}

fn map_state(depth: u32, machine_jsonata: bool) -> BoxedStrategy<Value> {
    common(machine_jsonata)
        .prop_flat_map(move |c| {
            let is_jsonata = c.jsonata;
            let number = |n: u8| json!(n);
            let limit = if is_jsonata {
                prop_oneof![
                    Just(None),
                    (0u8..4).prop_map(move |n| Some(("MaxConcurrency", number(n)))),
                    (0u8..3).prop_map(move |n| Some(("ToleratedFailureCount", number(n)))),
                    (0u8..101).prop_map(move |n| Some(("ToleratedFailurePercentage", number(n)))),
                    jsonata().prop_map(|v| Some(("MaxConcurrency", v))),
                    jsonata().prop_map(|v| Some(("ToleratedFailurePercentage", v))),
                ]
                .boxed()
            } else {
                prop_oneof![
                    Just(None),
                    (0u8..4).prop_map(move |n| Some(("MaxConcurrency", number(n)))),
                    count_path().prop_map(|p| Some(("MaxConcurrencyPath", p))),
                    (0u8..3).prop_map(move |n| Some(("ToleratedFailureCount", number(n)))),
                    (0u8..101).prop_map(move |n| Some(("ToleratedFailurePercentage", number(n)))),
                    count_path().prop_map(|p| Some(("ToleratedFailureCountPath", p))),
                    count_path().prop_map(|p| Some(("ToleratedFailurePercentagePath", p))),
                ]
                .boxed()
            };
            let items = if is_jsonata {
                prop::option::of(prop_oneof![3 => Just(json!("{% $states.input.items %}")), 1 => jsonata()]).boxed()
            } else {
                prop::option::of(prop_oneof![
                    4 => mostly(&["$.items", "$", "$.a", "$.missing", "$.items[0]", "$v", "$$.Execution.Input.items"], PATHS),
                ])
                .boxed()
            };
            (
                Just(c),
                program(depth, machine_jsonata),
                (prop_oneof![8 => Just("INLINE"), 1 => Just("DISTRIBUTED")], prop::bool::weighted(0.1), items),
                (prop::option::weighted(0.3, template(is_jsonata)), prop::option::weighted(0.2, template(is_jsonata)), limit),
                prop::option::weighted(0.2, retriers()),
                prop::option::weighted(0.2, catchers(is_jsonata)),
            )
        })
        .prop_map(|(c, mut processor, (mode, iterator, items), (selector, result_selector, limit), retry, catch)| {
            let jsonata = c.jsonata;
            let mut s = c.state("Map");
            if let Value::Object(p) = &mut processor {
                p.insert("ProcessorConfig".into(), json!({"Mode": mode, "ExecutionType": "STANDARD"}));
            }
            s.insert(if iterator { "Iterator" } else { "ItemProcessor" }.into(), processor);
            put(&mut s, if jsonata { "Items" } else { "ItemsPath" }, items);
            put(&mut s, "ItemSelector", selector);
            put(&mut s, "ResultSelector", result_selector.filter(|_| !jsonata));
            if let Some((k, v)) = limit {
                s.insert(k.into(), v);
            }
            put(&mut s, "Retry", retry);
            put(&mut s, "Catch", catch);
            Value::Object(s)
        })
        .boxed()
}

/// A state of a random type (now and then one that does not exist), before its transitions are
/// resolved. `depth` bounds the nesting of Parallel and Map states.
fn state(depth: u32, machine_jsonata: bool) -> BoxedStrategy<Value> {
    let j = machine_jsonata;
    let unknown = (common(j), prop::sample::select(vec!["pass", "Activity", ""]))
        .prop_map(|(c, kind)| Value::Object(c.state(kind)));
    let leaves = vec![
        (60, pass_state(j)),
        (40, task_state(j)),
        (30, choice_state(j)),
        (20, wait_state(j)),
        (10, succeed_state(j)),
        (20, fail_state(j)),
        (1, unknown.boxed()),
    ];
    if depth == 0 {
        return prop::strategy::Union::new_weighted(leaves).boxed();
    }
    let mut all = leaves;
    all.push((20, parallel_state(depth - 1, j)));
    all.push((30, map_state(depth - 1, j)));
    prop::strategy::Union::new_weighted(all).boxed()
}

/// A program (`StartAt` + `States`) whose transitions only go forward.
fn program(depth: u32, machine_jsonata: bool) -> BoxedStrategy<Value> {
    (prop::collection::vec((state(depth, machine_jsonata), any::<u8>()), 1..5), any::<u32>(), any::<u8>())
        .prop_map(|(states, prefix, start)| {
            // Terminal states end the chain: keep the first one as the last state, or end with a Succeed.
            let kind = |s: &Value| s.get("Type").and_then(Value::as_str).unwrap_or_default().to_owned();
            let is_terminal = |s: &Value| matches!(kind(s).as_str(), "Succeed" | "Fail");
            let terminal = states.iter().find(|(s, _)| is_terminal(s)).cloned();
            let mut states: Vec<(Value, u8)> = states.into_iter().filter(|(s, _)| !is_terminal(s)).collect();
            states.push(terminal.unwrap_or_else(|| (json!({"Type": "Succeed"}), 0)));
            let n = states.len();
            // Names are unique across the whole definition, as ASL requires.
            let names: Vec<String> = (0..n).map(|i| format!("P{prefix:08x}S{i}")).collect();
            let mut out = Map::new();
            for (i, (mut state, pick)) in states.into_iter().enumerate() {
                resolve(&mut state, i, &names);
                let kind = kind(&state);
                if let Value::Object(s) = &mut state {
                    if kind == "Choice" {
                        if pick % 8 != 0 {
                            s.insert("Default".into(), json!(names[i + 1]));
                        }
                    } else if i + 1 < n {
                        if pick % 64 == 0 {
                            s.insert("End".into(), json!(true));
                        } else {
                            s.insert("Next".into(), json!(names[i + 1]));
                        }
                    } else if !is_terminal(&Value::Object(s.clone())) {
                        s.insert("End".into(), json!(true));
                    }
                }
                out.insert(names[i].clone(), state);
            }
            let start = if start == 0 { "Nowhere".to_owned() } else { names[0].clone() };
            json!({"StartAt": start, "States": out})
        })
        .boxed()
}

/// A later state's name, or a name that does not exist when `i` is the last state.
fn forward(pick: u8, i: usize, names: &[String]) -> String {
    let later = names.len() - i - 1;
    if later == 0 {
        return "Nowhere".to_owned();
    }
    names[i + 1 + pick as usize % later].clone()
}

/// Replaces the transition placeholders of state `i` (Choices[].Next, Catch[].Next).
fn resolve(state: &mut Value, i: usize, names: &[String]) {
    let Value::Object(s) = state else { return };
    for key in ["Choices", "Catch"] {
        if let Some(Value::Array(rules)) = s.get_mut(key) {
            for rule in rules {
                let Some(v) = rule.get_mut("Next") else { continue };
                if let Some(n) = v.as_str().and_then(|s| s.strip_prefix(NEXT_MARK)).and_then(|n| n.parse().ok()) {
                    *v = json!(forward(n, i, names));
                }
            }
        }
    }
}

/// A whole definition: a program with optional top-level fields.
fn definition() -> BoxedStrategy<Value> {
    let timeout = prop_oneof![
        8 => prop::sample::select(vec![json!(1), json!(10)]),
        1 => prop::sample::select(vec![json!(0), json!(-1), json!("1")]),
    ];
    let comment = prop_oneof![16 => short_string().prop_map(Value::String), 1 => any_json()];
    prop::bool::weighted(0.2)
        .prop_flat_map(move |jsonata| {
            (
                program(2, jsonata),
                Just(jsonata),
                prop::bool::weighted(0.05),
                prop::option::weighted(0.2, timeout.clone()),
                prop::option::weighted(0.3, comment.clone()),
            )
        })
        .prop_map(|(mut def, jsonata, explicit, timeout, comment)| {
            if let Value::Object(d) = &mut def {
                if jsonata {
                    d.insert("QueryLanguage".into(), json!("JSONata"));
                } else if explicit {
                    d.insert("QueryLanguage".into(), json!("JSONPath"));
                }
                put(d, "TimeoutSeconds", timeout);
                put(d, "Comment", comment);
            }
            def
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// An engine with a few task handlers: echo, Lambda-style, a failing one and a slow one.
fn engine() -> Engine {
    let handlers = LocalHandlers::new()
        .resource(
            "arn:aws:states:::lambda:invoke",
            |r| async move { Ok(json!({"Payload": r.input, "StatusCode": 200})) },
        )
        .resource("arn:aws:lambda:us-east-1:123456789012:function:echo", |r| async move { Ok(r.input) })
        .resource("arn:aws:lambda:us-east-1:123456789012:function:fail", |_| async move {
            Err(TaskError::new("Custom.Error", "it failed"))
        })
        .resource("arn:aws:states:::http:invoke", |_| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(json!("slow"))
        });
    Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// Parses `definition` and, when it parses, runs it with `input`; fails on any panic.
fn check_definition(definition: &Value, input: &Value) -> Result<(), TestCaseError> {
    install_panic_hook();
    take_panics();
    if let Ok(machine) = parse(definition, ParseOptions::default()) {
        let engine = engine();
        let request = StartRequest::new(Arc::new(machine), "property", input.clone());
        runtime().block_on(async {
            let execution = engine.start(request).await.expect("the execution starts");
            let Ok(outcome) = tokio::time::timeout(RUN_TIMEOUT, execution.outcome()).await else {
                execution.stop(None, None);
                let stopped = tokio::time::timeout(STOP_TIMEOUT, execution.outcome()).await;
                prop_assert!(stopped.is_ok(), "a stopped execution did not end");
                return Ok(());
            };
            prop_assert!(outcome.cause.as_deref() != Some(UNEXPECTED_END), "no outcome: {outcome:?}");
            prop_assert!(outcome.status != ExecutionStatus::Running);
            // Every event survives the round trip a durable store makes.
            for event in execution.history() {
                let text = serde_json::to_string(&event);
                let back = text.as_deref().ok().and_then(|t| serde_json::from_str::<HistoryEvent>(t).ok());
                prop_assert_eq!(back.as_ref(), Some(&event), "{:?}", text);
            }
            Ok(())
        })?;
    }
    let panics = take_panics();
    prop_assert!(panics.is_empty(), "panicked: {panics:?}");
    Ok(())
}

/// An intrinsic call with random (mostly well-formed) arguments, nested up to three deep.
fn intrinsic_text() -> impl Strategy<Value = String> {
    const FUNCTIONS: &[&str] = &[
        "States.Format",
        "States.Array",
        "States.ArrayRange",
        "States.ArrayPartition",
        "States.ArrayGetItem",
        "States.ArrayContains",
        "States.ArrayUnique",
        "States.ArrayLength",
        "States.StringSplit",
        "States.StringToJson",
        "States.JsonToString",
        "States.JsonMerge",
        "States.MathAdd",
        "States.MathRandom",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.UUID",
        "States.Nope",
    ];
    const ARGUMENTS: &[&str] = &[
        "'x'",
        "'{}'",
        "'{} {}'",
        "'a,b'",
        "','",
        "'\\{'",
        "'\\''",
        "'SHA-1'",
        "'MD5'",
        "'aGk='",
        "'{\"a\": 1}'",
        "$",
        "$.a",
        "$.b",
        "$.items",
        "$.s",
        "$.n",
        "$.x",
        "$$.Execution.Id",
        "$$.Map.Item.Value",
        "$v",
        "$.items[0]",
        "0",
        "1",
        "-1",
        "2.5",
        "3",
        "1000",
        "1001",
        "1e400",
        "99999999999999999999",
        "null",
        "true",
        "false",
        "''",
    ];
    let argument = prop::sample::select(ARGUMENTS).prop_map(str::to_owned);
    argument
        .prop_recursive(3, 12, 4, |inner| {
            (prop::sample::select(FUNCTIONS), prop::collection::vec(inner, 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", ")))
        })
        .prop_filter("a call", |s| s.starts_with("States."))
}

/// A JSONata expression from a small grammar: literals, `$states` paths, variables, operators,
/// function calls, arrays, objects, conditionals, blocks and lambdas.
fn jsonata_text() -> impl Strategy<Value = String> {
    const LEAVES: &[&str] = &[
        "$states.input",
        "$states.input.a",
        "$states.input.items",
        "$states.input.s",
        "$states.input.n",
        "$states.context",
        "$states.context.Execution.Input",
        "$states.result",
        "$states.errorOutput",
        "$x",
        "$v",
        "$",
        "items",
        "a",
        "1",
        "0",
        "-1",
        "2.5",
        "1e308",
        "'s'",
        "''",
        "'2016-03-14T01:59:00Z'",
        "true",
        "null",
        "[]",
        "{}",
        "$uuid()",
        "$random()",
        "$now()",
        "$millis()",
        "/[a-z]+/",
    ];
    const FUNCTIONS: &[&str] = &[
        "$count",
        "$sum",
        "$max",
        "$string",
        "$number",
        "$length",
        "$partition",
        "$range",
        "$hash",
        "$parse",
        "$merge",
        "$substring",
        "$pad",
        "$join",
        "$split",
        "$map",
        "$filter",
        "$reduce",
        "$sort",
        "$keys",
        "$lookup",
        "$each",
        "$match",
        "$replace",
        "$append",
        "$distinct",
        "$exists",
        "$type",
        "$round",
        "$power",
        "$sqrt",
        "$formatNumber",
        "$toMillis",
        "$fromMillis",
        "$base64encode",
        "$base64decode",
        "$boolean",
    ];
    const OPERATORS: &[&str] =
        &[" + ", " - ", " * ", " / ", " % ", " & ", " = ", " != ", " < ", " >= ", " and ", " or ", " in ", ".", ".."];
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(OPERATORS), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}{op}{b})")),
            (prop::sample::select(FUNCTIONS), prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("($x := {a}; {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            inner.clone().prop_map(|a| format!("function($v){{ {a} }}")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), prop::sample::select(FUNCTIONS)).prop_map(|(a, f)| format!("{a} ~> {f}()")),
        ]
    })
}

/// A definition whose only state evaluates one generated expression.
fn expression_definition() -> impl Strategy<Value = Value> {
    prop_oneof![
        intrinsic_text().prop_map(|e| {
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": e}, "End": true}}})
        }),
        jsonata_text().prop_map(|e| {
            json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": format!("{{% {e} %}}"), "End": true}}})
        }),
        jsonata_text().prop_map(|e| {
            json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Condition": format!("{{% {e} %}}"), "Next": "D"}], "Default": "D"},
                "D": {"Type": "Succeed"}
            }})
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn expressions_never_panic(definition in expression_definition(), input in input()) {
        check_definition(&definition, &input)?;
    }

    #[test]
    fn parse_str_never_panics(
        text in prop_oneof![".*", any_json().prop_map(|v| v.to_string()), definition().prop_map(|v| v.to_string())]
    ) {
        install_panic_hook();
        take_panics();
        let _ = parse_str(&text, ParseOptions::default());
        let panics = take_panics();
        prop_assert!(panics.is_empty(), "panicked: {panics:?}");
    }

    #[test]
    fn arbitrary_json_never_panics(definition in any_json(), input in input()) {
        check_definition(&definition, &input)?;
    }

    #[test]
    fn definition_shaped_json_never_panics(definition in definition(), input in input()) {
        check_definition(&definition, &input)?;
    }
}

/// Generated definitions must often be valid, or the engine is barely exercised.
#[test]
fn generated_definitions_often_parse() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = definition();
    let total = 200;
    let valid = (0..total)
        .filter(|_| {
            let def = strategy.new_tree(&mut runner).expect("tree").current();
            parse(&def, ParseOptions::default()).is_ok()
        })
        .count();
    assert!(valid * 3 >= total, "only {valid} of {total} generated definitions parse");
}

/// The panic hook catches a panic raised inside an execution, which the engine turns into a
/// failed execution and would otherwise hide from these properties.
#[test]
fn a_panic_in_a_task_handler_is_detected() {
    install_panic_hook();
    take_panics();
    let resource = "arn:aws:lambda:us-east-1:123456789012:function:boom";
    let handlers = LocalHandlers::new().resource(resource, |_| async move {
        if true {
            panic!("boom");
        }
        Ok(Value::Null)
    });
    let engine = Engine::builder().time_scale(0.0).dispatcher(Arc::new(handlers)).build();
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}});
    let machine = Arc::new(parse(&def, ParseOptions::default()).expect("valid definition"));
    let outcome = runtime().block_on(async {
        engine.run(StartRequest::new(machine, "boom", json!({}))).await.expect("the execution starts").1
    });
    // The execution fails as an internal error, and the hook still sees the panic.
    assert_eq!(outcome.error.as_deref(), Some("States.Runtime"));
    assert!(outcome.cause.as_deref().is_some_and(|c| c.contains("internal error")), "{outcome:?}");
    let panics = take_panics();
    assert_eq!(panics.len(), 1, "{panics:?}");
    assert!(panics[0].ends_with("boom"), "{panics:?}");
}
