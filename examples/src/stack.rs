//! Everything an example needs on 127.0.0.1: an S3 endpoint over a temporary folder, an OpenFaaS
//! gateway with its queue workers in front of functions served watchdog-style, a Lambda Invoke API
//! server, and a Legion engine wired to them through the same connectors `legion run` and
//! `legion serve` use.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{bail, ensure, Context};
use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::parse::{parse_str, ParseOptions};
use legion_connectors::config::{GatewayConfig, LambdaConfig, LimitConfig};
use legion_connectors::s3::LocalS3;
use legion_connectors::{Config, Router};
use legion_engine::{Engine, Execution, Outcome, StartRequest, TaskTokens};
use legion_testkit::lambda::LambdaServer;
use legion_testkit::openfaas::{FunctionHandler, Gateway, GatewayConfig as FaasConfig, GatewayStats};
use legion_testkit::watchdog::Watchdog;
use serde_json::Value;

/// The account and region the examples run in.
pub const ACCOUNT: &str = "123456789012";
/// The region.
pub const REGION: &str = "us-east-1";

/// How to set the stack up.
#[derive(Debug, Default)]
pub struct Options {
    /// Per-target limits, as in the `limits` section of a configuration file.
    pub limits: Vec<LimitConfig>,
    /// How many queue workers take the gateway's asynchronous calls (default 4).
    pub queue_workers: Option<usize>,
}

impl Stack {
    /// Starts everything with default options on the current runtime.
    pub async fn start() -> anyhow::Result<Stack> {
        Stack::start_with(Options::default()).await
    }

    /// Starts everything on the current runtime.
    pub async fn start_with(options: Options) -> anyhow::Result<Stack> {
        let dir = tempfile::tempdir().context("creating the S3 folder")?;
        let s3 = LocalS3::start(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("starting the embedded S3 endpoint")?;
        let mut faas = FaasConfig::default();
        if let Some(n) = options.queue_workers {
            faas.queue_workers = n;
        }
        let gateway = Gateway::start(faas).await.context("starting the OpenFaaS gateway")?;
        let lambda = LambdaServer::start(ACCOUNT, REGION).await.context("starting the Lambda server")?;

        let mut config = Config {
            lambda: LambdaConfig { endpoint: Some(lambda.url()), region: Some(REGION.to_owned()) },
            limits: options.limits,
            ..Config::default()
        };
        config
            .openfaas
            .gateways
            .insert("default".to_owned(), GatewayConfig { url: gateway.url(), username: None, password: None });
        let tokens = TaskTokens::new();
        let router = Router::builder(config, tokens.clone())
            .region(REGION)
            .build()
            .await
            .context("setting up the task targets")?;
        let engine = Engine::builder()
            .account(ACCOUNT, REGION)
            .time_scale(1.0)
            .s3(Arc::new(s3.connector()))
            .task_tokens(tokens)
            .dispatcher(Arc::new(router))
            .build();
        Ok(Stack {
            client: s3.connector().client().clone(),
            engine,
            gateway,
            lambda,
            watchdogs: Mutex::new(Vec::new()),
            _s3: s3,
            _dir: dir,
        })
    }
}

/// The running pieces; dropping it stops them and removes the S3 folder.
pub struct Stack {
    /// An AWS SDK S3 client for the embedded endpoint, to load inputs and read results.
    pub client: aws_sdk_s3::Client,
    /// The engine.
    pub engine: Engine,
    /// The OpenFaaS gateway.
    pub gateway: Gateway,
    /// The Lambda Invoke API server.
    pub lambda: LambdaServer,
    watchdogs: Mutex<Vec<Watchdog>>,
    _s3: LocalS3,
    _dir: tempfile::TempDir,
}

impl Stack {
    /// Serves OpenFaaS function `name` with its own watchdog and deploys it on the gateway.
    pub async fn deploy(&self, name: &str, function: FunctionHandler) -> anyhow::Result<()> {
        let watchdog = Watchdog::start(function).await.with_context(|| format!("starting function {name}"))?;
        self.gateway.deploy_service(name, &watchdog.url());
        self.watchdogs.lock().unwrap_or_else(|e| e.into_inner()).push(watchdog);
        Ok(())
    }

    /// The gateway's counters once `callbacks` callbacks have been posted (or after a second): the
    /// queue worker counts a callback when Legion has answered it, which can be just after the
    /// execution it completed has ended.
    pub async fn gateway_stats_after(&self, callbacks: u64) -> GatewayStats {
        for _ in 0..50 {
            let stats = self.gateway.stats();
            if stats.callbacks_delivered + stats.callbacks_failed >= callbacks {
                return stats;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.gateway.stats()
    }

    /// Validates `definition` and runs it on `input` as a Standard execution named `name`.
    pub async fn run(&self, name: &str, definition: &str, input: Value) -> anyhow::Result<(Execution, Outcome)> {
        let machine = match parse_str(definition, ParseOptions::default()) {
            Ok(m) => m,
            Err(diags) => bail!("{}", invalid_definition_message(&diags)),
        };
        Ok(self.engine.run(StartRequest::new(Arc::new(machine), name, input)).await?)
    }

    /// Creates `bucket` (if it does not exist yet).
    pub async fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        if self.client.head_bucket().bucket(bucket).send().await.is_ok() {
            return Ok(());
        }
        self.client.create_bucket().bucket(bucket).send().await.with_context(|| format!("creating bucket {bucket}"))?;
        Ok(())
    }

    /// Puts an object.
    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into().into())
            .send()
            .await
            .with_context(|| format!("putting s3://{bucket}/{key}"))?;
        Ok(())
    }

    /// Writes objects straight into the endpoint's folder, where each sub-folder is a bucket (the
    /// layout `legion run --s3-root DIR` serves): much faster than thousands of PutObject calls,
    /// which take many seconds in a debug build. The bucket must exist.
    pub fn write_objects(&self, bucket: &str, objects: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
        let root = self._dir.path().join(bucket);
        ensure!(root.is_dir(), "there is no bucket {bucket}");
        if let Some((key, _)) = objects.iter().find(|(key, _)| key.split('/').any(|p| p.is_empty() || p == "..")) {
            bail!("cannot write key {key:?}");
        }
        for (key, body) in objects {
            let path = root.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating the folder of {key}"))?;
            }
            std::fs::write(&path, body).with_context(|| format!("writing s3://{bucket}/{key}"))?;
        }
        Ok(())
    }

    /// Reads an object holding JSON.
    pub async fn get_json(&self, bucket: &str, key: &str) -> anyhow::Result<Value> {
        read_json(&self.client, bucket, key).await
    }
}

/// Reads an object holding JSON with `client` (for functions that hold a client of their own).
pub async fn read_json(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<Value> {
    let object = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?;
    let body = object.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?;
    serde_json::from_slice(&body.into_bytes()).with_context(|| format!("s3://{bucket}/{key} is not JSON"))
}

/// Fails with the execution's error and cause unless it succeeded; returns its output.
pub fn succeeded(outcome: &Outcome) -> anyhow::Result<&Value> {
    match (&outcome.output, outcome.status) {
        (Some(output), legion_engine::ExecutionStatus::Succeeded) => Ok(output),
        _ => bail!(
            "the execution ended {}: {} {}",
            outcome.status.as_str(),
            outcome.error.as_deref().unwrap_or(""),
            outcome.cause.as_deref().unwrap_or("")
        ),
    }
}
