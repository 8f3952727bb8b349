//! Map over chunks with Lambda: sensor readings split into chunks, one synchronous Lambda call per
//! chunk, the cleaned chunks concatenated in order; then the same workflow with a chunk so large that
//! the function's answer exceeds Step Functions' 256 KiB payload limit.

use anyhow::{bail, ensure, Context};
use legion_engine::{ExecutionStatus, Outcome};
use legion_testkit::lambda::{handler, Raised};
use serde_json::{json, Value};

use crate::stack::{succeeded, Stack};

const DEFINITION: &str = include_str!("definition.asl.json");
const FUNCTION: &str = "clean-readings";
const READINGS: usize = 3000;
const CHUNK: usize = 500;
/// Step Functions' limit on a state's input, output and a task's result.
const LIMIT: usize = 256 * 1024;
/// What Step Functions reports when a Lambda invoke's result is over the limit.
const TOO_LARGE: &str =
    "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit.";

/// Runs the example: a run in chunks of `CHUNK` checked against a direct computation, then a run in
/// one chunk that must fail with `States.DataLimitExceeded`.
pub async fn run() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.lambda.add(FUNCTION, handler(clean_chunk));
    let readings = sensor_readings(READINGS);
    let input_bytes = json!({"readings": readings, "chunkSize": CHUNK}).to_string().len();
    println!("{READINGS} readings ({} KiB of input) in chunks of {CHUNK}", input_bytes / 1024);

    let (execution, outcome) =
        stack.run("clean-in-chunks", DEFINITION, json!({"readings": readings, "chunkSize": CHUNK})).await?;
    let output = succeeded(&outcome)?;
    check_against_direct(output, &readings)?;
    let calls = invocations(&stack);
    ensure!(calls == READINGS.div_ceil(CHUNK), "{calls} Lambda invocations, expected one per chunk");
    println!(
        "{}: {calls} invocations of {FUNCTION}, {} readings kept, {} dropped, {} KiB of output",
        execution.arn(),
        output["readings"].as_array().map_or(0, Vec::len),
        output["dropped"],
        output.to_string().len() / 1024
    );
    println!("first readings: {}", json!(output["readings"].as_array().map(|r| &r[..3])));
    println!("the concatenated chunks equal the readings cleaned in one pass");

    let whole = clean_chunk(&json!({"readings": readings})).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!(
        "\nchunkSize {READINGS}: one invocation whose answer is {} KiB (the limit is {} KiB)",
        whole.to_string().len() / 1024,
        LIMIT / 1024
    );
    let (execution, outcome) =
        stack.run("clean-in-one-chunk", DEFINITION, json!({"readings": readings, "chunkSize": READINGS})).await?;
    expect_too_large(&outcome)?;
    println!(
        "{}: {} {}\n  {}",
        execution.arn(),
        outcome.status.as_str(),
        outcome.error.as_deref().unwrap_or_default(),
        outcome.cause.as_deref().unwrap_or_default()
    );
    Ok(())
}

/// The output holds every reading that survives cleaning, in the input's order, as cleaning them all
/// at once gives.
fn check_against_direct(output: &Value, readings: &[Value]) -> anyhow::Result<()> {
    let expected: Vec<Value> = readings.iter().filter_map(|r| clean(r).ok()).collect();
    let got = output["readings"].as_array().context("the output has no readings array")?;
    ensure!(got.len() == expected.len(), "{} readings came back, expected {}", got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        ensure!(same_reading(g, e), "reading {i} is {g}, expected {e}");
    }
    let dropped = (readings.len() - expected.len()) as u64;
    ensure!(output["dropped"].as_u64() == Some(dropped), "dropped is {}, expected {dropped}", output["dropped"]);
    let chunks = readings.len().div_ceil(CHUNK) as u64;
    ensure!(output["chunks"].as_u64() == Some(chunks), "chunks is {}, expected {chunks}", output["chunks"]);
    Ok(())
}

/// Two cleaned readings are the same (numbers compared as numbers: 21 and 21.0 are equal).
fn same_reading(a: &Value, b: &Value) -> bool {
    a["sensor"] == b["sensor"]
        && a["t"].as_f64() == b["t"].as_f64()
        && a["celsius"].as_f64().is_some()
        && a["celsius"].as_f64() == b["celsius"].as_f64()
}

/// The run in one chunk failed with Step Functions' error and cause for a Lambda result over the limit.
fn expect_too_large(outcome: &Outcome) -> anyhow::Result<()> {
    if outcome.status != ExecutionStatus::Failed {
        bail!("the run in one chunk ended {}, not FAILED", outcome.status.as_str());
    }
    ensure!(
        outcome.error.as_deref() == Some("States.DataLimitExceeded"),
        "the run in one chunk failed with {:?}, not States.DataLimitExceeded",
        outcome.error
    );
    ensure!(outcome.cause.as_deref() == Some(TOO_LARGE), "unexpected cause {:?}", outcome.cause);
    Ok(())
}

/// How many times `clean-readings` was invoked so far.
fn invocations(stack: &Stack) -> usize {
    stack.lambda.invocations().iter().filter(|i| i.function == FUNCTION).count()
}

/// `n` readings from 40 sensors, one a minute each; every tenth sensor reports Fahrenheit, and a few
/// readings are sensor faults (-999), missing (null) or implausible.
fn sensor_readings(n: usize) -> Vec<Value> {
    let mut seed: u64 = 0x5eed;
    (0..n)
        .map(|i| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let sensor = i % 40;
            let t = 1_763_798_400 + (i / 40) as u64 * 60;
            let noise = (seed >> 33) as f64 / f64::from(1u32 << 31) * 4.0 - 2.0;
            let celsius = 18.0 + (sensor % 7) as f64 + noise;
            let (value, unit) = if sensor % 10 == 3 { (celsius * 9.0 / 5.0 + 32.0, "F") } else { (celsius, "C") };
            let value = match i {
                i if i % 97 == 0 => json!(-999),
                i if i % 211 == 0 => Value::Null,
                i if i % 433 == 0 => json!(412.5),
                _ => json!(round2(value)),
            };
            json!({"sensor": format!("s-{sensor:02}"), "t": t, "value": value, "unit": unit})
        })
        .collect()
}

/// The `clean-readings` function: `{"readings": [...]}` in; the cleaned readings, the dropped ones
/// with their reason, and a note per reading out.
fn clean_chunk(event: &Value) -> Result<Value, Raised> {
    let readings =
        event["readings"].as_array().ok_or_else(|| Raised::new("ValueError", "the event has no 'readings' array"))?;
    let (mut kept, mut dropped, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for reading in readings {
        let at = format!("{}@{}", reading["sensor"].as_str().unwrap_or("?"), reading["t"]);
        match clean(reading) {
            Ok(c) => {
                notes.push(format!("{at}: {} {} -> {} C", reading["value"], reading["unit"], c["celsius"]));
                kept.push(c);
            }
            Err(reason) => {
                notes.push(format!("{at}: dropped ({reason})"));
                dropped.push(json!({"reading": reading, "reason": reason}));
            }
        }
    }
    Ok(json!({"readings": kept, "dropped": dropped, "notes": notes}))
}

/// One reading in Celsius, rounded to hundredths, or why it is dropped.
fn clean(reading: &Value) -> Result<Value, &'static str> {
    let value = reading["value"].as_f64().ok_or("no value")?;
    if value == -999.0 {
        return Err("sensor fault");
    }
    let celsius = match reading["unit"].as_str() {
        Some("C") => value,
        Some("F") => (value - 32.0) * 5.0 / 9.0,
        _ => return Err("unknown unit"),
    };
    if !(-40.0..=85.0).contains(&celsius) {
        return Err("out of the sensor's range");
    }
    Ok(json!({"sensor": reading["sensor"], "t": reading["t"], "celsius": round2(celsius)}))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
