//! Fan-out / fan-in over a CSV file in S3: one asynchronous OpenFaaS call per row, the results
//! collected by the map run's ResultWriter, one summary object written back to S3.

use anyhow::{ensure, Context};
use legion_testkit::openfaas::{handler, FunctionCall, FunctionReply};
use serde_json::{json, Value};

use crate::stack::{read_json, succeeded, Stack};

const DEFINITION: &str = include_str!("definition.asl.json");
const BUCKET: &str = "orders";
const KEY: &str = "incoming/orders.csv";
const ROWS: usize = 1000;

/// Runs the example: prints the summary and checks that every row is accounted for.
pub async fn run() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.deploy("score-order", handler(|call: FunctionCall| async move { score_order(&call.body) })).await?;
    let s3 = stack.client.clone();
    stack
        .deploy(
            "summarise-scores",
            handler(move |call: FunctionCall| {
                let s3 = s3.clone();
                async move {
                    match summarise(&s3, &call.body).await {
                        Ok(summary) => FunctionReply::json(&summary),
                        Err(e) => FunctionReply::text(500, &format!("{e:#}\n")),
                    }
                }
            }),
        )
        .await?;

    stack.create_bucket(BUCKET).await?;
    let (csv, malformed) = orders_csv(ROWS);
    stack.put(BUCKET, KEY, csv).await?;
    println!("s3://{BUCKET}/{KEY}: {ROWS} orders, {malformed} of them malformed");

    let (execution, outcome) = stack.run("csv-fan-out", DEFINITION, json!({"bucket": BUCKET, "key": KEY})).await?;
    let summary = succeeded(&outcome)?;
    println!("{}", serde_json::to_string_pretty(summary)?);

    // Every row is accounted for: scored or failed, and the failures are exactly the malformed rows.
    let count = |name: &str| summary[name].as_u64().unwrap_or(u64::MAX);
    ensure!(count("orders") == ROWS as u64, "the summary counts {} orders, not {ROWS}", count("orders"));
    ensure!(
        count("failed") == malformed as u64,
        "{} orders failed, expected the {malformed} malformed ones",
        count("failed")
    );
    ensure!(count("scored") + count("failed") == ROWS as u64, "scored + failed is not the number of rows");
    let location = summary["summary"].as_str().context("the summary names no object")?;
    let key = location.strip_prefix(&format!("s3://{BUCKET}/")).context("the summary is in another bucket")?;
    ensure!(stack.get_json(BUCKET, key).await? == *summary, "{location} differs from the execution's output");
    let stats = stack.gateway_stats_after(ROWS as u64).await;
    ensure!(stats.callbacks_delivered >= ROWS as u64, "only {} callbacks were delivered", stats.callbacks_delivered);
    println!(
        "{}: {} rows through {} asynchronous calls, {} history events in the parent execution",
        execution.arn(),
        ROWS,
        stats.queued,
        execution.history().len()
    );
    Ok(())
}

/// `ROWS` orders with a header row; every 50th has an amount that is not a number. Returns the CSV
/// text and how many rows are malformed.
fn orders_csv(rows: usize) -> (String, usize) {
    let currencies = ["EUR", "USD", "GBP"];
    let mut csv = String::from("order_id,customer,amount,currency\n");
    let mut malformed = 0;
    for i in 1..=rows {
        let amount = if i % 50 == 0 {
            malformed += 1;
            "n/a".to_owned()
        } else {
            format!("{}.{:02}", (i * 37) % 1200, i % 100)
        };
        csv.push_str(&format!("ORD-{i:05},customer-{},{amount},{}\n", i % 97, currencies[i % 3]));
    }
    (csv, malformed)
}

/// The `score-order` function: one CSV row (as a JSON object of strings) in, a score out; a row it
/// cannot read is a 400.
fn score_order(body: &[u8]) -> FunctionReply {
    let Ok(row) = serde_json::from_slice::<Value>(body) else {
        return FunctionReply::text(400, "the body is not JSON\n");
    };
    let order = row["order_id"].as_str().unwrap_or_default();
    let Some(amount) = row["amount"].as_str().and_then(|a| a.parse::<f64>().ok()) else {
        return FunctionReply::text(400, &format!("order {order}: amount {} is not a number\n", row["amount"]));
    };
    let score = (amount / 12.0).min(100.0).round();
    let decision = if score >= 75.0 { "review" } else { "approve" };
    FunctionReply::json(&json!({"order": order, "score": score, "decision": decision}))
}

/// The `summarise-scores` function: reads the map run's manifest and result files and writes one
/// summary next to them.
async fn summarise(s3: &aws_sdk_s3::Client, body: &[u8]) -> anyhow::Result<Value> {
    let details: Value = serde_json::from_slice(body).context("the body is not JSON")?;
    let bucket = details["Bucket"].as_str().context("no Bucket")?;
    let manifest_key = details["Key"].as_str().context("no Key")?;
    let manifest = read_json(s3, bucket, manifest_key).await?;
    let (mut scored, mut failed, mut approve, mut review) = (0u64, 0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    for kind in ["SUCCEEDED", "FAILED", "PENDING"] {
        for file in manifest["ResultFiles"][kind].as_array().into_iter().flatten() {
            let key = file["Key"].as_str().context("a result file without a Key")?;
            let records = read_json(s3, bucket, key).await?;
            for record in records.as_array().context("a result file that is not an array")? {
                if kind == "SUCCEEDED" {
                    scored += 1;
                    let output: Value = serde_json::from_str(record["Output"].as_str().unwrap_or("null"))?;
                    match output["decision"].as_str() {
                        Some("review") => review += 1,
                        _ => approve += 1,
                    }
                } else {
                    failed += 1;
                    if failures.len() < 3 {
                        failures.push(json!({"error": record["Error"], "cause": record["Cause"]}));
                    }
                }
            }
        }
    }
    let summary_key = match manifest_key.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/summary.json"),
        None => "summary.json".to_owned(),
    };
    let summary = json!({
        "orders": scored + failed,
        "scored": scored,
        "failed": failed,
        "decisions": {"approve": approve, "review": review},
        "firstFailures": failures,
        "mapRun": manifest["MapRunArn"],
        "summary": format!("s3://{bucket}/{summary_key}"),
    });
    s3.put_object()
        .bucket(bucket)
        .key(&summary_key)
        .body(summary.to_string().into_bytes().into())
        .send()
        .await
        .with_context(|| format!("writing s3://{bucket}/{summary_key}"))?;
    Ok(summary)
}
