//! Divide and conquer by bins: the primes below 1,000,000 counted in 100 bins of 10,000 numbers,
//! the bins split into ranges by the state machine, one OpenFaaS call per range, the counts combined.

use anyhow::{ensure, Context};
use legion_testkit::openfaas::{handler, FunctionCall, FunctionReply};
use serde_json::{json, Value};

use crate::stack::{succeeded, Stack};

const DEFINITION: &str = include_str!("definition.asl.json");
const BINS: u64 = 100;
const BIN_WIDTH: u64 = 10_000;
/// How many primes there are below `BINS` × `BIN_WIDTH` = 1,000,000.
const PRIMES_BELOW_A_MILLION: u64 = 78_498;
/// The numbers of workers the example runs with, the first one printed in full.
const RUNS: [u64; 5] = [8, 3, 7, 100, 1];
/// The function refuses ranges reaching beyond this number.
const LARGEST_NUMBER: u64 = 100_000_000;

/// Runs the example: splits the bins among 8 workers and prints the result, then checks other even,
/// uneven and extreme splits and that bad input is refused.
pub async fn run() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.deploy("count-primes", handler(|call: FunctionCall| async move { count_primes(&call.body) })).await?;
    let expected = primes_per_bin(BINS, BIN_WIDTH);
    ensure!(expected.iter().sum::<u64>() == PRIMES_BELOW_A_MILLION, "the direct count is not {PRIMES_BELOW_A_MILLION}");

    for (i, workers) in RUNS.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let output = count(&stack, workers).await?;
        let elapsed = started.elapsed();
        if i == 0 {
            println!("{}", summary(&output));
        }
        check(&output, workers, &expected)?;
        let sizes: Vec<String> = ranges(&output)?.iter().map(|r| (r.end - r.start).to_string()).collect();
        println!(
            "workers = {workers:>3}: {} primes below {}, bins per range {} ({elapsed:.2?})",
            output["primes"],
            output["below"],
            abbreviate(&sizes)
        );
    }
    let calls = stack.gateway.stats().sync_calls;
    ensure!(calls == RUNS.iter().sum::<u64>(), "the gateway passed on {calls} calls, not one per range");
    println!("every bin of every run is the count computed directly; {calls} calls to count-primes in all");

    let (_, outcome) = stack.run("bins-0", DEFINITION, input(0)).await?;
    ensure!(outcome.error.as_deref() == Some("BadInput"), "0 workers ended {:?}, not in BadInput", outcome.error);
    println!("workers =   0: {} ({})", outcome.error.as_deref().unwrap_or(""), outcome.cause.as_deref().unwrap_or(""));
    Ok(())
}

fn input(workers: u64) -> Value {
    json!({"bins": BINS, "binWidth": BIN_WIDTH, "workers": workers})
}

/// Runs the state machine with `workers` ranges and returns its output.
async fn count(stack: &Stack, workers: u64) -> anyhow::Result<Value> {
    let (_, outcome) = stack.run(&format!("bins-{workers}"), DEFINITION, input(workers)).await?;
    succeeded(&outcome).cloned().with_context(|| format!("with {workers} workers"))
}

/// The output, but the per-bin counts on a line of their own.
fn summary(output: &Value) -> String {
    let mut shown = output.clone();
    if let Some(fields) = shown.as_object_mut() {
        fields.remove("perBin");
    }
    let pretty = serde_json::to_string_pretty(&shown).unwrap_or_default();
    format!("{pretty}\nperBin: {}", output["perBin"])
}

/// Checks the output of a run with `workers` ranges: the total, every bin, and that the ranges
/// cover the bins in order with sizes that differ by one at most.
fn check(output: &Value, workers: u64, expected: &[u64]) -> anyhow::Result<()> {
    ensure!(output["primes"] == PRIMES_BELOW_A_MILLION, "{workers} workers found {} primes", output["primes"]);
    let per_bin: Vec<u64> = serde_json::from_value(output["perBin"].clone()).context("perBin")?;
    ensure!(per_bin == expected, "{workers} workers: the per-bin counts differ from the direct count");
    let ranges = ranges(output)?;
    ensure!(ranges.len() as u64 == workers, "{workers} workers made {} ranges", ranges.len());
    let mut next = 0;
    for range in &ranges {
        ensure!(range.start == next, "{workers} workers: a range starts at bin {}, not {next}", range.start);
        next = range.end;
    }
    ensure!(next == BINS, "{workers} workers: the ranges end at bin {next}, not {BINS}");
    let sizes = ranges.iter().map(|r| r.end - r.start);
    let (smallest, largest) = (sizes.clone().min().unwrap_or(0), sizes.max().unwrap_or(0));
    ensure!(largest - smallest <= 1, "{workers} workers: ranges of {smallest} to {largest} bins");
    Ok(())
}

/// The bins of each range, from the output's `"from–to"` labels (both ends included).
fn ranges(output: &Value) -> anyhow::Result<Vec<std::ops::Range<u64>>> {
    let list = output["ranges"].as_array().context("no ranges")?;
    list.iter()
        .map(|r| {
            let label = r["bins"].as_str().context("a range without bins")?;
            let (from, to) = label.split_once('–').with_context(|| format!("range {label:?}"))?;
            Ok(from.parse()?..to.parse::<u64>()? + 1)
        })
        .collect()
}

fn abbreviate(items: &[String]) -> String {
    if items.len() <= 10 {
        return items.join(", ");
    }
    format!("{}, … ({} ranges)", items[..4].join(", "), items.len())
}

/// The `count-primes` function: `{"from_bin", "to_bin", "bin_width"}` in, the number of primes in
/// each bin `b` (the numbers from `b × bin_width` up to, not including, `(b + 1) × bin_width`) for
/// `from_bin <= b < to_bin` out. A request it cannot serve is a 400.
fn count_primes(body: &[u8]) -> FunctionReply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return FunctionReply::text(400, "the body is not JSON\n");
    };
    let field = |name: &str| request[name].as_u64();
    let (Some(from), Some(to), Some(width)) = (field("from_bin"), field("to_bin"), field("bin_width")) else {
        return FunctionReply::text(400, "from_bin, to_bin and bin_width must be whole numbers\n");
    };
    if from >= to || width == 0 || to.checked_mul(width).is_none_or(|end| end > LARGEST_NUMBER) {
        return FunctionReply::text(400, &format!("cannot count bins {from}..{to} of width {width}\n"));
    }
    let counts = count_range(from * width, to * width, width);
    FunctionReply::json(&json!({"from_bin": from, "to_bin": to, "counts": counts}))
}

/// The primes in `start..end`, counted in bins of `width` from `start`: a segmented sieve of
/// Eratosthenes, crossing out the multiples of the primes up to √end.
fn count_range(start: u64, end: u64, width: u64) -> Vec<u64> {
    let root = end.isqrt();
    let small = sieve(root + 1);
    let mut composite = vec![false; (end - start) as usize];
    for p in (2..=root).filter(|&p| small[p as usize]) {
        let first = (p * p).max(start.div_ceil(p) * p);
        for multiple in (first..end).step_by(p as usize) {
            composite[(multiple - start) as usize] = true;
        }
    }
    let mut counts = vec![0; (end - start).div_ceil(width) as usize];
    for n in (start.max(2)..end).filter(|&n| !composite[(n - start) as usize]) {
        counts[((n - start) / width) as usize] += 1;
    }
    counts
}

/// Whether each number below `limit` is prime.
fn sieve(limit: u64) -> Vec<bool> {
    let mut prime = vec![true; limit as usize];
    for n in 0..limit.min(2) {
        prime[n as usize] = false;
    }
    let mut p = 2;
    while p * p < limit {
        if prime[p as usize] {
            for multiple in (p * p..limit).step_by(p as usize) {
                prime[multiple as usize] = false;
            }
        }
        p += 1;
    }
    prime
}

/// The primes in each of `bins` bins of `width`, from one plain sieve: what the workflow must find.
fn primes_per_bin(bins: u64, width: u64) -> Vec<u64> {
    let mut counts = vec![0; bins as usize];
    for (n, _) in sieve(bins * width).iter().enumerate().filter(|(_, &prime)| prime) {
        counts[n / width as usize] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_agree_with_the_plain_sieve() {
        assert_eq!(count_range(0, 100, 10), [4, 4, 2, 2, 3, 2, 2, 3, 2, 1]);
        assert_eq!(count_range(90, 130, 10), primes_per_bin(13, 10)[9..]);
        assert_eq!(count_range(0, 1, 1), [0]);
    }

    #[test]
    fn bad_requests_are_refused() {
        for body in
            [&b"nope"[..], br#"{"from_bin": 3, "to_bin": 3, "bin_width": 10}"#, br#"{"from_bin": 0, "to_bin": 1}"#]
        {
            assert_eq!(count_primes(body).status, 400, "{}", String::from_utf8_lossy(body));
        }
        let huge = json!({"from_bin": 0, "to_bin": u64::MAX, "bin_width": 2}).to_string();
        assert_eq!(count_primes(huge.as_bytes()).status, 400);
    }
}
