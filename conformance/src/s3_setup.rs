//! S3 for the `s3` cases: an S3-compatible endpoint with each case's buckets and objects loaded.
//!
//! With `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` set, the cases use that server (with the
//! standard credential chain); otherwise Legion's embedded endpoint is started over a fresh folder.
//! Cases that touch S3 share bucket names, so they run one at a time.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use legion_connectors::s3::{AwsS3, LocalS3, S3Tasks, ENDPOINT_VARIABLES};
use legion_engine::{Engine, StartRequest};
use tokio::sync::{Mutex, OnceCell};

use crate::case::{Resources, ACCOUNT_ID, REGION};
use crate::runner::Actual;

/// The endpoint and the lock that serialises cases.
pub struct S3Setup {
    s3: AwsS3,
    /// The embedded endpoint, when no external one is configured.
    _local: Option<LocalS3>,
    lock: Mutex<()>,
}

static SETUP: OnceCell<Result<Arc<S3Setup>, String>> = OnceCell::const_new();

impl S3Setup {
    /// The process-wide setup, created on first use.
    pub async fn shared() -> Result<Arc<S3Setup>, String> {
        SETUP.get_or_init(|| async { S3Setup::connect().await.map(Arc::new) }).await.clone()
    }

    async fn connect() -> Result<S3Setup, String> {
        let external = ENDPOINT_VARIABLES.iter().any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        if external {
            return Ok(S3Setup { s3: AwsS3::from_env().await, _local: None, lock: Mutex::new(()) });
        }
        let root = std::env::temp_dir().join(format!("legion-conformance-s3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let local = LocalS3::start(&root, SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(|e| e.to_string())?;
        Ok(S3Setup { s3: local.connector(), _local: Some(local), lock: Mutex::new(()) })
    }

    /// Creates the case's buckets, empties them, and puts its objects.
    async fn load(&self, resources: &Resources) -> Result<(), String> {
        let client = self.s3.client();
        let mut buckets: Vec<&str> = resources.s3_buckets.iter().map(String::as_str).collect();
        buckets.extend(resources.s3_objects.iter().map(|o| o.bucket.as_str()));
        buckets.sort_unstable();
        buckets.dedup();
        for bucket in buckets {
            if client.head_bucket().bucket(bucket).send().await.is_err() {
                client
                    .create_bucket()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(|e| format!("create bucket {bucket}: {e}"))?;
                // AWS gives every bucket SSE-S3 default encryption; servers that model it follow suit.
                let rule = ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(ServerSideEncryption::Aes256)
                            .build()
                            .map_err(|e| e.to_string())?,
                    )
                    .build();
                let config =
                    ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| e.to_string())?;
                let _ = client
                    .put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(config)
                    .send()
                    .await;
            }
            let listed =
                client.list_objects_v2().bucket(bucket).send().await.map_err(|e| format!("list {bucket}: {e}"))?;
            for o in listed.contents() {
                if let Some(key) = o.key() {
                    client
                        .delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await
                        .map_err(|e| format!("delete {key}: {e}"))?;
                }
            }
        }
        for o in &resources.s3_objects {
            client
                .put_object()
                .bucket(&o.bucket)
                .key(&o.key)
                .body(o.body.clone().into_bytes().into())
                .send()
                .await
                .map_err(|e| format!("put {}/{}: {e}", o.bucket, o.key))?;
        }
        Ok(())
    }

    /// Loads the resources, then runs the execution with S3 item readers, result writers and the
    /// `aws-sdk:s3` integration.
    pub async fn run(&self, resources: &Resources, request: StartRequest) -> Actual {
        let _one_at_a_time = self.lock.lock().await;
        if let Err(e) = self.load(resources).await {
            return Actual::Skipped(format!("the S3 endpoint is not usable: {e}"));
        }
        let engine = Engine::builder()
            .account(ACCOUNT_ID, REGION)
            .time_scale(1.0)
            .dispatcher(Arc::new(S3Tasks::new(self.s3.clone())))
            .s3(Arc::new(self.s3.clone()))
            .build();
        let (execution, outcome) = engine.run(request).await.expect("the execution starts");
        crate::engine_runner::actual(&execution, outcome)
    }
}
