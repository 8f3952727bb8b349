//! Batch processing of a bucket listing: a Distributed Map lists thousands of images in S3, sends
//! them in batches of 100 to a Lambda function whose reserved concurrency is low, retries the
//! throttled calls with jittered back-off, and writes every batch's result to S3.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use legion_testkit::lambda::{handler, Behaviour, Raised};
use serde_json::{json, Value};

use crate::stack::{succeeded, Stack};

const DEFINITION: &str = include_str!("definition.asl.json");
const FUNCTION: &str = "make-thumbnails";
const BUCKET: &str = "media";
const PREFIX: &str = "photos/";
const THUMBNAILS: &str = "thumbnails/";
const IMAGES: usize = 5000;
const BATCH: usize = 100;
/// The function's reserved concurrency: more invocations at once are throttled.
const RESERVED: usize = 5;
/// How long the function takes per batch.
const WORK: Duration = Duration::from_millis(200);

/// What the function saw: how often it ran and how often it was given each key.
#[derive(Default)]
struct Seen {
    runs: AtomicUsize,
    keys: Mutex<HashMap<String, usize>>,
}

/// Runs the example: stores the images, runs the map, and checks that every image was processed
/// exactly once, that Lambda throttled and the calls were retried, and that the result files hold
/// every batch.
pub async fn run() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let seen = Arc::new(Seen::default());
    stack.lambda.add(FUNCTION, thumbnail_function(seen.clone()));
    upload_images(&stack).await?;

    let started = Instant::now();
    let input = json!({"bucket": BUCKET, "prefix": PREFIX, "thumbnailPrefix": THUMBNAILS});
    let (execution, outcome) = stack.run("bucket-batches", DEFINITION, input).await?;
    let elapsed = started.elapsed();
    let output = succeeded(&outcome)?;
    println!(
        "{}: {} in {elapsed:.2?}, {:.0} images/s",
        execution.arn(),
        outcome.status.as_str(),
        IMAGES as f64 / elapsed.as_secs_f64()
    );

    check_each_image_once(&seen)?;
    let runs = seen.runs.load(Ordering::SeqCst);
    let invocations = stack.lambda.invocations().iter().filter(|i| i.function == FUNCTION).count();
    let throttled = invocations.saturating_sub(runs);
    ensure!(runs == IMAGES / BATCH, "the function ran {runs} times, expected once per batch ({})", IMAGES / BATCH);
    ensure!(throttled > 0, "Lambda never throttled: {invocations} invocations, {runs} runs");
    println!(
        "{FUNCTION}: {invocations} invocations, {runs} ran, {throttled} throttled (429 TooManyRequestsException) and retried"
    );
    println!("every image was processed exactly once");
    check_result_files(&stack, output).await?;
    Ok(())
}

/// `make-thumbnails` as Lambda runs it: at most `RESERVED` at once, `WORK` per batch.
fn thumbnail_function(seen: Arc<Seen>) -> Behaviour {
    let code = handler(move |event| make_thumbnails(event, &seen));
    Behaviour::ReservedConcurrency(RESERVED, Box::new(Behaviour::Sleep(WORK, Box::new(code))))
}

/// Stores `IMAGES` objects of varied sizes under `PREFIX`.
async fn upload_images(stack: &Stack) -> anyhow::Result<()> {
    stack.create_bucket(BUCKET).await?;
    let images: Vec<(String, Vec<u8>)> = (0..IMAGES).map(image).collect();
    let bytes: usize = images.iter().map(|(_, body)| body.len()).sum();
    let started = Instant::now();
    stack.write_objects(BUCKET, &images)?;
    println!(
        "stored {IMAGES} images ({:.1} MiB) under s3://{BUCKET}/{PREFIX} in {:.2?}",
        bytes as f64 / (1024.0 * 1024.0),
        started.elapsed()
    );
    println!("{FUNCTION}: reserved concurrency {RESERVED}, {WORK:?} per batch of {BATCH}");
    Ok(())
}

/// Image `i`: its key and a body of 200 to 2,000 bytes starting with a JPEG marker.
fn image(i: usize) -> (String, Vec<u8>) {
    let key = format!("{PREFIX}2026/11/{:02}/IMG_{i:05}.jpg", 1 + i % 22);
    let size = 200 + (i * 7919) % 1800;
    let mut body = vec![0xFF, 0xD8, 0xFF, 0xE0];
    body.extend((0..size.saturating_sub(4)).map(|b| (b * 31 + i) as u8));
    (key, body)
}

/// The `make-thumbnails` function: a batch (`Items` from the listing, `BatchInput`) in; the
/// thumbnail key and size of each image out. A batch it cannot read is a `ValueError`.
fn make_thumbnails(event: &Value, seen: &Seen) -> Result<Value, Raised> {
    let items = event["Items"].as_array().ok_or_else(|| Raised::new("ValueError", "the event has no Items"))?;
    let prefix = event["BatchInput"]["thumbnailPrefix"]
        .as_str()
        .ok_or_else(|| Raised::new("ValueError", "the event has no BatchInput.thumbnailPrefix"))?;
    let mut thumbnails = Vec::with_capacity(items.len());
    let mut total = 0;
    for item in items {
        let (Some(key), Some(size)) = (item["Key"].as_str(), item["Size"].as_u64()) else {
            return Err(Raised::new("ValueError", format!("an item without Key or Size: {item}")));
        };
        let bytes = size.min(1500 + size / 25);
        total += bytes;
        thumbnails.push(json!({"key": format!("{prefix}{}", key.strip_prefix(PREFIX).unwrap_or(key)), "bytes": bytes}));
    }
    seen.runs.fetch_add(1, Ordering::SeqCst);
    let mut keys = seen.keys.lock().unwrap_or_else(|e| e.into_inner());
    for item in items {
        *keys.entry(item["Key"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    Ok(json!({"images": items.len(), "thumbnailBytes": total, "thumbnails": thumbnails}))
}

/// The function was given every uploaded key, and each exactly once.
fn check_each_image_once(seen: &Seen) -> anyhow::Result<()> {
    let keys = seen.keys.lock().unwrap_or_else(|e| e.into_inner());
    let expected: BTreeSet<String> = (0..IMAGES).map(|i| image(i).0).collect();
    let missing = expected.iter().filter(|k| !keys.contains_key(*k)).count();
    ensure!(missing == 0, "{missing} images were never processed");
    ensure!(keys.len() == IMAGES, "the function saw {} keys, {IMAGES} were uploaded", keys.len());
    let twice: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k.as_str()).take(3).collect();
    ensure!(twice.is_empty(), "images processed more than once, e.g. {twice:?}");
    Ok(())
}

/// The map run's manifest lists result files holding one succeeded record per batch, and the
/// batches' thumbnails cover every image once.
async fn check_result_files(stack: &Stack, output: &Value) -> anyhow::Result<()> {
    let details = &output["ResultWriterDetails"];
    let bucket = details["Bucket"].as_str().context("the output names no result bucket")?;
    let key = details["Key"].as_str().context("the output names no manifest")?;
    let manifest = stack.get_json(bucket, key).await?;
    for kind in ["FAILED", "PENDING"] {
        let files = manifest["ResultFiles"][kind].as_array().map_or(0, Vec::len);
        ensure!(files == 0, "the manifest lists {files} {kind} result files");
    }
    let (mut batches, mut thumbnails) = (0, BTreeSet::new());
    let files = manifest["ResultFiles"]["SUCCEEDED"].as_array().context("the manifest lists no SUCCEEDED files")?;
    for file in files {
        let file_key = file["Key"].as_str().context("a result file without a Key")?;
        let records = stack.get_json(bucket, file_key).await?;
        for record in records.as_array().context("a result file that is not an array")? {
            let result: Value = serde_json::from_str(record["Output"].as_str().context("a record without Output")?)?;
            batches += 1;
            for t in result["thumbnails"].as_array().context("a batch result without thumbnails")? {
                let thumbnail = t["key"].as_str().context("a thumbnail without a key")?;
                ensure!(thumbnail.starts_with(THUMBNAILS), "thumbnail {thumbnail} is not under {THUMBNAILS}");
                ensure!(thumbnails.insert(thumbnail.to_owned()), "thumbnail {thumbnail} is in two batches");
            }
        }
    }
    ensure!(batches == IMAGES / BATCH, "the result files hold {batches} batches, expected {}", IMAGES / BATCH);
    ensure!(thumbnails.len() == IMAGES, "the result files hold {} thumbnails, expected {IMAGES}", thumbnails.len());
    println!(
        "s3://{bucket}/{key}: {} result file(s) with {batches} batches and {} thumbnails",
        files.len(),
        thumbnails.len()
    );
    Ok(())
}
